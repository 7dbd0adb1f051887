/** Float64 mean / population std (ddof 0) over finite voxels, optionally only where `seg >= 0`. */
export interface MomentStats {
  mean: number;
  std: number;
  count: number;
}

/**
 * Two-pass float64 mean and standard deviation (numpy's `std`, ddof 0) of the finite values of `data`,
 * restricted to `seg[i] >= 0` when `seg` is given. NaN/Inf never enter (B15).
 */
export function momentStats(data: Float32Array, seg?: Int16Array): MomentStats {
  let s = 0;
  let n = 0;
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    if ((seg && seg[i]! < 0) || !Number.isFinite(v)) continue;
    s += v;
    n++;
  }
  if (n === 0) return { mean: 0, std: 0, count: 0 };
  const mean = s / n;
  let ss = 0;
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    if ((seg && seg[i]! < 0) || !Number.isFinite(v)) continue;
    ss += (v - mean) * (v - mean);
  }
  return { mean, std: Math.sqrt(ss / n), count: n };
}

/** Min and max of the finite values (`[Infinity, -Infinity]` when none). */
export function finiteRange(data: Float32Array): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    if (!Number.isFinite(v)) continue;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return [lo, hi];
}

/** nnU-Net's lower bound on the divisor of every normalization (RULES.md §12). */
export const STD_EPSILON = 1e-8;
