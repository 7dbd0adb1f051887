import { DataError, headerDimensions, type DType, type MedicalImage, type VoxelArray } from '@nnunet-ts/core';
import type { writeImageNode } from '@itk-wasm/image-io';

/** itk-wasm's `Image` (size/spacing/origin in x, y, z order; direction row-major, see `itkToImage`). */
export type ItkImage = Parameters<typeof writeImageNode>[0];

const SUPPORTED = new Set(['int8', 'uint8', 'int16', 'uint16', 'int32', 'uint32', 'float32', 'float64']);

/**
 * Convert an itk-wasm `Image` to the core image model.
 *
 * itk-wasm conventions (checked against @itk-wasm/image-io 1.6 with non-symmetric oblique files, bad-inputs B31):
 * `size`, `spacing`, `origin` are `[x, y, z]`; `direction` is the D x D ITK direction matrix stored row-major
 * (`direction[r * D + c]`, column c = world direction of index axis c, LPS), the same layout as the core model;
 * voxels are x fastest, and multi-component pixels are interleaved (`[z][y][x][comp]`).
 *
 * Mapping: 2D -> z = 1 (z spacing 1, origin z 0, identity third axis; `header` = `{ itkDimension: 2 }`, so that
 * `writeItk` given it as template writes a 2D file again); 3D as is; 4D -> channels = size[3] (the 4th axis's
 * spacing/origin are dropped, bad-inputs B09); vector pixels -> channels (de-interleaved to `[c, z, y, x]`).
 * Throws `DataError` naming `file` for 64-bit integer, complex, tensor or > 4D images.
 */
export function itkToImage(img: ItkImage, file: string): MedicalImage {
  const t = img.imageType;
  const D = t.dimension;
  if (D < 2 || D > 4) {
    throw new DataError(`${D}D images are not supported (2D, 3D, or 4D with channels last)`, { file });
  }
  if (!SUPPORTED.has(t.componentType)) {
    throw new DataError(`pixel component type ${t.componentType} is not supported`, {
      file,
      hint: 'convert the image to an 8/16/32-bit integer or float32/float64 type',
    });
  }
  const okPixel = t.pixelType === 'Scalar' || ((t.pixelType === 'Vector' || t.pixelType === 'VariableLengthVector') && t.components >= 1);
  if (!okPixel) {
    throw new DataError(`pixel type ${t.pixelType} (${t.components} components) is not supported`, {
      file,
      hint: 'store one scalar channel per file (_0000, _0001, ...)',
    });
  }
  if (D === 4 && t.components > 1) {
    throw new DataError(`4D images with vector pixels are not supported`, { file });
  }
  if (!img.data) throw new DataError(`image has no pixel data`, { file });
  const nx = img.size[0]!;
  const ny = img.size[1]!;
  const nz = D >= 3 ? img.size[2]! : 1;
  const nt = D === 4 ? img.size[3]! : 1;
  const comps = t.components;
  const c = nt * comps;
  const dir = Array.from(img.direction as ArrayLike<number>);
  const direction: number[] = [];
  for (let r = 0; r < 3; r++) {
    for (let k = 0; k < 3; k++) {
      direction.push(r < D && k < D ? dir[r * D + k]! : r === k ? 1 : 0);
    }
  }
  const sp = [img.spacing[0]!, img.spacing[1]!, D >= 3 ? img.spacing[2]! : 1];
  const origin: [number, number, number] = [img.origin[0]!, img.origin[1]!, D >= 3 ? img.origin[2]! : 0];
  let data = img.data as unknown as VoxelArray;
  if (comps > 1) {
    const n = nx * ny * nz;
    const out = new (data.constructor as new (n: number) => VoxelArray)(n * comps);
    for (let i = 0; i < n; i++) for (let k = 0; k < comps; k++) out[k * n + i] = data[i * comps + k]!;
    data = out;
  }
  const checked = checkGeometry(sp, origin, direction, file);
  return {
    data,
    shape: [c, nz, ny, nx],
    spacing: [sp[2]!, sp[1]!, sp[0]!],
    origin,
    direction: checked.direction.map((v) => v + 0),
    source: file,
    warnings: checked.warnings,
    ...(D === 2 ? { header: { itkDimension: 2 } satisfies ItkHeader } : {}),
  };
}

