import type { DatasetJson, Plans, PlansConfiguration } from '../contracts/plans.js';
import { NnunetError } from '../util/errors.js';

/**
 * A configuration of the plans with `inherits_from` resolved (child keys win; cycles throw `NnunetError`).
 * Throws `NnunetError` when the configuration does not exist.
 */
export function resolveConfiguration(plans: Plans, name: string): PlansConfiguration {
  const seen: string[] = [];
  const chain: PlansConfiguration[] = [];
  for (let cur: string | undefined = name; cur !== undefined; ) {
    if (seen.includes(cur)) throw new NnunetError(`configuration inheritance cycle: ${[...seen, cur].join(' -> ')}`);
    seen.push(cur);
    const c: PlansConfiguration | undefined = plans.configurations[cur];
    if (!c) {
      throw new NnunetError(`configuration '${cur}' is not in the plans`, { hint: `available: ${Object.keys(plans.configurations).join(', ')}` });
    }
    chain.push(c);
    cur = c.inherits_from;
  }
  return Object.assign({}, ...chain.reverse()) as PlansConfiguration;
}

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
