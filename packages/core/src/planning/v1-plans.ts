/**
 * Reading nnU-Net v1 plans (the `plans.pkl` / `nnUNetPlansv2.1_plans_3D.pkl` content, as JSON) into this project's
 * v2 arch-dict plans schema, so models planned with v1 can be described to the v2 pipeline.
 */
import type { IntensityProperties } from '../contracts/normalizer.js';
import type { Plans, PlansConfiguration } from '../contracts/plans.js';
import { DataError } from '../util/errors.js';
import { determineBatchDice, determineResampling, transposeList } from './decisions.js';
import { median, perAxis } from './math.js';
import { architectureBlock, featuresPerStage } from './architecture.js';

/** One v1 `plans_per_stage` entry (axis order: transposed). */
export interface V1StageJson {
  batch_size: number;
  patch_size: number[];
  median_patient_size_in_voxels: number[];
  current_spacing: number[];
  pool_op_kernel_sizes: number[][];
  conv_kernel_sizes: number[][];
  [key: string]: unknown;
}

/** The parts of a v1 plans file this converter reads. */
export interface V1PlansJson {
  num_stages: number;
  modalities: Record<string, string>;
  normalization_schemes: Record<string, string>;
  use_mask_for_norm: Record<string, boolean>;
  base_num_features: number;
  conv_per_stage?: number | null;
  transpose_forward: number[];
  transpose_backward: number[];
  data_identifier: string;
  plans_per_stage: Record<string, V1StageJson>;
  dataset_properties?: {
    all_spacings?: number[][];
    all_sizes?: number[][];
    intensityproperties?: Record<string, { local_props?: unknown; median: number; mean: number; sd: number; mn: number; mx: number; percentile_99_5: number; percentile_00_5: number }> | null;
  };
  [key: string]: unknown;
}

const V1_SCHEME: Record<string, string> = { CT: 'CTNormalization', nonCT: 'ZScoreNormalization', noNorm: 'NoNormalization' };

function v1Config(p: V1PlansJson, st: V1StageJson, dim: 2 | 3, dataIdentifier: string, batchDice: boolean): PlansConfiguration {
  const n = st.pool_op_kernel_sizes.length + 1;
  const maxF = dim === 2 ? 480 : 320; // v1 Generic_UNet MAX_FILTERS_2D / MAX_NUM_FILTERS_3D (RULES.md §7)
  const cps = p.conv_per_stage ?? 2;
  const channels = Object.keys(p.modalities).sort((a, b) => Number(a) - Number(b));
  return {
    data_identifier: dataIdentifier,
    preprocessor_name: dim === 2 ? 'PreprocessorFor2D' : 'GenericPreprocessor',
    batch_size: st.batch_size,
    patch_size: [...st.patch_size],
    median_image_size_in_voxels: dim === 2 ? st.median_patient_size_in_voxels.slice(-2) : [...st.median_patient_size_in_voxels],
    spacing: dim === 2 ? st.current_spacing.slice(-2) : [...st.current_spacing],
    normalization_schemes: channels.map((c) => V1_SCHEME[p.normalization_schemes[c] ?? 'nonCT'] ?? 'ZScoreNormalization'),
    use_mask_for_norm: channels.map((c) => p.use_mask_for_norm[c] === true),
    ...determineResampling(),
    architecture: architectureBlock({
      className: 'PlainConvUNet',
      features: featuresPerStage(n, p.base_num_features, maxF),
      kernelSizes: st.conv_kernel_sizes,
      strides: [new Array<number>(dim).fill(1), ...st.pool_op_kernel_sizes],
      encoderCounts: new Array<number>(n).fill(cps),
      decoderCounts: new Array<number>(n - 1).fill(cps),
    }),
    batch_dice: batchDice,
  };
}

function isV1(x: unknown): x is V1PlansJson {
  return !!x && typeof x === 'object' && typeof (x as V1PlansJson).plans_per_stage === 'object';
}

