import type { ResampleOptions, Resampler } from '../contracts/resampler.js';
import type { Registry } from '../registry/registry.js';
import { determineSeparateZAxis, getLowresAxes, ANISO_THRESHOLD } from './resampling/shape.js';

/** nnU-Net function names in plans that all mean "the default resampler" here. */
const NNUNET_RESAMPLING_FNS = new Set([
  'resample_data_or_seg_to_shape',
  'resample_data_or_seg_to_spacing',
  'resample_data_or_seg',
  'resample_torch_fornnunet',
  'default',
]);

/**
 * The resampler named by a plans field (`resampling_fn_data` etc.): a registered resampler of that name, else the
 * `default` plugin for nnU-Net's own function names or when absent.
 * @throws PluginError when neither is registered
 */
export function resolveResampler(registry: Registry, fnName: string | undefined): Resampler {
  const short = fnName?.includes('.') ? fnName.slice(fnName.lastIndexOf('.') + 1) : fnName;
  if (short && !NNUNET_RESAMPLING_FNS.has(short)) return registry.get('resampler', short);
  return registry.get('resampler', 'default');
}

/**
 * Resample options from a plans kwargs block (`resampling_fn_*_kwargs`: `order`, `order_z`, `force_separate_z`,
 * `separate_z_anisotropy_threshold`), deciding separate z from the current and target spacings (RULES.md §13).
 */
export function resampleOptionsFromKwargs(kwargs: Record<string, unknown> | undefined, currentSpacing: readonly number[],
  newSpacing: readonly number[], defaultOrder: number): ResampleOptions {
  const k = kwargs ?? {};
  const order = typeof k.order === 'number' ? k.order : defaultOrder;
  const orderZ = typeof k.order_z === 'number' ? k.order_z : 0;
  const threshold = typeof k.separate_z_anisotropy_threshold === 'number' ? k.separate_z_anisotropy_threshold : ANISO_THRESHOLD;
  let separateZAxis: number | null;
  if (k.force_separate_z === true) {
    const axes = getLowresAxes(currentSpacing);
    separateZAxis = axes.length === 1 ? axes[0]! : null;
  } else if (k.force_separate_z === false) {
    separateZAxis = null;
  } else {
    separateZAxis = determineSeparateZAxis(currentSpacing, newSpacing, threshold);
  }
  return { order, orderZ, separateZAxis };
}

/**
 * Target spacing of a configuration in the transposed frame: the plans' `spacing`, with axis 0 kept at the
 * case's own spacing for 2D configurations (2 entries), as nnU-Net's preprocessor does (RULES.md §14).
 */
export function targetSpacingFor(configSpacing: readonly number[] | undefined, transposedSpacing: readonly number[]): number[] {
  if (!configSpacing) throw new RangeError('configuration has no spacing');
  return configSpacing.length < transposedSpacing.length
    ? [transposedSpacing[0]!, ...configSpacing]
    : [...configSpacing];
}
