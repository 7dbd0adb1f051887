import { roundHalfEven, type Rng, type Sample, type Transform } from '@nnunet-ts/core';
import { channel, spatial } from './sample-util.js';

/** Per channel: null (skipped) or a sigma per spatial axis `[z, y, x]` in voxels. */
export interface BlurParams {
  sigmas: ([number, number, number] | null)[];
}

/** Index reflected into [0, n) without repeating the edge (`d c b | a b c d | c b a`), as torch/numpy 'reflect'. */
function reflect(i: number, n: number): number {
  if (n === 1) return 0;
  const period = 2 * (n - 1);
  let k = ((i % period) + period) % period;
  if (k >= n) k = period - k;
  return k;
}

/**
 * Normalised 1D Gaussian kernel as batchgeneratorsv2 builds it for the blur transform: size = the odd integer
 * nearest to `6 sigma + 0.5` (Python rounding, ties to even, then to the odd neighbour on the side of the value),
 * taps at integer offsets from the centre.
 */
export function gaussianKernel1d(sigma: number): Float32Array {
  const n = 6 * sigma + 0.5;
  let size = roundHalfEven(n);
  if (size % 2 === 0) size = n - size >= 0 ? size + 1 : size - 1;
  size = Math.max(1, size);
  const r = (size - 1) / 2;
  const k = new Float32Array(size);
  let s = 0;
  for (let i = -r; i <= r; i++) s += k[i + r] = Math.exp((-0.5 * i * i) / (sigma * sigma));
  for (let i = 0; i < k.length; i++) k[i]! /= s;
  return k;
}

/**
 * Convolve one channel `[Z, Y, X]` in place along `axis` (0 z, 1 y, 2 x) with a symmetric kernel, reflect border.
 * Axes of length 1 are left alone.
 */
export function convolveAxis(a: Float32Array, shape: [number, number, number], axis: number, k: Float32Array): void {
  const n = shape[axis]!;
  if (n === 1) return;
  const stride = axis === 2 ? 1 : axis === 1 ? shape[2] : shape[1] * shape[2];
  const r = (k.length - 1) / 2;
  const line = new Float32Array(n);
  const total = a.length;
  const outer = total / (n * stride);
  for (let o = 0; o < outer; o++) {
    for (let inner = 0; inner < stride; inner++) {
      const base = o * n * stride + inner;
      for (let i = 0; i < n; i++) line[i] = a[base + i * stride]!;
      for (let i = 0; i < n; i++) {
        let acc = 0;
        if (i >= r && i + r < n) for (let j = -r; j <= r; j++) acc += k[j + r]! * line[i + j]!;
        else for (let j = -r; j <= r; j++) acc += k[j + r]! * line[reflect(i + j, n)]!;
        a[base + i * stride] = acc;
      }
    }
  }
}

/**
 * Gaussian blur (bg2 `GaussianBlurTransform`, RULES.md §17): p 0.2; each channel with p 0.5; a sigma per axis and per
 * channel uniform in (0.5, 1.0); separable, kernel size `~6 sigma` ({@link gaussianKernel1d}), reflect border.
 * Singleton axes (2D samples) are not blurred.
 */
export function gaussianBlur(o: { p?: number; pPerChannel?: number; sigma?: [number, number] } = {}): Transform<BlurParams> {
  const p = o.p ?? 0.2;
  const pc = o.pPerChannel ?? 0.5;
  const [lo, hi] = o.sigma ?? [0.5, 1.0];
  return {
    name: 'GaussianBlurTransform',
    targets: ['image'],
    getParameters(s: Sample, rng: Rng) {
      if (rng.next() >= p) return null;
      const sigmas = Array.from({ length: s.shape[0]! }, () =>
        rng.next() < pc ? ([rng.uniform(lo, hi), rng.uniform(lo, hi), rng.uniform(lo, hi)] as [number, number, number]) : null,
      );
      return sigmas.some((x) => x) ? { sigmas } : null;
    },
    apply(sample, q) {
      const { z, y, x } = spatial(sample);
      q.sigmas.forEach((sg, c) => {
        if (!sg) return;
        const a = channel(sample, c);
        for (let ax = 0; ax < 3; ax++) convolveAxis(a, [z, y, x], ax, gaussianKernel1d(sg[ax]!));
      });
      return sample;
    },
  };
}
