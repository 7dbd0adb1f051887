import type { DatasetJson } from '../contracts/plans.js';
import { DataError } from '../util/errors.js';

/** A foreground class (one label value) or a region (a set of label values, region-based training). */
export type ClassOrRegion = number | number[];

/**
 * What dataset.json's `labels` mean for training and inference, as nnU-Net v2's `LabelManager`
 * (`nnunetv2/utilities/label_handling/label_handling.py`): labels or regions, the ignore label, output heads.
 */
export interface LabelManager {
  /** Every label value except `ignore`, regions flattened, ascending (nnU-Net `all_labels`). */
  allLabels: number[];
  /** `allLabels` without 0. */
  foregroundLabels: number[];
  /** True when any label is a list of more than one value (nnU-Net `has_regions`). */
  hasRegions: boolean;
  /** Regions in dataset.json order, background and `ignore` excluded; null without regions. */
  foregroundRegions: number[][] | null;
  /** Label written for each region at export, later regions overwrite earlier ones; null without regions. */
  regionsClassOrder: number[] | null;
  /** The `ignore` label value, if declared. */
  ignoreLabel?: number;
  /** Network outputs: one per region (sigmoid) or one per label (softmax) (nnU-Net `num_segmentation_heads`). */
  numSegmentationHeads: number;
}

/**
 * nnU-Net's `LabelManager` from a dataset.json. Rules (label_handling.py): `background` must be 0; regions exist
 * when a label is a list of more than one value, and then `regions_class_order` must list one label per region;
 * `ignore` must be an integer equal to the highest label + 1.
 * @throws DataError naming the rule that dataset.json breaks.
 */
export function labelManager(json: DatasetJson, file = 'dataset.json'): LabelManager {
  const entries = Object.entries(json.labels);
  const bg = json.labels.background;
  if (bg !== undefined && (Array.isArray(bg) || bg !== 0)) {
    throw new DataError(`${file}: "background" must be the single value 0, got ${JSON.stringify(bg)}`, { hint: 'write "background": 0' });
  }
  const ign = json.labels.ignore;
  if (ign !== undefined && Array.isArray(ign)) {
    throw new DataError(`${file}: "ignore" must be one integer, not a region ${JSON.stringify(ign)}`, { hint: 'write "ignore": <highest label + 1>' });
  }
  const ignoreLabel = ign as number | undefined;
  const flat = new Set<number>();
  for (const [k, v] of entries) if (k !== 'ignore') for (const x of Array.isArray(v) ? v : [v]) flat.add(x);
  const allLabels = [...flat].sort((a, b) => a - b);
  if (ignoreLabel !== undefined && ignoreLabel !== Math.max(...allLabels) + 1) {
    throw new DataError(`${file}: the ignore label ${ignoreLabel} must be the highest label + 1 (${Math.max(...allLabels) + 1})`, {
      hint: 'renumber so that "ignore" is one above every other label (nnU-Net rule)',
    });
  }
  const hasRegions = entries.some(([, v]) => Array.isArray(v) && v.length > 1);
  let foregroundRegions: number[][] | null = null;
  let regionsClassOrder: number[] | null = null;
  if (hasRegions) {
    foregroundRegions = entries
      .filter(([k, v]) => k !== 'ignore' && !(Array.isArray(v) ? v.every((x) => x === 0) : v === 0))
      .map(([, v]) => (Array.isArray(v) ? [...v] : [v]));
    const order = json.regions_class_order;
    if (!Array.isArray(order) || order.length !== foregroundRegions.length) {
      throw new DataError(`${file}: region-based labels need "regions_class_order" with one label per region (${foregroundRegions.length}), got ${JSON.stringify(order ?? null)}`, {
        hint: 'e.g. "regions_class_order": [1, 2, 3]: the label written for each region, in the order of "labels"',
      });
    }
    regionsClassOrder = [...order];
  }
  const foregroundLabels = allLabels.filter((l) => l !== 0);
  const numSegmentationHeads = hasRegions ? foregroundRegions!.length : allLabels.length;
  return { allLabels, foregroundLabels, hasRegions, foregroundRegions, regionsClassOrder, ignoreLabel, numSegmentationHeads };
}

/**
 * The classes or regions whose voxel locations preprocessing samples for oversampling (nnU-Net
 * `DefaultPreprocessor.run_case_npy`): the foreground regions (region-based) or foreground labels, plus, with an
 * ignore label, the union `[-1, ...allLabels]` of every annotated value ({@link annotatedKey}), so that patches can
 * be centred on annotated voxels.
 */
export function locationClasses(lm: LabelManager): ClassOrRegion[] {
  const out: ClassOrRegion[] = lm.hasRegions ? lm.foregroundRegions!.map((r) => [...r]) : [...lm.foregroundLabels];
  if (lm.ignoreLabel !== undefined) out.push([-1, ...lm.allLabels]);
  return out;
}

/** Key of a class or region in `class_locations`: `"3"` for a label, `"1,2,3"` for a region. */
export function locationKey(c: ClassOrRegion): string {
  return Array.isArray(c) ? c.join(',') : String(c);
}

/** Key of the annotated-voxels entry of `class_locations` (nnU-Net `annotated_classes_key`), or null without ignore. */
export function annotatedKey(lm: LabelManager): string | null {
  return lm.ignoreLabel === undefined ? null : locationKey([-1, ...lm.allLabels]);
}