/**
 * Convert v1 plans (3D and/or 2D files, JSON form of the pickles) to one v2 arch-dict plans object: the last 3D
 * stage becomes `3d_fullres`, stage 0 of a 2-stage file `3d_lowres` (+ `3d_cascade_fullres`), the 2D file `2d`.
 * v1 pool kernels get the stem stage prepended; `nonCT` -> ZScoreNormalization, `CT` -> CTNormalization; features per
 * stage follow v1's Generic_UNet (base, cap 320 3D / 480 2D); batch_dice by RULES.md §11. Data identifiers become the
 * v1 stage folders (`<data_identifier>_stage<k>`).
 * @throws DataError when neither argument is a v1 plans object.
 */
export function convertV1Plans(plans3d?: unknown, plans2d?: unknown, opts: { datasetName?: string } = {}): Plans {
  const p3 = isV1(plans3d) ? plans3d : undefined;
  const p2 = isV1(plans2d) ? plans2d : undefined;
  const any = p3 ?? p2;
  if (!any) throw new DataError('not an nnU-Net v1 plans object (no plans_per_stage)', { hint: 'pass the JSON of plans.pkl' });
  const configurations: Record<string, PlansConfiguration> = {};
  const stages3 = p3 ? Object.keys(p3.plans_per_stage).sort((a, b) => Number(a) - Number(b)) : [];
  const hasLowres = stages3.length === 2;
  if (p2) {
    const st = p2.plans_per_stage['0'] ?? Object.values(p2.plans_per_stage)[0]!;
    configurations['2d'] = v1Config(p2, st, 2, `${p2.data_identifier}_stage0`, determineBatchDice('2d', hasLowres));
  }
  if (p3) {
    const dim = p3.plans_per_stage[stages3[0]!]!.patch_size.length === 2 ? 2 : 3;
    if (dim === 2) {
      configurations['2d'] = v1Config(p3, p3.plans_per_stage[stages3[0]!]!, 2, `${p3.data_identifier}_stage0`, true);
    } else {
      if (hasLowres) {
        configurations['3d_lowres'] = {
          ...v1Config(p3, p3.plans_per_stage[stages3[0]!]!, 3, `${p3.data_identifier}_stage0`, false),
          next_stage: '3d_cascade_fullres',
        };
      }
      const last = stages3[stages3.length - 1]!;
      configurations['3d_fullres'] = v1Config(p3, p3.plans_per_stage[last]!, 3, `${p3.data_identifier}_stage${last}`, hasLowres);
      if (hasLowres) configurations['3d_cascade_fullres'] = { inherits_from: '3d_fullres', previous_stage: '3d_lowres' };
    }
  }
  const props = any.dataset_properties;
  const tf = any.transpose_forward;
  const intensity: Record<string, IntensityProperties> = {};
  for (const [k, v] of Object.entries(props?.intensityproperties ?? {})) {
    intensity[k] = { mean: v.mean, median: v.median, std: v.sd, min: v.mn, max: v.mx, percentile_99_5: v.percentile_99_5, percentile_00_5: v.percentile_00_5 };
  }
  const fullStage = Object.values(any.plans_per_stage).at(-1)!;
  return {
    dataset_name: opts.datasetName ?? 'Dataset',
    plans_name: 'nnUNetPlansv1',
    original_median_spacing_after_transp: props?.all_spacings?.length
      ? transposeList(perAxis(props.all_spacings, median), tf)
      : [...((fullStage.original_spacing as number[] | undefined) ?? fullStage.current_spacing)],
    original_median_shape_after_transp: props?.all_sizes?.length
      ? transposeList(perAxis(props.all_sizes, median), tf).map((v) => Math.round(v))
      : [...fullStage.median_patient_size_in_voxels],
    image_reader_writer: 'SimpleITKIO',
    transpose_forward: [...tf],
    transpose_backward: [...any.transpose_backward],
    configurations,
    experiment_planner_used: 'nnUNetV1',
    label_manager: 'LabelManager',
    foreground_intensity_properties_per_channel: intensity,
  };
}
