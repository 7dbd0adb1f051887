/** Foreground intensity statistics of one channel, as in dataset_fingerprint.json (RULES.md §2). */
export interface IntensityProperties {
  mean: number;
  median: number;
  std: number;
  min: number;
  max: number;
  percentile_99_5: number;
  percentile_00_5: number;
}

/** Inputs of a normalization call. */
export interface NormalizeInput {
  /** One channel `[z, y, x]`, modified in place and returned. */
  data: Float32Array;
  /** Segmentation after cropping, `[z, y, x]`, where -1 marks outside the nonzero mask (RULES.md §3). */
  seg?: Int16Array;
  /** Whether statistics and changes are restricted to `seg >= 0` (RULES.md §12). */
  useMaskForNorm: boolean;
  /** Fingerprint statistics of this channel (needed by CTNormalization). */
  intensityProperties?: IntensityProperties;
}

/** Normalization plugin, registered by nnU-Net scheme name (`CTNormalization`, `ZScoreNormalization`, ...). */
export interface Normalizer {
  /** Scheme name exactly as in nnUNetPlans.json `normalization_schemes`. */
  name: string;
  /** nnU-Net's `leaves_pixels_outside_mask_at_zero_if_use_mask_for_norm_is_true`. */
  leavesOutsideMaskAtZero: boolean;
  /** Normalize in place (statistics in float64) and return `data`. Output is finite for constant input. */
  normalize(input: NormalizeInput): Float32Array;
}
