import { locationKey, type ClassOrRegion } from '../dataset/label-manager.js';
import { RandomState } from '../util/random-state.js';

/** nnU-Net `_sample_foreground_locations` constants (RULES.md §14). */
export const CLASS_LOCATIONS_SEED = 1234;
export const CLASS_LOCATIONS_MIN_SAMPLES = 10000;
export const CLASS_LOCATIONS_MIN_COVERAGE = 0.01;
/** Cap on foreground voxels considered (nnU-Net keeps every k-th above 1e7). */
export const CLASS_LOCATIONS_MAX_FOREGROUND = 1e7;

/**
 * Samples voxel locations per foreground class (or region) for oversampling, as nnU-Net v2 (RULES.md §14,
 * `DefaultPreprocessor._sample_foreground_locations`): for labels, foreground is `seg != 0` (the -1 outside marker
 * included, as upstream), thinned to every `floor(n / 1e7)`-th voxel above 1e7; a region (a list of values, from
 * region-based labels or the ignore label's annotated union `[-1, ...all labels]`) takes every voxel whose value is in
 * the list, 0 included when listed (as nnU-Net's current code), thinned the same way. Per entry in the given order,
 * `max(min(10000, n_c), ceil(0.01 * n_c))` locations drawn without replacement from a single `RandomState(1234)`.
 * Absent classes get `[]` and draw nothing.
 * @param seg `[z, y, x]` Int16 (preprocessed grid)
 * @param shape `[z, y, x]`
 * @param classes foreground labels or regions (nnU-Net `foreground_labels` / `foreground_regions`, plus the
 *   annotated union with an ignore label; see `locationClasses`)
 * @returns key (`locationKey`: `"2"` or `"1,2,3"`) -> list of `[z, y, x]` voxel indices
 */
export function sampleClassLocations(seg: Int16Array, shape: readonly number[], classes: readonly ClassOrRegion[],
  seed = CLASS_LOCATIONS_SEED): Record<string, number[][]> {
  const [, Y, X] = shape as [number, number, number];
  const perClass = labelVoxels(seg, classes.filter((c): c is number => !Array.isArray(c)));
  const rs = new RandomState(seed);
  const out: Record<string, number[][]> = {};
  for (const c of classes) {
    const all = Array.isArray(c) ? regionVoxels(seg, c) : perClass.get(c);
    if (!all || all.length === 0) {
      out[locationKey(c)] = [];
      continue;
    }
    let target = Math.min(CLASS_LOCATIONS_MIN_SAMPLES, all.length);
    target = Math.max(target, Math.ceil(all.length * CLASS_LOCATIONS_MIN_COVERAGE));
    const pick = rs.choiceWithoutReplacement(all.length, target);
    out[locationKey(c)] = Array.from(pick, (j) => {
      const i = all[j]!;
      const x = i % X;
      const y = Math.floor(i / X) % Y;
      return [Math.floor(i / (X * Y)), y, x];
    });
  }
  return out;
}

/** Flat indices per wanted label among the (thinned) `seg != 0` voxels, raster order. */
function labelVoxels(seg: Int16Array, classes: readonly number[]): Map<number, number[]> {
  let nFg = 0;
  for (let i = 0; i < seg.length; i++) if (seg[i] !== 0) nFg++;
  const every = nFg > CLASS_LOCATIONS_MAX_FOREGROUND ? Math.floor(nFg / CLASS_LOCATIONS_MAX_FOREGROUND) : 1;
  const wanted = new Set(classes);
  const perClass = new Map<number, number[]>();
  for (let i = 0, k = 0; i < seg.length; i++) {
    const v = seg[i]!;
    if (v === 0) continue;
    if (k++ % every !== 0) continue;
    if (!wanted.has(v)) continue;
    let list = perClass.get(v);
    if (!list) perClass.set(v, (list = []));
    list.push(i);
  }
  return perClass;
}

/** Flat indices of the voxels whose value is in `region`, raster order, thinned above 1e7 voxels. */
function regionVoxels(seg: Int16Array, region: readonly number[]): number[] {
  const set = new Set(region);
  let n = 0;
  for (let i = 0; i < seg.length; i++) if (set.has(seg[i]!)) n++;
  const every = n > CLASS_LOCATIONS_MAX_FOREGROUND ? Math.floor(n / CLASS_LOCATIONS_MAX_FOREGROUND) : 1;
  const out: number[] = [];
  for (let i = 0, k = 0; i < seg.length; i++) if (set.has(seg[i]!) && k++ % every === 0) out.push(i);
  return out;
}
