import { NIFTI1, NIFTI2 } from 'nifti-reader-js';
import { DataError } from '@nnunet-ts/core';

/**
 * The parts of a NIfTI-1/NIfTI-2 header this package uses, in one version-independent shape.
 * Numbers are as stored (no defaults applied); `raw` keeps the header bytes and any extensions
 * (bytes `[0, vox_offset)`) so a writer can reproduce the input header (bad-inputs B33).
 */
export interface NiftiHeader {
  /** 1 (348-byte header) or 2 (540-byte header). */
  version: 1 | 2;
  littleEndian: boolean;
  /** `dim[0..7]` as stored. */
  dim: number[];
  /** NIfTI datatype code (2 uint8, 4 int16, 8 int32, 16 float32, 64 float64, 256 int8, 512 uint16, 768 uint32, ...). */
  datatype: number;
  bitpix: number;
  /** `pixdim[0..7]` as stored; pixdim[0] carries qfac. */
  pixdim: number[];
  /** Byte offset of the voxel data in the (decompressed) file. */
  voxOffset: number;
  sclSlope: number;
  sclInter: number;
  qformCode: number;
  sformCode: number;
  quatern: [number, number, number];
  qoffset: [number, number, number];
  /** `srow_x, srow_y, srow_z` (RAS, mm), 3 rows of 4. */
  srow: number[][];
  xyztUnits: number;
  intentCode: number;
  descrip: string;
  /** Header bytes plus extensions, `[0, vox_offset)` (or just the header when vox_offset is smaller). */
  raw: Uint8Array;
}

/** sizeof_hdr of the first four bytes, in either endianness, or 0 when it is neither 348 nor 540. */
export function sizeofHdr(head: Uint8Array): 0 | 348 | 540 {
  if (head.length < 4) return 0;
  const dv = new DataView(head.buffer, head.byteOffset, 4);
  for (const le of [true, false]) {
    const v = dv.getInt32(0, le);
    if (v === 348 || v === 540) return v;
  }
  return 0;
}

/** True when the bytes start with the gzip magic `1f 8b` (RFC 1952). */
export function isGzip(head: Uint8Array): boolean {
  return head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b;
}

/**
 * Parse a NIfTI-1 or NIfTI-2 header with nifti-reader-js (fields) plus the srow rows read directly (nifti-reader-js
 * only fills its `affine` from srow when sform_code > qform_code). `bytes` must start at the header; at least
 * sizeof_hdr bytes. Throws `DataError` naming `file` when the bytes are not a single-file NIfTI header.
 */
export function parseHeader(bytes: Uint8Array, file: string): NiftiHeader {
  const size = sizeofHdr(bytes);
  if (size === 0 || bytes.length < size) {
    throw new DataError(`not a NIfTI file (sizeof_hdr is not 348 or 540, or the header is cut short)`, {
      file,
      hint: 'check that the file is a NIfTI-1/NIfTI-2 image (.nii or .nii.gz)',
    });
  }
  // Only the fixed header goes to nifti-reader-js, so it does not try to parse extensions (we skip them via vox_offset).
  const hdrBuf = new Uint8Array(bytes.subarray(0, size)).buffer as ArrayBuffer; // a copy (Buffer.slice is a view)
  const dv = new DataView(hdrBuf);
  const magicAt = size === 348 ? 344 : 4;
  const magic = String.fromCharCode(dv.getUint8(magicAt), dv.getUint8(magicAt + 1), dv.getUint8(magicAt + 2));
  if (magic === 'ni1' || magic === 'ni2') {
    throw new DataError(`is the header of a .hdr/.img pair, which is not supported`, {
      file,
      hint: 'convert it to a single .nii/.nii.gz file (e.g. with nibabel or ITK)',
    });
  }
  if (magic !== 'n+1' && magic !== 'n+2') {
    throw new DataError(`not a NIfTI file (magic '${JSON.stringify(magic)}' is not n+1/n+2)`, {
      file,
      hint: 'Analyze 7.5 files are not supported; convert the file to NIfTI',
    });
  }
  let h: NIFTI1 | NIFTI2;
  try {
    h = size === 348 ? new NIFTI1() : new NIFTI2();
    h.readHeader(hdrBuf);
  } catch (e) {
    throw new DataError(`unreadable NIfTI header (${(e as Error).message})`, { file, cause: e });
  }
  const le = h.littleEndian;
  const srow: number[][] = [];
  for (let r = 0; r < 3; r++) {
    const row: number[] = [];
    for (let c = 0; c < 4; c++) {
      row.push(size === 348 ? dv.getFloat32(280 + (r * 4 + c) * 4, le) : dv.getFloat64(400 + (r * 4 + c) * 8, le));
    }
    srow.push(row);
  }
  // NIfTI-2 dims and vox_offset are int64 (nifti2.h); read them here (nifti-reader-js keeps only 32 bits, so a
  // corrupt high word would silently give another shape)
  const dim = size === 348 ? h.dims.map(Number) : Array.from({ length: 8 }, (_, i) => Number(dv.getBigInt64(16 + 8 * i, le)));
  const voxOffset = size === 348 ? Number(h.vox_offset) : Number(dv.getBigInt64(168, le));
  const rawEnd = Math.min(bytes.length, Math.max(size, Number.isFinite(voxOffset) ? voxOffset : size));
  return {
    version: size === 348 ? 1 : 2,
    littleEndian: le,
    dim,
    datatype: h.datatypeCode,
    bitpix: h.numBitsPerVoxel,
    pixdim: [...h.pixDims],
    voxOffset,
    sclSlope: h.scl_slope,
    sclInter: h.scl_inter,
    qformCode: h.qform_code,
    sformCode: h.sform_code,
    quatern: [h.quatern_b, h.quatern_c, h.quatern_d],
    qoffset: [h.qoffset_x, h.qoffset_y, h.qoffset_z],
    srow,
    xyztUnits: h.xyzt_units,
    intentCode: h.intent_code,
    descrip: h.description,
    raw: new Uint8Array(bytes.subarray(0, rawEnd)),
  };
}

