import type { Postprocessor } from '../contracts/postprocessor.js';
import { keepLargestComponent } from './components.js';

/** nnU-Net's name of the "keep largest component" postprocessing function (RULES.md §19). */
export const KEEP_LARGEST = 'remove_all_but_largest_component_from_segmentation';

/** Options of the keep-largest postprocessor (as stored in postprocessing.json `kwargs`). */
export interface KeepLargestOptions {
  /** Labels or regions whose union is reduced to its largest component. */
  labels_or_regions: number | (number | number[])[];
  /** Value written over removed voxels. Default 0. */
  background_label?: number;
  /** 6 or 26 (default). */
  connectivity?: 6 | 26;
}

/**
 * Postprocessor plugin: keep the largest connected component of the union of `labels_or_regions`
 * (nnU-Net `remove_all_but_largest_component_from_segmentation`).
 */
export function keepLargestComponentPostprocessor(): Postprocessor {
  return {
    name: KEEP_LARGEST,
    apply(seg, shape, options) {
      const o = options as unknown as KeepLargestOptions;
      const lr = Array.isArray(o.labels_or_regions) ? o.labels_or_regions : [o.labels_or_regions];
      return keepLargestComponent(seg, shape, lr, o.background_label ?? 0, o.connectivity ?? 26);
    },
  };
}

/** The postprocessors core registers by default. */
export function corePostprocessors(): Postprocessor[] {
  return [keepLargestComponentPostprocessor()];
}
