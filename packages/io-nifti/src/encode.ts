/** NIfTI-1/NIfTI-2 encoding to bytes in memory. No Node built-in (browser-safe); `writeNifti` adds gzip and the atomic write. */
import { DataError, headerDimensions, spatialSize, type DType, type MedicalImage, type VoxelArray, type WriteOptions } from '@nnunet-ts/core';
import { geometryToNifti, niftiGeometry } from './geometry.js';
import type { NiftiHeader } from './header.js';

const CODES: Record<DType, { code: number; bytes: number; min: number; max: number; int: boolean }> = {
  uint8: { code: 2, bytes: 1, min: 0, max: 255, int: true },
  int8: { code: 256, bytes: 1, min: -128, max: 127, int: true },
  int16: { code: 4, bytes: 2, min: -32768, max: 32767, int: true },
  uint16: { code: 512, bytes: 2, min: 0, max: 65535, int: true },
  int32: { code: 8, bytes: 4, min: -(2 ** 31), max: 2 ** 31 - 1, int: true },
  uint32: { code: 768, bytes: 4, min: 0, max: 2 ** 32 - 1, int: true },
  float32: { code: 16, bytes: 4, min: -Infinity, max: Infinity, int: false },
  float64: { code: 64, bytes: 8, min: -Infinity, max: Infinity, int: false },
};

/** DType of a typed array. */
export function dtypeOf(a: VoxelArray): DType {
  if (a instanceof Uint8Array) return 'uint8';
  if (a instanceof Int8Array) return 'int8';
  if (a instanceof Int16Array) return 'int16';
  if (a instanceof Uint16Array) return 'uint16';
  if (a instanceof Int32Array) return 'int32';
  if (a instanceof Uint32Array) return 'uint32';
  if (a instanceof Float64Array) return 'float64';
  return 'float32';
}

/**
 * Byte offsets and field types of the header fields the writer sets, for NIfTI-1 (nifti1.h: 348-byte header,
 * int16 dims, float32 transforms) and NIfTI-2 (nifti2.h: 540-byte header, int64 dims and vox_offset, float64
 * pixdim/scaling/transforms, int32 codes and units).
 */
interface Layout {
  size: 348 | 540;
  dim: number;
  datatype: number;
  bitpix: number;
  pixdim: number;
  voxOffset: number;
  sclSlope: number;
  sclInter: number;
  qformCode: number;
  sformCode: number;
  quatern: number;
  qoffset: number;
  srow: number;
  /** int64 dims/vox_offset, float64 floats, int32 codes (NIfTI-2); else int16 dims and codes, float32 floats. */
  wide: boolean;
}

const LAYOUT: Record<1 | 2, Layout> = {
  1: { size: 348, dim: 40, datatype: 70, bitpix: 72, pixdim: 76, voxOffset: 108, sclSlope: 112, sclInter: 116, qformCode: 252, sformCode: 254, quatern: 256, qoffset: 268, srow: 280, wide: false },
  2: { size: 540, dim: 16, datatype: 12, bitpix: 14, pixdim: 104, voxOffset: 168, sclSlope: 176, sclInter: 184, qformCode: 344, sformCode: 348, quatern: 352, qoffset: 376, srow: 400, wide: true },
};

/** Writers of the layout's float (pixdim, transforms, scaling) and code fields. */
function fieldWriters(dv: DataView, L: Layout, le: boolean) {
  return {
    float: (off: number, i: number, v: number) => (L.wide ? dv.setFloat64(off + i * 8, v, le) : dv.setFloat32(off + i * 4, v, le)),
    code: (off: number, v: number) => (L.wide ? dv.setInt32(off, v, le) : dv.setInt16(off, v, le)),
  };
}

function isNiftiHeader(t: unknown): t is NiftiHeader {
  return !!t && typeof t === 'object' && (t as NiftiHeader).raw instanceof Uint8Array && Array.isArray((t as NiftiHeader).dim);
}

/** True when `a` and `b` describe the same grid within `tol` (spacing, origin in mm; direction entries). */
function sameGeometry(a: MedicalImage, b: { spacing: number[]; origin: number[]; direction: number[] }, tol: number): boolean {
  const close = (x: number[], y: number[]): boolean => x.length === y.length && x.every((v, i) => Math.abs(v - y[i]!) <= tol);
  return close(a.spacing, b.spacing) && close(a.origin, b.origin) && close(a.direction, b.direction);
}

