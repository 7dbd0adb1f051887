/**
 * Hand-built NIfTI files for tests: every field is written explicitly at its NIfTI-1 / NIfTI-2 offset (nifti1.h,
 * nifti2.h), independent of the writer under test.
 */
export interface BuildOptions {
  version?: 1 | 2;
  littleEndian?: boolean;
  /** dim[0..7]; missing entries are 0. */
  dim: number[];
  datatype: number;
  bitpix?: number;
  /** pixdim[0..7]; missing entries are 0 (pixdim[0] = qfac). */
  pixdim?: number[];
  sclSlope?: number;
  sclInter?: number;
  qformCode?: number;
  sformCode?: number;
  quatern?: [number, number, number];
  qoffset?: [number, number, number];
  srow?: number[][];
  /** Extension bytes placed after the 4-byte extension flag (flag set when given); vox_offset moves accordingly. */
  extension?: Uint8Array;
  voxOffset?: number;
  /** Voxel values, written in `datatype` with the header's endianness. */
  values: ArrayLike<number>;
}

const SIZES: Record<number, number> = { 2: 1, 256: 1, 4: 2, 512: 2, 8: 4, 768: 4, 16: 4, 64: 8, 128: 3, 1024: 8, 1280: 8 };

export function buildNifti(o: BuildOptions): Uint8Array {
  const v = o.version ?? 1;
  const le = o.littleEndian ?? true;
  const hsize = v === 1 ? 348 : 540;
  const ext = o.extension ?? new Uint8Array(0);
  const voxOffset = o.voxOffset ?? hsize + 4 + ext.length;
  const bytesPer = SIZES[o.datatype] ?? 1;
  const out = new Uint8Array(voxOffset + o.values.length * bytesPer);
  const dv = new DataView(out.buffer);
  const dim = [...o.dim, 0, 0, 0, 0, 0, 0, 0, 0].slice(0, 8);
  const pix = [...(o.pixdim ?? [1, 1, 1, 1]), 0, 0, 0, 0, 0, 0, 0, 0].slice(0, 8);
  const srow = o.srow ?? [
    [0, 0, 0, 0],
    [0, 0, 0, 0],
    [0, 0, 0, 0],
  ];
  const q = o.quatern ?? [0, 0, 0];
  const qo = o.qoffset ?? [0, 0, 0];
  dv.setInt32(0, hsize, le);
  if (v === 1) {
    dim.forEach((d, i) => dv.setInt16(40 + 2 * i, d, le));
    dv.setInt16(70, o.datatype, le);
    dv.setInt16(72, o.bitpix ?? bytesPer * 8, le);
    pix.forEach((p, i) => dv.setFloat32(76 + 4 * i, p, le));
    dv.setFloat32(108, voxOffset, le);
    dv.setFloat32(112, o.sclSlope ?? 0, le);
    dv.setFloat32(116, o.sclInter ?? 0, le);
    out[123] = 2;
    dv.setInt16(252, o.qformCode ?? 0, le);
    dv.setInt16(254, o.sformCode ?? 0, le);
    q.forEach((x, i) => dv.setFloat32(256 + 4 * i, x, le));
    qo.forEach((x, i) => dv.setFloat32(268 + 4 * i, x, le));
    srow.forEach((r, ri) => r.forEach((x, ci) => dv.setFloat32(280 + 4 * (ri * 4 + ci), x, le)));
    out.set([0x6e, 0x2b, 0x31, 0], 344);
  } else {
    out.set([0x6e, 0x2b, 0x32, 0, 0x0d, 0x0a, 0x1a, 0x0a], 4);
    dv.setInt16(12, o.datatype, le);
    dv.setInt16(14, o.bitpix ?? bytesPer * 8, le);
    dim.forEach((d, i) => dv.setBigInt64(16 + 8 * i, BigInt(d), le));
    pix.forEach((p, i) => dv.setFloat64(104 + 8 * i, p, le));
    dv.setBigInt64(168, BigInt(voxOffset), le);
    dv.setFloat64(176, o.sclSlope ?? 0, le);
    dv.setFloat64(184, o.sclInter ?? 0, le);
    dv.setInt32(344, o.qformCode ?? 0, le);
    dv.setInt32(348, o.sformCode ?? 0, le);
    q.forEach((x, i) => dv.setFloat64(352 + 8 * i, x, le));
    qo.forEach((x, i) => dv.setFloat64(376 + 8 * i, x, le));
    srow.forEach((r, ri) => r.forEach((x, ci) => dv.setFloat64(400 + 8 * (ri * 4 + ci), x, le)));
    dv.setInt32(500, 2, le);
  }
  if (ext.length) {
    out[hsize] = 1;
    out.set(ext, hsize + 4);
  }
  const body = voxOffset;
  for (let i = 0; i < o.values.length; i++) {
    const x = o.values[i]!;
    const at = body + i * bytesPer;
    switch (o.datatype) {
      case 2:
        dv.setUint8(at, x);
        break;
      case 256:
        dv.setInt8(at, x);
        break;
      case 4:
        dv.setInt16(at, x, le);
        break;
      case 512:
        dv.setUint16(at, x, le);
        break;
      case 8:
        dv.setInt32(at, x, le);
        break;
      case 768:
        dv.setUint32(at, x, le);
        break;
      case 16:
        dv.setFloat32(at, x, le);
        break;
      case 64:
        dv.setFloat64(at, x, le);
        break;
      case 1024:
        dv.setBigInt64(at, BigInt(x), le);
        break;
      case 1280:
        dv.setBigUint64(at, BigInt(x), le);
        break;
      default:
        dv.setUint8(at, x);
    }
  }
  return out;
}

/** An NIfTI-1 extension block (esize, ecode, payload padded to a multiple of 16). */
export function extensionBlock(payload: string, ecode = 6): Uint8Array {
  const text = new TextEncoder().encode(payload);
  const esize = Math.ceil((8 + text.length) / 16) * 16;
  const out = new Uint8Array(esize);
  const dv = new DataView(out.buffer);
  dv.setInt32(0, esize, true);
  dv.setInt32(4, ecode, true);
  out.set(text, 8);
  return out;
}
