import type { DatasetJson } from '../contracts/plans.js';
import { labelManager } from '../dataset/label-manager.js';

/**
 * Label setup from dataset.json (nnU-Net `LabelManager`, see `labelManager`): number of network outputs (one per
 * label except `ignore`, or one per region for region-based labels), the ignore value, every label, and the
 * foreground regions (region-based training only).
 * @throws DataError when dataset.json breaks a label rule (background not 0, misplaced ignore, regions without
 *   `regions_class_order`).
 */
export function labelSetup(dataset: DatasetJson): { numClasses: number; ignoreLabel?: number; labels: number[]; regions?: number[][] } {
  const lm = labelManager(dataset);
  return { numClasses: lm.numSegmentationHeads, ignoreLabel: lm.ignoreLabel, labels: lm.allLabels, ...(lm.foregroundRegions ? { regions: lm.foregroundRegions } : {}) };
}
