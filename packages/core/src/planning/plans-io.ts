/**
 * Plans objects: conversion of the legacy v2 configuration format, configuration lookup with `inherits_from`
 * resolution, dataset.json conversion. No file access (browser-safe): writing plans and `planFromFiles` are in
 * plans-file.ts; reading and validating plans files is `loadPlans` (load-plans.ts), the only reader of plans JSON.
 */
import type { ArchitectureSpec, DatasetJson, Plans, PlansConfiguration } from '../contracts/plans.js';
import { DataError, NnunetError } from '../util/errors.js';
import { architectureBlock, featuresPerStage } from './architecture.js';

/** Keys of the legacy (nnU-Net v2 <= 2.2) configuration format that the arch-dict replaced. */
const LEGACY_KEYS = [
  'UNet_class_name',
  'UNet_base_num_features',
  'n_conv_per_stage_encoder',
  'n_conv_per_stage_decoder',
  'num_pool_per_axis',
  'pool_op_kernel_sizes',
  'conv_kernel_sizes',
  'unet_max_num_features',
] as const;

/** True when a configuration is written in the legacy format (`UNet_class_name`, `pool_op_kernel_sizes`, ...). */
export function isLegacyConfiguration(c: PlansConfiguration): boolean {
  return !!c && typeof c === 'object' && (typeof c.UNet_class_name === 'string' || Array.isArray(c.pool_op_kernel_sizes));
}

/**
 * Convert one legacy-format configuration (nnU-Net v2 up to 2.2: `UNet_class_name`, `UNet_base_num_features`,
 * `pool_op_kernel_sizes`, `conv_kernel_sizes`, `n_conv_per_stage_encoder/decoder`, `unet_max_num_features`) into the
 * arch-dict form (`architecture{network_class_name, arch_kwargs, _kw_requires_import}`), the way nnU-Net >= 2.3
 * interprets such files. Other keys are kept; the legacy keys are removed. Throws `DataError` when a needed key is
 * missing.
 */
export function convertLegacyConfiguration(c: PlansConfiguration, where = 'plans'): PlansConfiguration {
  if (!isLegacyConfiguration(c)) return c;
  const strides = c.pool_op_kernel_sizes as number[][] | undefined;
  const kernels = c.conv_kernel_sizes as number[][] | undefined;
  if (!Array.isArray(strides) || !Array.isArray(kernels)) {
    throw new DataError(`${where}: legacy configuration lacks pool_op_kernel_sizes / conv_kernel_sizes`, {
      hint: 're-plan the dataset with this version',
    });
  }
  const nStages = strides.length;
  const dim = strides[0]!.length;
  const className = String(c.UNet_class_name ?? 'PlainConvUNet');
  const base = Number(c.UNet_base_num_features ?? 32);
  const maxF = Number(c.unet_max_num_features ?? (dim === 2 ? 512 : 320));
  const enc = (c.n_conv_per_stage_encoder as number[] | undefined) ?? new Array<number>(nStages).fill(2);
  const dec = (c.n_conv_per_stage_decoder as number[] | undefined) ?? new Array<number>(nStages - 1).fill(2);
  const residual = className.includes('Residual');
  const architecture: ArchitectureSpec = architectureBlock({
    className,
    features: featuresPerStage(nStages, base, maxF),
    kernelSizes: kernels,
    strides,
    encoderCounts: enc,
    decoderCounts: dec,
    residual,
  });
  const out: PlansConfiguration = {};
  for (const [k, v] of Object.entries(c)) {
    if ((LEGACY_KEYS as readonly string[]).includes(k)) continue;
    if (k === 'batch_dice') out.architecture = architecture; // keep nnU-Net's key order: architecture before batch_dice
    out[k] = v;
  }
  if (!out.architecture) out.architecture = architecture;
  return out;
}