/**
 * The transform fields of the header: the template's bytes when the grid is the template's own (byte-for-byte
 * outputs), else the image geometry in both qform and sform with code 1 (SCANNER_ANAT). `size` is `[nx, ny, nz]`.
 *
 * The template's bytes are kept when its transform was read without a note, and also when its qform_code and
 * sform_code are both 0 (nifti1.h "METHOD 1": no orientation; ITK reads origin 0 and identity, nibabel and FSL a
 * pixdim-based fallback affine centred on the volume): writing codes 1 with ITK's reading would give nibabel/FSL
 * another grid than the input's; keeping codes 0 and pixdim gives every reader the input's grid.
 */
function writeGeometry(dv: DataView, image: MedicalImage, tpl: NiftiHeader | null, le: boolean, size: number[], L: Layout): void {
  const [nx, ny, nz] = size;
  let keepGeo = false;
  if (tpl) {
    const g = niftiGeometry(tpl);
    const tplDims = [tpl.dim[1], tpl.dim[2], tpl.dim[3]].map((d) => (d && d > 0 ? d : 1));
    const noTransform = tpl.qformCode === 0 && tpl.sformCode === 0;
    keepGeo = tplDims[0] === nx && tplDims[1] === ny && tplDims[2] === nz && (noTransform || (g.from !== 'none' && g.warnings.length === 0)) && sameGeometry(image, g, 1e-6);
  }
  if (!keepGeo) {
    const tr = geometryToNifti(image);
    const w = fieldWriters(dv, L, le);
    w.float(L.pixdim, 0, tr.qfac);
    tr.pixdim.forEach((p, i) => w.float(L.pixdim, 1 + i, p));
    if (!tpl) for (let i = 4; i < 8; i++) w.float(L.pixdim, i, i === 4 ? 1 : 0);
    w.code(L.qformCode, 1);
    w.code(L.sformCode, 1);
    tr.quatern.forEach((q, i) => w.float(L.quatern, i, q));
    tr.qoffset.forEach((q, i) => w.float(L.qoffset, i, q));
    tr.srow.forEach((row, r) => row.forEach((v, k) => w.float(L.srow, r * 4 + k, v)));
  }
}

/** Voxels into `body` as `dtype` (`le`: little endian); integer types are rounded and range-checked. @throws DataError naming `file`. */
function encodeVoxels(body: DataView, src: VoxelArray, dtype: DType, le: boolean, file: string): void {
  const t = CODES[dtype];
  const nvox = src.length;
  const setters: Record<DType, (o: number, v: number) => void> = {
    uint8: (o, v) => body.setUint8(o, v),
    int8: (o, v) => body.setInt8(o, v),
    int16: (o, v) => body.setInt16(o, v, le),
    uint16: (o, v) => body.setUint16(o, v, le),
    int32: (o, v) => body.setInt32(o, v, le),
    uint32: (o, v) => body.setUint32(o, v, le),
    float32: (o, v) => body.setFloat32(o, v, le),
    float64: (o, v) => body.setFloat64(o, v, le),
  };
  const set = setters[dtype];
  for (let i = 0; i < nvox; i++) {
    let v = src[i]!;
    if (t.int) {
      if (!Number.isFinite(v)) {
        throw new DataError(`voxel ${i} is ${v}; it cannot be stored as ${dtype}`, { file, hint: 'write as float32' });
      }
      v = Math.round(v);
      if (v < t.min || v > t.max) {
        throw new DataError(`voxel value ${v} does not fit ${dtype} (${t.min}..${t.max})`, {
          file,
          hint: 'pick a wider dtype (e.g. int16 or float32)',
        });
      }
    }
    set(i * t.bytes, v);
  }
}

