import type { DType, MedicalImage } from '../image/image.js';

/**
 * Image reader plugin. Readers are chosen by file ending (`extensions`) or, when endings are ambiguous or wrong,
 * by sniffing the first bytes (`sniff`).
 */
export interface ImageReader {
  /** Registry name, e.g. `nifti` (io-nifti) or `itk` (io-itk). */
  name: string;
  /** Lower-case endings this reader handles, with the dot: `['.nii', '.nii.gz']`. */
  extensions: string[];
  /** Return true when the leading bytes of a file look like this reader's format. Optional. */
  sniff?(head: Uint8Array, path: string): boolean;
  /**
   * Read an image. Throws `DataError` naming the file for unreadable, truncated or inconsistent files.
   * Output follows the image model (`[c, z, y, x]`, spacing `[sz, sy, sx]`, LPS origin/direction).
   */
  read(path: string): Promise<MedicalImage>;
  /**
   * Shape (`[c, z, y, x]`) and geometry of an image from its header, without reading the voxels. Optional: the cost
   * model uses it to count the sliding-window tiles of images it is about to predict; without it the estimate falls
   * back to the training cases' shapes. Same errors as `read`.
   */
  readInfo?(path: string): Promise<Omit<MedicalImage, 'data'>>;
}

/** Options for writing an image. */
export interface WriteOptions {
  /** Data type on disk; default: the array's own type. */
  dtype?: DType;
  /** A header read from an input to reproduce (same reader family), so outputs match inputs byte for byte where possible. */
  template?: unknown;
}

/** Image writer plugin, chosen by file ending. Writes atomically (temp file + rename). */
export interface ImageWriter {
  name: string;
  extensions: string[];
  write(path: string, image: MedicalImage, opts?: WriteOptions): Promise<void>;
}
