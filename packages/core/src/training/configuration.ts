import type { DatasetJson } from '../contracts/plans.js';
import { NnunetError } from '../util/errors.js';

/** Label setup from dataset.json: number of network outputs (all labels except `ignore`) and the ignore value. */
export function labelSetup(dataset: DatasetJson): { numClasses: number; ignoreLabel?: number; labels: number[] } {
  const entries = Object.entries(dataset.labels);
  if (entries.some(([, v]) => Array.isArray(v))) {
    throw new NnunetError('region-based labels (lists of values in dataset.json "labels") are not supported by this trainer', { hint: 'use one integer per label' });
  }
  const ignore = entries.find(([k]) => k === 'ignore')?.[1] as number | undefined;
  const labels = entries.filter(([k]) => k !== 'ignore').map(([, v]) => v as number).sort((a, b) => a - b);
  return { numClasses: labels.length, ignoreLabel: ignore, labels };
}
