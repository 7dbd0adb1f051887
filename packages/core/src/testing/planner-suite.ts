/**
 * Contract suite of the `planner` kind, exported as `@nnunet-ts/core/testing`: what the pipeline relies on of any
 * planner's output, checked on two synthetic fingerprints (an isotropic single-channel dataset like MSD
 * Hippocampus, and an anisotropic two-channel one like MSD Prostate). Exact nnU-Net values are the business of each
 * planner's own tests; this suite checks the contract every planner shares.
 */
import type { Planner, PlannerOptions } from '../contracts/planner.js';
import type { DatasetFingerprint, DatasetJson, Plans } from '../contracts/plans.js';
import { plansProblems } from '../planning/load-plans.js';
import { getConfiguration } from '../planning/plans-io.js';

const intensity = { mean: 100, median: 98, std: 20, min: 0, max: 300, percentile_00_5: 10, percentile_99_5: 250 };

/** A synthetic fingerprint: `n` cases of shape `shape` at `spacing` (`[z, y, x]`), `channels` image channels. */
export function syntheticFingerprint(n: number, shape: number[], spacing: number[], channels: number): DatasetFingerprint {
  return {
    spacings: Array.from({ length: n }, (_, i) => spacing.map((s, a) => s * (a === 0 ? 1 + (i % 3) * 0.05 : 1))),
    shapes_after_crop: Array.from({ length: n }, (_, i) => shape.map((s, a) => s + ((i + a) % 5) - 2)),
    foreground_intensity_properties_per_channel: Object.fromEntries(Array.from({ length: channels }, (_, c) => [String(c), { ...intensity }])),
    median_relative_size_after_cropping: 0.9,
  };
}

/** The two datasets the suite plans: name, fingerprint, dataset.json. */
export function plannerSuiteDatasets(): { name: string; fingerprint: DatasetFingerprint; dataset: DatasetJson }[] {
  const labels = { background: 0, anterior: 1, posterior: 2 };
  return [
    {
      name: 'isotropic, 1 channel (Hippocampus-like)',
      fingerprint: syntheticFingerprint(24, [36, 50, 35], [1, 1, 1], 1),
      dataset: { channel_names: { '0': 'MRI' }, labels, numTraining: 24, file_ending: '.nii.gz', name: 'Dataset998_Iso' },
    },
    {
      name: 'anisotropic, 2 channels (Prostate-like)',
      fingerprint: syntheticFingerprint(16, [20, 320, 320], [3.6, 0.625, 0.625], 2),
      dataset: { channel_names: { '0': 'T2', '1': 'ADC' }, labels, numTraining: 16, file_ending: '.nii.gz', name: 'Dataset999_Aniso' },
    },
  ];
}

const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

/** Every resolved configuration's shape rules: one entry per channel, spacing/patch/strides of one dimensionality. */
function configurationProblems(plans: Plans, channels: number): string[] {
  const out: string[] = [];
  for (const name of Object.keys(plans.configurations)) {
    const c = getConfiguration(plans, name);
    const dims = c.patch_size?.length;
    if (dims !== 2 && dims !== 3) out.push(`${name}: patch_size must have 2 or 3 entries, got ${JSON.stringify(c.patch_size)}`);
    if (c.spacing?.length !== dims) out.push(`${name}: spacing ${JSON.stringify(c.spacing)} and patch_size differ in length`);
    if (c.normalization_schemes?.length !== channels) out.push(`${name}: ${c.normalization_schemes?.length} normalization schemes for ${channels} channels`);
    if (c.use_mask_for_norm?.length !== channels) out.push(`${name}: ${c.use_mask_for_norm?.length} use_mask_for_norm entries for ${channels} channels`);
    for (const link of ['previous_stage', 'next_stage'] as const) {
      const target = c[link];
      if (typeof target === 'string' && !plans.configurations[target]) out.push(`${name}: ${link} '${target}' is not a configuration`);
    }
  }
  return out;
}

/**
 * Planner contract: `plan` is pure (same output twice, inputs untouched) and returns plans that `loadPlans` accepts
 * (JSON schema and structural rules: stage counts, patch divisible by the strides, batch >= 1), named as asked
 * (`plansName`, `datasetName`), with `transpose_backward` the inverse of `transpose_forward`, the fingerprint's
 * intensity properties, and per configuration one normalization scheme and mask flag per channel, spacing and
 * patch of one dimensionality, and stage links to existing configurations.
 */
export async function describePlannerContract(planner: Planner, opts: PlannerOptions = {}): Promise<void> {
  const { describe, it, expect } = await import('vitest');
  describe(`Planner contract: ${planner.name}`, () => {
    it('declares a name', () => expect(planner.name.length).toBeGreaterThan(0));
    for (const d of plannerSuiteDatasets()) {
      it(`${d.name}: valid plans, named as asked, pure`, () => {
        const before = clone({ fp: d.fingerprint, ds: d.dataset });
        const o = { ...opts, plansName: 'ContractPlans', datasetName: d.dataset.name };
        const plans = planner.plan(d.fingerprint, d.dataset, o);
        expect({ fp: d.fingerprint, ds: d.dataset }).toEqual(before);
        expect(plansProblems(clone(plans))).toEqual([]);
        expect(plans.plans_name).toBe('ContractPlans');
        expect(plans.dataset_name).toBe(d.dataset.name);
        expect(planner.plan(clone(d.fingerprint), clone(d.dataset), o)).toEqual(plans);
      });
      it(`${d.name}: transposes, intensity properties and per-configuration shapes agree`, () => {
        const plans = planner.plan(d.fingerprint, d.dataset, { ...opts, datasetName: d.dataset.name });
        const fwd = plans.transpose_forward;
        expect([...fwd].sort()).toEqual([0, 1, 2]);
        expect(fwd.map((_, i) => fwd[plans.transpose_backward[i]!])).toEqual([0, 1, 2]);
        expect(Object.keys(plans.foreground_intensity_properties_per_channel).sort()).toEqual(Object.keys(d.fingerprint.foreground_intensity_properties_per_channel).sort());
        expect(configurationProblems(plans, Object.keys(d.dataset.channel_names).length)).toEqual([]);
      });
    }
  });
}