/** Supported NIfTI datatypes: code -> name and bytes per voxel. */
export const DATATYPES: Record<number, { name: string; bytes: number }> = {
  2: { name: 'uint8', bytes: 1 },
  4: { name: 'int16', bytes: 2 },
  8: { name: 'int32', bytes: 4 },
  16: { name: 'float32', bytes: 4 },
  64: { name: 'float64', bytes: 8 },
  256: { name: 'int8', bytes: 1 },
  512: { name: 'uint16', bytes: 2 },
  768: { name: 'uint32', bytes: 4 },
  // read when every value is exact in float64 (|v| <= 2^53; `typedView`): nibabel writes np.int64 arrays so
  1024: { name: 'int64', bytes: 8 },
  1280: { name: 'uint64', bytes: 8 },
};

/** Names of NIfTI datatypes we reject, for messages (nifti1.h). */
const UNSUPPORTED: Record<number, string> = {
  1: 'binary (1 bit)',
  32: 'complex64',
  128: 'RGB24',
  1536: 'float128',
  1792: 'complex128',
  2048: 'complex256',
  2304: 'RGBA32',
};

/** Datatype info, or a `DataError` naming the file for binary/RGB/complex/float128/unknown codes. */
export function datatypeInfo(code: number, file: string): { name: string; bytes: number } {
  const t = DATATYPES[code];
  if (t) return t;
  const what = UNSUPPORTED[code] ?? `unknown datatype code ${code}`;
  throw new DataError(`NIfTI datatype ${what} is not supported (supported: uint8, int8, int16, uint16, int32, uint32, int64, uint64, float32, float64)`, {
    file,
    hint:
      code === 128 || code === 2304
        ? 'convert the colour image to one scalar channel per file (_0000, _0001, ...)'
        : 'convert the image to a scalar integer or float type (e.g. float32)',
  });
}

/**
 * Effective image extents from `dim`: entries beyond dim[0] or <= 0 count as 1 (bad-inputs B11).
 * Returns `[nx, ny, nz, nt, nu, nv, nw]`. Throws `DataError` for dim[0] outside 1..7.
 */
export function effectiveDims(h: NiftiHeader, file: string): number[] {
  const n = h.dim[0]!;
  if (!(n >= 1 && n <= 7)) {
    throw new DataError(`invalid NIfTI dim[0] = ${n} (must be 1..7)`, { file, hint: 'the header is corrupt' });
  }
  const out: number[] = [];
  for (let i = 1; i <= 7; i++) {
    const d = h.dim[i]!;
    out.push(i <= n && d > 0 ? d : 1);
  }
  return out;
}