/** The `header` of an image read from a 2D ITK file (`itkToImage`); 3D and 4D images have none. */
export interface ItkHeader {
  itkDimension: 2;
}

/**
 * Dimension of the ITK image `imageToItk` builds for a one-channel `image` given `template` (an image's `header`):
 * 2 when the template is the header of a 2D file (`headerDimensions`: a 2D ITK header from `itkToImage`, a NIfTI
 * header with dim[0] = 2), and the image is one
 * slice whose geometry is that of a 2D image (origin z 0, direction block-diagonal with z along z), so that nothing
 * of the geometry is lost; else 3. nnU-Net's SimpleITKIO writes a segmentation with the input's own dimensionality
 * (`write_seg`: `len(properties['sitk_stuff']['spacing'])`, nnunetv2/imageio/simpleitk_reader_writer.py).
 */
export function templateDimension(image: MedicalImage, template: unknown): 2 | 3 {
  if (headerDimensions(template) !== 2 || image.shape[0] !== 1 || image.shape[1] !== 1) return 3;
  const d = image.direction;
  const flat = d[2] === 0 && d[5] === 0 && d[6] === 0 && d[7] === 0 && d[8] === 1 && image.origin[2] === 0;
  return flat ? 2 : 3;
}

/** 3x3 determinant (row-major). */
function det3(m: number[]): number {
  return m[0]! * (m[4]! * m[8]! - m[5]! * m[7]!) - m[1]! * (m[3]! * m[8]! - m[5]! * m[6]!) + m[2]! * (m[3]! * m[7]! - m[4]! * m[6]!);
}

/** max |M^T M - I| of a row-major 3x3 matrix. */
function orthoError(m: number[]): number {
  let e = 0;
  for (let a = 0; a < 3; a++) {
    for (let b = 0; b < 3; b++) {
      let dot = 0;
      for (let r = 0; r < 3; r++) dot += m[r * 3 + a]! * m[r * 3 + b]!;
      e = Math.max(e, Math.abs(dot - (a === b ? 1 : 0)));
    }
  }
  return e;
}

/** Nearest orthonormal matrix (polar factor) by the iteration R <- (R + R^-T) / 2, which converges quadratically. */
function nearestOrthonormal(m: number[]): number[] {
  let r = [...m];
  for (let it = 0; it < 50 && orthoError(r) > 1e-12; it++) {
    const d = det3(r);
    // inverse transpose = cofactor matrix / det
    const cof = [
      r[4]! * r[8]! - r[5]! * r[7]!, r[5]! * r[6]! - r[3]! * r[8]!, r[3]! * r[7]! - r[4]! * r[6]!,
      r[2]! * r[7]! - r[1]! * r[8]!, r[0]! * r[8]! - r[2]! * r[6]!, r[1]! * r[6]! - r[0]! * r[7]!,
      r[1]! * r[5]! - r[2]! * r[4]!, r[2]! * r[3]! - r[0]! * r[5]!, r[0]! * r[4]! - r[1]! * r[3]!,
    ];
    r = r.map((v, i) => (v + cof[i]! / d) / 2);
  }
  return r;
}

/**
 * Geometry checks on what ITK returned (a corrupt header can give zero spacing or a degenerate direction, which
 * ITK passes through): spacing must be finite and positive, origin finite, direction finite and invertible
 * (errors naming the file); a direction that is not orthonormal (shear, |RᵀR - I| > 1e-4) is replaced by the
 * nearest orthonormal matrix with a warning, the rule io-nifti applies to a sheared sform (bad-inputs B30).
 */
