/**
 * Central finite difference `(f(v + eps) - f(v - eps)) / (2 eps)` of a scalar function with respect to
 * `arr[idx]` (restored afterwards). For gradient checks in tests; use small shapes and float64 objectives.
 */
export function finiteDifference(f: () => number, arr: Float32Array, idx: number, eps = 1e-2): number {
  const v = arr[idx]!;
  arr[idx] = v + eps;
  const up = f();
  arr[idx] = v - eps;
  const down = f();
  arr[idx] = v;
  return (up - down) / (2 * eps);
}

/**
 * Compares analytic gradients with finite differences at the given indices; returns the largest
 * `|a - n| / max(|a|, |n|, floor)`.
 */
export function gradCheck(f: () => number, arr: Float32Array, analytic: ArrayLike<number>, indices: number[], eps = 1e-2, floor = 1e-3): number {
  let worst = 0;
  for (const i of indices) {
    const num = finiteDifference(f, arr, i, eps);
    const a = analytic[i]!;
    worst = Math.max(worst, Math.abs(a - num) / Math.max(Math.abs(a), Math.abs(num), floor));
  }
  return worst;
}
