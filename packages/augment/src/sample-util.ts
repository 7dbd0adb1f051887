import type { Sample } from '@nnunet-ts/core';

/** Spatial shape `[z, y, x]` and voxels per channel of a sample (`shape` is `[c, z, y, x]`). */
export function spatial(sample: Sample): { c: number; z: number; y: number; x: number; n: number } {
  const [c, z, y, x] = sample.shape as [number, number, number, number];
  return { c, z, y, x, n: z * y * x };
}

/** One channel `[z, y, x]` of the image as a subarray view (no copy). */
export function channel(sample: Sample, ch: number): Float32Array {
  const { n } = spatial(sample);
  return sample.image.subarray(ch * n, (ch + 1) * n);
}

/** Mean and population standard deviation of a buffer, accumulated in float64. */
export function meanStd(a: Float32Array): { mean: number; std: number } {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]!;
  const mean = s / a.length;
  let v = 0;
  for (let i = 0; i < a.length; i++) {
    const d = a[i]! - mean;
    v += d * d;
  }
  return { mean, std: Math.sqrt(v / a.length) };
}

/** Min and max of a buffer. */
export function minMax(a: Float32Array): { min: number; max: number } {
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < a.length; i++) {
    const v = a[i]!;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return { min, max };
}

/**
 * batchgeneratorsv2 `BGContrast` sampling for a range `[lo, hi]` around 1: with probability 0.5 (and `lo < 1`)
 * uniform in `[lo, 1)`, else uniform in `[max(lo, 1), hi)`. Used by contrast and gamma (RULES.md §17).
 */
export function sampleAroundOne(r: { uniform(lo: number, hi: number): number; next(): number }, lo: number, hi: number): number {
  if (r.next() < 0.5 && lo < 1) return r.uniform(lo, 1);
  return r.uniform(Math.max(lo, 1), hi);
}
