import { createRng, type Rng, type Sample, type Transform } from '@nnunet-ts/core';
import { channel, meanStd, minMax, sampleAroundOne, spatial } from './sample-util.js';

/** Parameters of {@link gaussianNoise}: noise std and the seed of the noise field (drawn in getParameters). */
export interface NoiseParams {
  sigma: number;
  seed: number;
}

/**
 * Additive Gaussian noise (bg2 `GaussianNoiseTransform`, RULES.md §17): p 0.1, one std for all channels drawn
 * uniformly from `variance` = (0, 0.1) (bg2 uses the drawn value as the standard deviation), independent noise per voxel.
 */
export function gaussianNoise(o: { p?: number; variance?: [number, number] } = {}): Transform<NoiseParams> {
  const p = o.p ?? 0.1;
  const [lo, hi] = o.variance ?? [0, 0.1];
  return {
    name: 'GaussianNoiseTransform',
    targets: ['image'],
    getParameters(_s: Sample, rng: Rng) {
      if (rng.next() >= p) return null;
      return { sigma: rng.uniform(lo, hi), seed: rng.int(0, 0x7fffffff) };
    },
    apply(sample, q) {
      const r = createRng(q.seed);
      const a = sample.image;
      for (let i = 0; i < a.length; i++) a[i]! += q.sigma * r.normal();
      return sample;
    },
  };
}

/** Per-channel factors; null entries leave a channel unchanged. */
export interface ChannelFactors {
  factors: (number | null)[];
}

/**
 * Multiplicative brightness (bg2 `MultiplicativeBrightnessTransform`, RULES.md §17; multiplicative, not additive):
 * p 0.15, each channel multiplied by its own factor from (0.75, 1.25) with `BGContrast` sampling (half the time below 1).
 */
export function multiplicativeBrightness(o: { p?: number; range?: [number, number] } = {}): Transform<ChannelFactors> {
  const p = o.p ?? 0.15;
  const [lo, hi] = o.range ?? [0.75, 1.25];
  return {
    name: 'MultiplicativeBrightnessTransform',
    targets: ['image'],
    getParameters(s, rng) {
      if (rng.next() >= p) return null;
      return { factors: Array.from({ length: s.shape[0]! }, () => sampleAroundOne(rng, lo, hi)) };
    },
    apply(sample, q) {
      q.factors.forEach((f, c) => {
        if (f === null) return;
        const a = channel(sample, c);
        for (let i = 0; i < a.length; i++) a[i]! *= f;
      });
      return sample;
    },
  };
}

/**
 * Contrast (bg2 `ContrastTransform`, RULES.md §17): p 0.15, per channel factor f from (0.75, 1.25) (`BGContrast`
 * sampling), `x <- (x - mean) * f + mean`, clipped to the channel's original [min, max] (preserve range).
 */
export function contrast(o: { p?: number; range?: [number, number] } = {}): Transform<ChannelFactors> {
  const p = o.p ?? 0.15;
  const [lo, hi] = o.range ?? [0.75, 1.25];
  return {
    name: 'ContrastTransform',
    targets: ['image'],
    getParameters(s, rng) {
      if (rng.next() >= p) return null;
      return { factors: Array.from({ length: s.shape[0]! }, () => sampleAroundOne(rng, lo, hi)) };
    },
    apply(sample, q) {
      q.factors.forEach((f, c) => {
        if (f === null) return;
        const a = channel(sample, c);
        const { mean } = meanStd(a);
        const { min, max } = minMax(a);
        for (let i = 0; i < a.length; i++) {
          const v = (a[i]! - mean) * f + mean;
          a[i] = v < min ? min : v > max ? max : v;
        }
      });
      return sample;
    },
  };
}

/**
 * Gamma (bg2 `GammaTransform`, RULES.md §17): per channel gamma from (0.7, 1.5) (`BGContrast` sampling), optional
 * inversion (`x <- -x` before and after), statistics retained: the channel is scaled to [0, 1] by its range, raised
 * to gamma, scaled back, then shifted and scaled to its original mean and std. nnU-Net uses two instances:
 * inverted with p 0.1 and plain with p 0.3.
 */