function checkGeometry(sp: number[], origin: number[], direction: number[], file: string): { direction: number[]; warnings: string[] } {
  if (sp.some((v) => !(Number.isFinite(v) && v > 0))) {
    throw new DataError(`voxel spacing (${sp.join(', ')}) must be finite and positive`, { file, hint: 'fix the spacing in the header (NRRD space directions / MetaImage ElementSpacing)' });
  }
  if (origin.some((v) => !Number.isFinite(v))) throw new DataError(`origin (${origin.join(', ')}) is not finite`, { file, hint: 'fix the origin in the header' });
  if (direction.length !== 9) {
    throw new DataError(`direction matrix has ${direction.length} values, expected 9 (3 x 3)`, { file, hint: 'fix the orientation in the header (NRRD space directions / MetaImage TransformMatrix)' });
  }
  if (direction.some((v) => !Number.isFinite(v)) || Math.abs(det3(direction)) < 1e-6) {
    throw new DataError(`direction matrix (${direction.map((v) => (typeof v === 'number' ? +v.toFixed(6) : String(v))).join(', ')}) is degenerate`, { file, hint: 'fix the orientation in the header (NRRD space directions / MetaImage TransformMatrix)' });
  }
  const err = orthoError(direction);
  if (err <= 1e-4) return { direction, warnings: [] };
  return { direction: nearestOrthonormal(direction), warnings: [`direction is not orthonormal (|R^T R - I| = ${err.toExponential(2)}); replaced by the nearest orthonormal matrix`] };
}

const CTORS: Record<DType, new (n: number) => VoxelArray> = {
  uint8: Uint8Array,
  int8: Int8Array,
  int16: Int16Array,
  uint16: Uint16Array,
  int32: Int32Array,
  uint32: Uint32Array,
  float32: Float32Array,
  float64: Float64Array,
};

const RANGES: Partial<Record<DType, [number, number]>> = {
  uint8: [0, 255],
  int8: [-128, 127],
  int16: [-32768, 32767],
  uint16: [0, 65535],
  int32: [-(2 ** 31), 2 ** 31 - 1],
  uint32: [0, 2 ** 32 - 1],
};

/** Element type name of a typed array. */
export function dtypeOfArray(a: VoxelArray): DType {
  for (const [k, C] of Object.entries(CTORS)) if (a instanceof C) return k as DType;
  return 'float32';
}

/** `data` converted to `dtype` (integers rounded; out-of-range or non-finite values raise `DataError` naming `file`). */
export function castData(data: VoxelArray, dtype: DType, file: string): VoxelArray {
  if (dtypeOfArray(data) === dtype) return data;
  const out = new CTORS[dtype](data.length);
  const range = RANGES[dtype];
  for (let i = 0; i < data.length; i++) {
    let v = data[i]!;
    if (range) {
      v = Math.round(v);
      if (!(v >= range[0] && v <= range[1])) {
        throw new DataError(`voxel value ${data[i]} does not fit ${dtype} (${range[0]}..${range[1]})`, {
          file,
          hint: 'pick a wider dtype (e.g. int16 or float32)',
        });
      }
    }
    out[i] = v;
  }
  return out;
}

/**
 * Convert a core image to an itk-wasm `Image`: 3D scalar image when c = 1, 4D (channels as the 4th axis, spacing 1)
 * when c > 1, 2D when `template` is the header of a 2D image and the image fits it (`templateDimension`). Direction
 * row-major (see `itkToImage`). `dtype` casts the voxels first (`castData`).
 */
export function imageToItk(image: MedicalImage, file: string, dtype?: DType, template?: unknown): ItkImage {
  const [c, nz, ny, nx] = image.shape;
  const data = dtype ? castData(image.data, dtype, file) : image.data;
  const D = c > 1 ? 4 : templateDimension(image, template);
  const direction = new Float64Array(D * D);
  for (let r = 0; r < D; r++) for (let k = 0; k < D; k++) direction[r * D + k] = r < 3 && k < 3 ? image.direction[r * 3 + k]! : r === k ? 1 : 0;
  const xyz = [image.spacing[2], image.spacing[1], image.spacing[0]];
  return {
    imageType: { dimension: D, componentType: dtypeOfArray(data), pixelType: 'Scalar', components: 1 },
    name: 'image',
    origin: D === 4 ? [...image.origin, 0] : image.origin.slice(0, D),
    spacing: D === 4 ? [...xyz, 1] : xyz.slice(0, D),
    direction,
    size: D === 4 ? [nx, ny, nz, c] : [nx, ny, nz].slice(0, D),
    metadata: new Map(),
    data,
  } as unknown as ItkImage;
}