/** Convert every legacy configuration of a plans object (returns a new object; arch-dict plans pass through). */
export function convertLegacyPlans(plans: Plans, where = 'plans'): Plans {
  const configurations: Record<string, PlansConfiguration> = {};
  for (const [name, c] of Object.entries(plans.configurations ?? {})) {
    configurations[name] = convertLegacyConfiguration(c, `${where}: configuration '${name}'`);
  }
  return { ...plans, configurations };
}

/**
 * A configuration with `inherits_from` resolved: the parent's entries (recursively resolved), overridden by the
 * child's own; `inherits_from` itself is dropped. Legacy-format results are converted to the arch-dict form.
 * @throws NnunetError for an unknown configuration (listing the available ones) or an inheritance cycle.
 */
export function getConfiguration(plans: Plans, name: string): PlansConfiguration {
  const configs = plans.configurations ?? {};
  const chain: string[] = [];
  const resolve = (n: string): PlansConfiguration => {
    if (chain.includes(n)) {
      throw new NnunetError(`plans '${plans.plans_name}': configuration inheritance cycle ${[...chain, n].join(' -> ')}`, {
        hint: 'fix inherits_from in the plans file',
      });
    }
    const c = configs[n];
    if (!c) {
      const avail = Object.keys(configs);
      const via = chain.length ? ` (inherited by '${chain[chain.length - 1]}')` : '';
      throw new NnunetError(`plans '${plans.plans_name}' has no configuration '${n}'${via}`, {
        hint: `available configurations: ${avail.join(', ') || '(none)'}`,
      });
    }
    chain.push(n);
    const { inherits_from: parent, ...own } = c;
    const merged = parent ? { ...resolve(parent), ...own } : { ...own };
    chain.pop();
    return merged;
  };
  const merged = resolve(name);
  return isLegacyConfiguration(merged) ? convertLegacyConfiguration(merged, `plans '${plans.plans_name}' configuration '${name}'`) : merged;
}

/** Names of the configurations of a plans object. */
export function listConfigurations(plans: Plans): string[] {
  return Object.keys(plans.configurations ?? {});
}

/**
 * A dataset.json in v2 form from either a v2 file or an MSD / nnU-Net v1 one: `modality` becomes `channel_names`,
 * value->name labels (`{"0": "background"}`) are inverted to name->value, `file_ending` defaults to `.nii.gz`.
 * @throws DataError when channels or labels are missing.
 */
export function toV2DatasetJson(raw: Record<string, unknown>, where = 'dataset.json'): DatasetJson {
  const channels = (raw.channel_names ?? raw.modality) as Record<string, string> | undefined;
  if (!channels || typeof channels !== 'object') {
    throw new DataError('dataset.json has neither channel_names nor modality', { file: where, hint: 'add "channel_names": {"0": "CT"}' });
  }
  const labelsRaw = raw.labels as Record<string, unknown> | undefined;
  if (!labelsRaw || typeof labelsRaw !== 'object') {
    throw new DataError('dataset.json has no labels', { file: where, hint: 'add "labels": {"background": 0, ...}' });
  }
  const keys = Object.keys(labelsRaw);
  const v1Style = keys.length > 0 && keys.every((k) => /^-?\d+$/.test(k)) && Object.values(labelsRaw).every((v) => typeof v === 'string');
  const labels: Record<string, number | number[]> = {};
  if (v1Style) {
    for (const k of keys.sort((a, b) => Number(a) - Number(b))) labels[String(labelsRaw[k])] = Number(k);
  } else {
    for (const k of keys) labels[k] = labelsRaw[k] as number | number[];
  }
  const numTraining = Number(raw.numTraining ?? (Array.isArray(raw.training) ? raw.training.length : NaN));
  if (!(numTraining > 0)) throw new DataError('dataset.json numTraining is missing or not positive', { file: where });
  const { modality: _m, ...rest } = raw;
  return {
    ...rest,
    channel_names: { ...channels },
    labels,
    numTraining,
    file_ending: typeof raw.file_ending === 'string' ? raw.file_ending : '.nii.gz',
  } as DatasetJson;
}

