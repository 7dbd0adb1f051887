/**
 * The image model of nnunet-ts.
 *
 * Axis order (decided once, see shared guide "Data model conventions"):
 * - Voxel data is `[c, z, y, x]`, C order, x fastest. This is how NIfTI stores voxels on disk (i fastest) and how
 *   nnU-Net sees arrays read by SimpleITK.
 * - `shape` is `[c, z, y, x]` in voxels; `spacing` is `[sz, sy, sx]` in mm (same order as nnU-Net's
 *   `spacings`, `shapes_after_crop`, `patch_size` JSON fields).
 * - `origin` is the world position (mm) of voxel (i=0, j=0, k=0), in ITK's LPS world frame, ordered `[x, y, z]`.
 * - `direction` is ITK's 3x3 direction cosine matrix in LPS, stored row-major as 9 numbers; column `j` is the world
 *   direction of index axis `j`, where index axis 0 = i = x (fastest), 1 = j = y, 2 = k = z.
 *   World point of index (i, j, k): `origin + direction * diag(sx, sy, sz) * [i, j, k]^T`.
 */

/** Typed arrays a voxel buffer may use. */
export type VoxelArray =
  | Float32Array
  | Float64Array
  | Int8Array
  | Uint8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array;

/** Data type names, as used for writing (`labels` are written as uint8/int16, images as float32). */
export type DType = 'uint8' | 'int8' | 'int16' | 'uint16' | 'int32' | 'uint32' | 'float32' | 'float64';

/** Geometry of a 3D grid in LPS world coordinates (see module docs for conventions). */
export interface Geometry {
  /** `[sz, sy, sx]`, mm, all > 0. */
  spacing: [number, number, number];
  /** `[x, y, z]` world position of voxel (0,0,0), mm, LPS. */
  origin: [number, number, number];
  /** 3x3 row-major direction cosines, LPS; column j is the direction of index axis j (0 = x/i, 1 = y/j, 2 = z/k). */
  direction: number[];
}

/** A multi-channel 3D image (2D images have z = 1). */
export interface MedicalImage extends Geometry {
  /** Voxels, `[c, z, y, x]`, x fastest. Intensities are already scaled (e.g. NIfTI scl_slope/scl_inter). */
  data: VoxelArray;
  /** `[c, z, y, x]` in voxels. */
  shape: [number, number, number, number];
  /** Path the image was read from, for error messages; absent for images built in memory. */
  source?: string;
  /** Reader-specific header kept so a writer can reproduce it (e.g. the NIfTI header of the input). */
  header?: unknown;
  /** Non-fatal observations made while reading (e.g. "negative pixdim folded into direction"). */
  warnings?: string[];
}

/**
 * Spatial dimensions of the file an image was read from, from its reader's `header` (`MedicalImage.header`): 2 for a
 * 2D file (a NIfTI header with dim[0] = 2, io-itk's `{ itkDimension: 2 }` of a 2D NRRD or MetaImage), 1 for a NIfTI
 * header with dim[0] = 1, else undefined (3D and 4D files, images built in memory, other headers). Writers given such
 * a header as template write a one-slice image with that dimensionality again, as nnU-Net's SimpleITKIO writes a
 * segmentation with the input's own (`write_seg`, nnunetv2/imageio/simpleitk_reader_writer.py).
 */
export function headerDimensions(header: unknown): 1 | 2 | undefined {
  const h = header as { itkDimension?: unknown; dim?: unknown } | null | undefined;
  if (h?.itkDimension === 2) return 2;
  const d = Array.isArray(h?.dim) ? (h.dim as unknown[])[0] : undefined;
  return d === 1 || d === 2 ? d : undefined;
}

/** Number of voxels per channel, `z*y*x`. */
export function spatialSize(shape: readonly number[]): number {
  return shape[1]! * shape[2]! * shape[3]!;
}

/** Identity direction, row-major 3x3. */
export function identityDirection(): number[] {
  return [1, 0, 0, 0, 1, 0, 0, 0, 1];
}

/**
 * World coordinate (LPS, mm, `[x, y, z]`) of a continuous voxel index `[i, j, k]` (i = x index, fastest).
 */
export function indexToWorld(g: Geometry, ijk: readonly [number, number, number]): [number, number, number] {
  const s = [g.spacing[2], g.spacing[1], g.spacing[0]];
  const out: [number, number, number] = [g.origin[0], g.origin[1], g.origin[2]];
  for (let r = 0; r < 3; r++) {
    for (let c = 0; c < 3; c++) out[r] += g.direction[r * 3 + c]! * s[c]! * ijk[c]!;
  }
  return out;
}
