import type { IntensityProperties } from './normalizer.js';

/**
 * nnU-Net v2 file formats, typed. Field names are nnU-Net's so files move between the two tools.
 * All spatial lists are in the `[z, y, x]` order of the image model (nnU-Net's order too).
 */

/** dataset_fingerprint.json (RULES.md §2). */
export interface DatasetFingerprint {
  foreground_intensity_properties_per_channel: Record<string, IntensityProperties>;
  median_relative_size_after_cropping: number;
  shapes_after_crop: number[][];
  spacings: number[][];
}

/** dataset.json in nnU-Net v2 form (after conversion from MSD v1 where needed). */
export interface DatasetJson {
  channel_names: Record<string, string>;
  /** name -> value (v2). Values may be an int or a list of ints (regions). */
  labels: Record<string, number | number[]>;
  numTraining: number;
  file_ending: string;
  name?: string;
  description?: string;
  regions_class_order?: number[];
  overwrite_image_reader_writer?: string;
  [key: string]: unknown;
}

/** `architecture` block of a configuration (plans format >= v2.3.1). */
export interface ArchitectureSpec {
  network_class_name: string;
  arch_kwargs: {
    n_stages: number;
    features_per_stage: number[];
    conv_op: string;
    kernel_sizes: number[][];
    strides: number[][];
    n_conv_per_stage?: number[];
    n_blocks_per_stage?: number[];
    n_conv_per_stage_decoder: number[];
    conv_bias: boolean;
    norm_op: string;
    norm_op_kwargs: { eps: number; affine: boolean };
    dropout_op: string | null;
    dropout_op_kwargs: unknown;
    nonlin: string;
    nonlin_kwargs: { inplace?: boolean; negative_slope?: number };
    [key: string]: unknown;
  };
  _kw_requires_import: string[];
}

/** One configuration of nnUNetPlans.json. */
export interface PlansConfiguration {
  data_identifier?: string;
  preprocessor_name?: string;
  batch_size?: number;
  patch_size?: number[];
  median_image_size_in_voxels?: number[];
  spacing?: number[];
  normalization_schemes?: string[];
  use_mask_for_norm?: boolean[];
  resampling_fn_data?: string;
  resampling_fn_seg?: string;
  resampling_fn_data_kwargs?: Record<string, unknown>;
  resampling_fn_seg_kwargs?: Record<string, unknown>;
  resampling_fn_probabilities?: string;
  resampling_fn_probabilities_kwargs?: Record<string, unknown>;
  architecture?: ArchitectureSpec;
  batch_dice?: boolean;
  /** Cascade only. */
  inherits_from?: string;
  previous_stage?: string;
  next_stage?: string;
  [key: string]: unknown;
}

/** nnUNetPlans.json. */
export interface Plans {
  dataset_name: string;
  plans_name: string;
  original_median_spacing_after_transp: number[];
  original_median_shape_after_transp: number[];
  image_reader_writer: string;
  transpose_forward: number[];
  transpose_backward: number[];
  configurations: Record<string, PlansConfiguration>;
  experiment_planner_used: string;
  label_manager: string;
  foreground_intensity_properties_per_channel: Record<string, IntensityProperties>;
  [key: string]: unknown;
}

/** splits_final.json: one entry per fold. */
export type Splits = { train: string[]; val: string[] }[];
