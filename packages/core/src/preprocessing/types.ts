/** Properties saved with a preprocessed case (nnU-Net names; everything export needs to walk back, RULES.md §14). */
export interface CaseProperties {
  /** Original spacing `[sz, sy, sx]` (mm) in the input's axis order (before transpose_forward). */
  spacing: number[];
  /** Spatial shape after transpose_forward and before cropping. */
  shape_before_cropping: number[];
  /** Crop bbox in the transposed grid, half-open `[[z0, z1), [y0, y1), [x0, x1)]`. */
  bbox_used_for_cropping: [number, number][];
  /** Spatial shape after cropping, before resampling (transposed grid). */
  shape_after_cropping_and_before_resampling: number[];
  /** Foreground label (string) -> sampled `[z, y, x]` voxel indices in the preprocessed grid. */
  class_locations?: Record<string, number[][]>;
  [key: string]: unknown;
}

/** A preprocessed case: what `preprocessCase` returns and the cache stores. */
export interface PreprocessedCase {
  /** `[c, z, y, x]` float32, normalized and resampled. */
  data: Float32Array;
  /** `[z, y, x]` Int16 labels (-1 outside the nonzero mask), or null without a label. */
  seg: Int16Array | null;
  /** `[c, z, y, x]` of `data`. */
  shape: number[];
  properties: CaseProperties;
}
