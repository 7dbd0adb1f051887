/**
 * Resampler contract (nnU-Net `default_resampling.py`, RULES.md §13).
 * Arrays are one channel `[z, y, x]` (x fastest) unless stated; shapes are `[z, y, x]` voxels.
 */
export interface ResampleOptions {
  /** Spline order for in-plane / all axes: 0 nearest, 1 linear, 3 cubic (data default 3, seg default 1). */
  order: number;
  /** Order along the separate (low resolution) axis when `separateZAxis` is set (default 0). */
  orderZ: number;
  /** Axis (0, 1 or 2) resampled separately with `orderZ`, or null for plain n-d resampling. */
  separateZAxis: number | null;
}

export interface Resampler {
  name: string;
  /**
   * Resample a multi-channel image `[c, z, y, x]` to `newShape` (`[z, y, x]`) with edge mode, no anti-aliasing.
   * Returns Float32 `[c, ...newShape]`.
   */
  resampleData(data: Float32Array, shape: number[], newShape: number[], opts: ResampleOptions): Float32Array;
  /**
   * Resample a label map `[z, y, x]` to `newShape` by one-hot interpolation per class and a 0.5 threshold
   * (RULES.md §13). The output contains only values present in the input. Returns Int16.
   */
  resampleSeg(seg: Int16Array, shape: number[], newShape: number[], opts: ResampleOptions): Int16Array;
}
