import type { Rng, Sample, Transform } from '@nnunet-ts/core';
import { channel, spatial } from './sample-util.js';

/** Per channel: null (skipped) or the zoom factor (same for every resampled axis). */
export interface LowResParams {
  scales: (number | null)[];
}

/** Resample `[Z, Y, X]` along `axis` to length `m`: nearest ('nearest-exact') or linear (align_corners = false). */
function resizeAxis(a: Float32Array, shape: number[], axis: number, m: number, linear: boolean): Float32Array {
  const n = shape[axis]!;
  const stride = axis === 2 ? 1 : axis === 1 ? shape[2]! : shape[1]! * shape[2]!;
  const outer = a.length / (n * stride);
  const out = new Float32Array(outer * m * stride);
  const scale = n / m;
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < m; i++) {
      const dst = (o * m + i) * stride;
      if (!linear) {
        const s = Math.min(Math.floor((i + 0.5) * scale), n - 1);
        const src = (o * n + s) * stride;
        for (let k = 0; k < stride; k++) out[dst + k] = a[src + k]!;
        continue;
      }
      const pos = Math.max(0, (i + 0.5) * scale - 0.5);
      const i0 = Math.min(Math.floor(pos), n - 1);
      const i1 = Math.min(i0 + 1, n - 1);
      const w = pos - i0;
      const s0 = (o * n + i0) * stride;
      const s1 = (o * n + i1) * stride;
      for (let k = 0; k < stride; k++) out[dst + k] = (1 - w) * a[s0 + k]! + w * a[s1 + k]!;
    }
  }
  return out;
}

/**
 * Simulated low resolution (bg2 `SimulateLowResolutionTransform`, RULES.md §17): p 0.25; each channel with p 0.5 is
 * downsampled by a factor in (0.5, 1) (same for all axes, new size `round(n * f)`) with nearest neighbour and
 * upsampled back linearly. `ignoreAxes` (`[0]` for dummy-2D) and singleton axes keep their resolution.
 */
export function simulateLowResolution(o: { p?: number; pPerChannel?: number; scale?: [number, number]; ignoreAxes?: number[] } = {}): Transform<LowResParams> {
  const p = o.p ?? 0.25;
  const pc = o.pPerChannel ?? 0.5;
  const [lo, hi] = o.scale ?? [0.5, 1];
  const ignore = new Set(o.ignoreAxes ?? []);
  return {
    name: 'SimulateLowResolutionTransform',
    targets: ['image'],
    getParameters(s: Sample, rng: Rng) {
      if (rng.next() >= p) return null;
      const scales = Array.from({ length: s.shape[0]! }, () => (rng.next() < pc ? rng.uniform(lo, hi) : null));
      return scales.some((x) => x !== null) ? { scales } : null;
    },
    apply(sample, q) {
      const { z, y, x } = spatial(sample);
      const full = [z, y, x];
      q.scales.forEach((f, c) => {
        if (f === null) return;
        let a: Float32Array = channel(sample, c);
        const shape = [...full];
        const axes = [0, 1, 2].filter((ax) => !ignore.has(ax) && full[ax]! > 1);
        for (const ax of axes) {
          const m = Math.max(1, Math.round(full[ax]! * f));
          a = resizeAxis(a, shape, ax, m, false);
          shape[ax] = m;
        }
        for (const ax of axes) {
          a = resizeAxis(a, shape, ax, full[ax]!, true);
          shape[ax] = full[ax]!;
        }
        channel(sample, c).set(a);
      });
      return sample;
    },
  };
}