/**
 * dim[0] of the output: 4 for several channels; the template's own 1 or 2 (`headerDimensions`: a NIfTI-1 or -2
 * header, or io-itk's header of a 2D NRRD or MetaImage) when the image fits it (one channel, one
 * slice, and for 1 one row), so a 2D input (dim[0] = 2, e.g. 36 x 52) gives a 2D output as nnU-Net's default
 * SimpleITKIO does (`write_seg` drops the slice axis when the input's `sitk_stuff` spacing has 2 entries,
 * nnunetv2/imageio/simpleitk_reader_writer.py; NibabelIO refuses images that are not 3D); else 3.
 */
function outputDimensions(image: MedicalImage, template: unknown): number {
  const [c, nz, ny] = image.shape;
  if (c > 1) return 4;
  const d = headerDimensions(template) ?? 3;
  return (d === 2 && nz === 1) || (d === 1 && nz === 1 && ny === 1) ? d : 3;
}

/**
 * Encode a NIfTI file (header + 4 bytes extension flag + voxels) for `image`: NIfTI-2 (540-byte header) when
 * `opts.template` is a NIfTI-2 header, else NIfTI-1. See `writeNifti`.
 */
export function encodeNifti(image: MedicalImage, opts: WriteOptions = {}, file = '(memory)'): Uint8Array {
  const [c, nz, ny, nx] = image.shape;
  const nvox = spatialSize(image.shape) * c;
  if (image.data.length !== nvox) {
    throw new DataError(`image data has ${image.data.length} voxels but shape [${image.shape.join(', ')}] needs ${nvox}`, {
      file,
      hint: 'this is a bug in the stage that built the image',
    });
  }
  const dtype = opts.dtype ?? dtypeOf(image.data);
  const t = CODES[dtype];
  if (!t) throw new DataError(`unknown dtype '${dtype}' for NIfTI output`, { file });
  const tpl = isNiftiHeader(opts.template) ? opts.template : null;
  const le = tpl ? tpl.littleEndian : true;
  const L = LAYOUT[tpl?.version ?? 1];
  const dataAt = L.size + 4;

  const hdr = new Uint8Array(dataAt);
  const dv = new DataView(hdr.buffer);
  const w = fieldWriters(dv, L, le);
  // Template: keep every field of the input header, then overwrite dims/datatype/scaling/vox_offset (B33).
  if (tpl) hdr.set(tpl.raw.subarray(0, L.size));
  dv.setInt32(0, L.size, le);
  const ndim = outputDimensions(image, opts.template);
  // Unused dims: 1, or the template's 0/1 so a template header is reproduced byte for byte.
  const unused = (i: number): number => (tpl && (tpl.dim[i] === 0 || tpl.dim[i] === 1) ? tpl.dim[i]! : 1);
  const dims = [ndim, nx, ndim >= 2 ? ny : unused(2), ndim >= 3 ? nz : unused(3), ndim >= 4 ? c : unused(4), unused(5), unused(6), unused(7)];
  dims.forEach((d, i) => (L.wide ? dv.setBigInt64(L.dim + i * 8, BigInt(d), le) : dv.setInt16(L.dim + i * 2, d, le)));
  dv.setInt16(L.datatype, t.code, le);
  dv.setInt16(L.bitpix, t.bytes * 8, le);
  if (L.wide) dv.setBigInt64(L.voxOffset, BigInt(dataAt), le);
  else dv.setFloat32(L.voxOffset, dataAt, le);
  // Scaling: identity. Keep the template's "no scaling" encoding (0/0 or 1/0) when it had one.
  const keepScl = tpl && ((tpl.sclSlope === 0 || !Number.isFinite(tpl.sclSlope)) ? tpl.sclInter === 0 || !Number.isFinite(tpl.sclInter) : tpl.sclSlope === 1 && tpl.sclInter === 0);
  if (!keepScl) {
    w.float(L.sclSlope, 0, 1);
    w.float(L.sclInter, 0, 0);
  }
  writeGeometry(dv, image, tpl, le, [nx, ny, nz], L);
  if (!tpl) {
    hdr[123] = 2; // xyzt_units: mm
    hdr.set([0x6e, 0x2b, 0x31, 0], 344); // "n+1\0"
  }
  hdr.set([0, 0, 0, 0], L.size); // no extensions

  const out = new Uint8Array(dataAt + nvox * t.bytes);
  out.set(hdr);
  encodeVoxels(new DataView(out.buffer, dataAt), image.data, dtype, le, file);
  return out;
}

