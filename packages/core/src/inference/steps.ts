import { roundHalfEven } from '../training/rng.js';

/**
 * Sliding-window start positions along one axis (RULES.md §18, nnU-Net `compute_steps_for_sliding_window`):
 * `n = ceil((S - P) / (P * stepSize)) + 1` windows, positions `round(i * (S - P) / (n - 1))` with numpy's
 * round-half-to-even; a single window at 0 when `S == P`. Repeated positions (possible for tiny patches, e.g.
 * P = 1, B21) are dropped: a repeated window adds the same prediction with the same weight, so the result is the same.
 * Requires `S >= P >= 1` (pad first) and `0 < stepSize <= 1`; throws `RangeError` otherwise.
 */
export function computeSteps(imageSize: number, patchSize: number, stepSize = 0.5): number[] {
  if (!(patchSize >= 1) || imageSize < patchSize) throw new RangeError(`computeSteps: image ${imageSize} smaller than patch ${patchSize}`);
  if (!(stepSize > 0 && stepSize <= 1)) throw new RangeError(`computeSteps: step size must be in (0, 1], got ${stepSize}`);
  const n = Math.ceil((imageSize - patchSize) / (patchSize * stepSize)) + 1;
  if (n === 1) return [0];
  const actual = (imageSize - patchSize) / (n - 1);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const p = roundHalfEven(actual * i);
    if (out[out.length - 1] !== p) out.push(p);
  }
  return out;
}

/**
 * Pad amounts to reach at least `minSize` per axis, as nnU-Net `pad_nd_image` (constant): below = `d // 2`,
 * above = `d - d // 2` where `d = max(0, minSize - size)`.
 */
export function padAmounts(size: number[], minSize: number[]): [number, number][] {
  return size.map((s, i) => {
    const d = Math.max(0, minSize[i]! - s);
    return [Math.floor(d / 2), d - Math.floor(d / 2)];
  });
}