export function gamma(o: { p: number; invert: boolean; range?: [number, number] }): Transform<ChannelFactors> {
  const [lo, hi] = o.range ?? [0.7, 1.5];
  return {
    name: o.invert ? 'GammaTransformInverted' : 'GammaTransform',
    getParameters(s, rng) {
      if (rng.next() >= o.p) return null;
      return { factors: Array.from({ length: s.shape[0]! }, () => sampleAroundOne(rng, lo, hi)) };
    },
    apply(sample, q) {
      const sgn = o.invert ? -1 : 1;
      q.factors.forEach((g, c) => {
        if (g === null) return;
        const a = channel(sample, c);
        if (o.invert) for (let i = 0; i < a.length; i++) a[i] = -a[i]!;
        const before = meanStd(a);
        const { min, max } = minMax(a);
        const range = max - min;
        const r = Math.max(range, 1e-7);
        for (let i = 0; i < a.length; i++) a[i] = Math.pow((a[i]! - min) / r, g) * range + min;
        const after = meanStd(a);
        const k = before.std / Math.max(after.std, 1e-7);
        for (let i = 0; i < a.length; i++) a[i] = sgn * ((a[i]! - after.mean) * k + before.mean);
      });
      return sample;
    },
  };
}

/**
 * Set voxels outside the nonzero mask (seg < 0) to 0 in the given channels (bg2 `MaskImageTransform`), used by nnU-Net
 * for channels normalized with `use_mask_for_norm` (RULES.md §12, §17). Must run before seg -1 -> 0.
 */
export function maskImage(channels: number[]): Transform<true> {
  return {
    name: 'MaskImageTransform',
    targets: ['image'],
    getParameters: (s) => (s.seg && channels.length ? true : null),
    apply(sample) {
      const seg = sample.seg!;
      const n = seg.length;
      for (const c of channels) {
        const a = sample.image.subarray(c * n, (c + 1) * n);
        for (let i = 0; i < n; i++) if (seg[i]! < 0) a[i] = 0;
      }
      return sample;
    },
  };
}

/** Replace one seg value by another (bg2 `RemoveLabelTansform`); nnU-Net maps -1 (outside / padding) to 0 (RULES.md §17). */
export function removeLabel(from = -1, to = 0): Transform<true> {
  return {
    name: 'RemoveLabelTransform',
    targets: ['segmentation'],
    getParameters: (s) => (s.seg ? true : null),
    apply(sample) {
      const s = sample.seg!;
      for (let i = 0; i < s.length; i++) if (s[i] === from) s[i] = to;
      return sample;
    },
  };
}

/**
 * Mirror (bg2 `MirrorTransform`, RULES.md §17): each allowed axis flipped independently with p 0.5, image and seg together.
 * `axes` index the patch (`[z, y, x]`; 2D: `[y, x]`, i.e. sample axes + 1). Lateralized axes must be left out (B35).
 */
export function mirror(o: { axes: number[]; dims: 2 | 3; p?: number }): Transform<{ axes: number[] }> {
  const p = o.p ?? 0.5;
  const shift = o.dims === 2 ? 1 : 0;
  return {
    name: 'MirrorTransform',
    targets: ['image', 'segmentation', 'previousStageSegmentation'],
    getParameters(_s, rng) {
      const axes = o.axes.filter(() => rng.next() < p).map((a) => a + shift);
      return axes.length ? { axes } : null;
    },
    apply(sample, q) {
      const { c, z, y, x } = spatial(sample);
      const flipZ = q.axes.includes(0);
      const flipY = q.axes.includes(1);
      const flipX = q.axes.includes(2);
      sample.image = flip3(sample.image, c, z, y, x, flipZ, flipY, flipX) as Float32Array;
      if (sample.seg) sample.seg = flip3(sample.seg, 1, z, y, x, flipZ, flipY, flipX) as Int16Array;
      return sample;
    },
  };
}

/** Flip `[c, z, y, x]` data along any of z, y, x into a new array of the same type. */
export function flip3<T extends Float32Array | Int16Array>(a: T, C: number, Z: number, Y: number, X: number, fz: boolean, fy: boolean, fx: boolean): T {
  const out = new (a.constructor as { new (n: number): T })(a.length);
  const n = Z * Y * X;
  for (let c = 0; c < C; c++) {
    for (let z = 0; z < Z; z++) {
      const sz = fz ? Z - 1 - z : z;
      for (let yy = 0; yy < Y; yy++) {
        const sy = fy ? Y - 1 - yy : yy;
        const dst = c * n + (z * Y + yy) * X;
        const src = c * n + (sz * Y + sy) * X;
        if (fx) for (let xx = 0; xx < X; xx++) out[dst + xx] = a[src + X - 1 - xx]!;
        else out.set(a.subarray(src, src + X), dst);
      }
    }
  }
  return out;
}
