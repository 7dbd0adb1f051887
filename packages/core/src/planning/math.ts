/**
 * Small numeric helpers that reproduce numpy / Python semantics exactly where nnU-Net's planners depend on them
 * (rounding half to even, `np.percentile` linear interpolation, `np.median`). Internal to planning.
 */

export { roundHalfEven } from '../util/math.js';

/** Product of a list (left to right, like numpy for short arrays). */
export function prod(values: readonly number[]): number {
  let p = 1;
  for (const v of values) p *= v;
  return p;
}

/**
 * `np.percentile(values, q)` with the default 'linear' method (numpy >= 1.22 lerp, including its
 * `t >= 0.5` branch so results agree to the last bit). `q` in percent [0, 100]. Throws on an empty list.
 */
export function percentile(values: readonly number[], q: number): number {
  if (values.length === 0) throw new RangeError('percentile of an empty list');
  const a = [...values].sort((x, y) => x - y);
  const idx = (q / 100) * (a.length - 1);
  const lo = Math.floor(idx);
  const hi = Math.min(lo + 1, a.length - 1);
  const t = idx - lo;
  const va = a[lo]!;
  const vb = a[hi]!;
  const diff = vb - va;
  return t >= 0.5 ? vb - diff * (1 - t) : va + diff * t;
}

/** `np.median(values)`: middle value, or the mean of the two middle values. Throws on an empty list. */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new RangeError('median of an empty list');
  const a = [...values].sort((x, y) => x - y);
  const m = a.length >> 1;
  return a.length % 2 === 1 ? a[m]! : (a[m - 1]! + a[m]!) / 2;
}

/** Column-wise reduction of a list of equal-length rows (`np.xxx(rows, axis=0)`). */
export function perAxis(rows: readonly (readonly number[])[], fn: (col: number[]) => number): number[] {
  if (rows.length === 0) throw new RangeError('no rows');
  const dim = rows[0]!.length;
  const out: number[] = [];
  for (let d = 0; d < dim; d++) out.push(fn(rows.map((r) => r[d]!)));
  return out;
}

/** Index of the first maximum (`np.argmax`). */
export function argmax(values: readonly number[]): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i]! > values[best]!) best = i;
  return best;
}

/** Index of the last element of a stable ascending sort (`np.argsort(values)[-1]`): the last maximum. */
export function argsortLast(values: readonly number[]): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i]! >= values[best]!) best = i;
  return best;
}
