/**
 * Input generator for the bad-input rows (shared/reference/bad-inputs.md).
 *
 * A deliberately permissive, byte-exact NIfTI-1/NIfTI-2 writer: unlike the product's writer it will happily
 * produce negative pixdim, scl_slope 0, dim[0] smaller than the used dims, an sform without a qform, sform rows
 * that disagree with pixdim, big-endian files, fake gzip and truncated gzip, so the readers can be tested against
 * headers a correct writer would refuse to write. Also: a tiny header parser (to check what the product's writer
 * wrote without trusting its reader), dataset-folder helpers (dataset.json v1/v2, imagesTr/labelsTr) and a minimal
 * uncompressed DICOM Part 10 writer for the series rows.
 *
 * Geometry inputs follow the recipes: shapes and spacing in NIfTI (i, j, k) order, origin and direction in ITK/LPS
 * (direction given as rows, column j = world direction of index axis j).
 */
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { gzipSync } from 'node:zlib';

// ---------------------------------------------------------------------------------------------------------------
// temp folders

const made: string[] = [];

/** A fresh temp folder (removed by `cleanupTemp`). */
export function tempDir(prefix = 'nnunet-bad-'): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  made.push(d);
  return d;
}

/** Remove every folder made by `tempDir` (call from afterAll). */
export function cleanupTemp(): void {
  for (const d of made.splice(0)) rmSync(d, { recursive: true, force: true });
}

/** Write bytes or text, creating parent folders. Returns the path. */
export function put(path: string, content: Uint8Array | string): string {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, content);
  return path;
}

// ---------------------------------------------------------------------------------------------------------------
// NIfTI writer

export type NiftiDType = 'uint8' | 'int8' | 'int16' | 'uint16' | 'int32' | 'uint32' | 'float32' | 'float64';

/** NIfTI datatype code and bits per voxel. */
export const NIFTI_DTYPES: Record<NiftiDType, { code: number; bits: number }> = {
  uint8: { code: 2, bits: 8 },
  int16: { code: 4, bits: 16 },
  int32: { code: 8, bits: 32 },
  float32: { code: 16, bits: 32 },
  float64: { code: 64, bits: 64 },
  int8: { code: 256, bits: 8 },
  uint16: { code: 512, bits: 16 },
  uint32: { code: 768, bits: 32 },
};

export interface NiftiSpec {
  /** 1 (348-byte header, default) or 2 (540-byte header). */
  version?: 1 | 2;
  /** Used dims `[ni, nj, nk, (nt, ...)]`; dim[0] = its length unless `dim0`/`rawDim` say otherwise. */
  dims: number[];
  /** Override dim[0]. */
  dim0?: number;
  /** Override the whole dim[0..7] array (wins over `dims`/`dim0` for the header; `dims` still sizes the data). */
  rawDim?: number[];
  dtype: NiftiDType;
  /** Voxel values, i fastest (then j, k, t), encoded into `dtype` (float values are truncated for int types). */
  data: ArrayLike<number>;
  /** pixdim[1..] as written (may be negative or inconsistent); default 1 for each used dim. */
  spacing?: number[];
  /** LPS origin `[x, y, z]` (default 0). */
  origin?: number[];
  /** LPS direction rows, 9 numbers (default identity). */
  direction?: number[];
  /** qform_code (default 1). 0 writes zero quaternion fields. */
  qformCode?: number;
  /** sform_code (default 1). 0 writes zero srows. */
  sformCode?: number;
  /** Raw sform rows in RAS (3 x 4), written as is (overrides the rows computed from the geometry). */
  srow?: number[][];
  /** Raw quaternion fields `[b, c, d, qx, qy, qz]` and qfac (pixdim[0]) written as is. */
  quatern?: { b: number; c: number; d: number; offset: number[]; qfac: number };
  sclSlope?: number;
  sclInter?: number;
  bigEndian?: boolean;
  /** Raw extension bytes after the header (a 4-byte extender {1,0,0,0} is written when given). */
  extension?: Uint8Array;
  /** Override vox_offset (default: right after header + extender + extension). */
  voxOffset?: number;
  descrip?: string;
  xyztUnits?: number;
}

/** World affine (LPS, 3x4) from spacing (signed, as given), origin and direction rows: A = D * diag(s). */
export function lpsAffine(spacing: number[], origin: number[], direction: number[]): number[][] {
  const a: number[][] = [];
  for (let r = 0; r < 3; r++) {
    a.push([0, 1, 2].map((c) => direction[r * 3 + c]! * (spacing[c] ?? 1)).concat(origin[r] ?? 0));
  }
  return a;
}

/** Quaternion (b, c, d) and qfac of a 3x3 matrix with orthonormal columns (nifti1_io mat44_to_quatern logic). */
export function rotationToQuatern(m: number[][]): { b: number; c: number; d: number; qfac: number } {
  const [r11, r12] = m[0]!;
  const [r21, r22] = m[1]!;
  const [r31, r32] = m[2]!;
  let r13 = m[0]![2];
  let r23 = m[1]![2];
  let r33 = m[2]![2];
  const det =
    r11! * r22! * r33! - r11! * r32! * r23! - r21! * r12! * r33! + r21! * r32! * r13! + r31! * r12! * r23! - r31! * r22! * r13!;
  let qfac = 1;
  if (det < 0) {
    qfac = -1;
    r13 = -r13!;
    r23 = -r23!;
    r33 = -r33!;
  }
  let a = r11! + r22! + r33! + 1;
  let b: number, c: number, d: number;
  if (a > 0.5) {
    a = 0.5 * Math.sqrt(a);
    b = (0.25 * (r32! - r23!)) / a;
    c = (0.25 * (r13! - r31!)) / a;
    d = (0.25 * (r21! - r12!)) / a;
  } else {
    const xd = 1 + r11! - (r22! + r33!);
    const yd = 1 + r22! - (r11! + r33!);
    const zd = 1 + r33! - (r11! + r22!);
    if (xd > 1) {
      b = 0.5 * Math.sqrt(xd);
      c = (0.25 * (r12! + r21!)) / b;
      d = (0.25 * (r13! + r31!)) / b;
      a = (0.25 * (r32! - r23!)) / b;
    } else if (yd > 1) {
      c = 0.5 * Math.sqrt(yd);
      b = (0.25 * (r12! + r21!)) / c;
      d = (0.25 * (r23! + r32!)) / c;
      a = (0.25 * (r13! - r31!)) / c;
    } else {
      d = 0.5 * Math.sqrt(zd);
      b = (0.25 * (r13! + r31!)) / d;
      c = (0.25 * (r23! + r32!)) / d;
      a = (0.25 * (r21! - r12!)) / d;
    }
    if (a < 0) {
      b = -b;
      c = -c;
      d = -d;
    }
  }
  return { b, c, d, qfac };
}

/** Encode voxel values into `dtype` bytes with the given endianness. */
export function encodeVoxels(values: ArrayLike<number>, dtype: NiftiDType, bigEndian = false): Uint8Array {
  const bytes = NIFTI_DTYPES[dtype].bits / 8;
  const out = new Uint8Array(values.length * bytes);
  const dv = new DataView(out.buffer);
  const le = !bigEndian;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    const o = i * bytes;
    switch (dtype) {
      case 'uint8': dv.setUint8(o, v); break;
      case 'int8': dv.setInt8(o, v); break;
      case 'int16': dv.setInt16(o, v, le); break;
      case 'uint16': dv.setUint16(o, v, le); break;
      case 'int32': dv.setInt32(o, v, le); break;
      case 'uint32': dv.setUint32(o, v, le); break;
      case 'float32': dv.setFloat32(o, v, le); break;
      case 'float64': dv.setFloat64(o, v, le); break;
    }
  }
  return out;
}

/** Header fields derived from a spec: dim, pixdim, quaternion, srows (RAS). */
function headerFields(s: NiftiSpec) {
  const nUsed = s.dims.length;
  const dim = s.rawDim ?? [s.dim0 ?? nUsed, ...s.dims, ...new Array(7 - nUsed).fill(1)].slice(0, 8);
  while (dim.length < 8) dim.push(1);
  const spacing = s.spacing ?? s.dims.map(() => 1);
  const origin = s.origin ?? [0, 0, 0];
  const direction = s.direction ?? [1, 0, 0, 0, 1, 0, 0, 0, 1];
  // world affine in LPS with the signed spacing, then RAS = diag(-1,-1,1) * LPS
  const lps = lpsAffine(spacing.slice(0, 3), origin, direction);
  const flip = [-1, -1, 1];
  const ras = lps.map((row, r) => row.map((v) => v * flip[r]!));
  const qformCode = s.qformCode ?? 1;
  const sformCode = s.sformCode ?? 1;
  let quatern = s.quatern;
  if (!quatern) {
    // rotation part R = M * diag(1/p) with the signed pixdim p; a negative determinant goes into qfac
    const p = [0, 1, 2].map((c) => spacing[c] ?? 1);
    const r = [0, 1, 2].map((row) => [0, 1, 2].map((c) => ras[row]![c]! / p[c]!));
    const q = rotationToQuatern(r);
    quatern = { b: q.b, c: q.c, d: q.d, offset: [ras[0]![3]!, ras[1]![3]!, ras[2]![3]!], qfac: q.qfac };
  }
  const srow = s.srow ?? ras;
  const pixdim = [quatern.qfac, ...spacing, ...new Array(7 - spacing.length).fill(0)].slice(0, 8);
  // unused spatial entries default to 1 (not 0) so the header looks like a normal writer's
  for (let i = spacing.length + 1; i <= 3; i++) pixdim[i] = 1;
  return { dim, pixdim, quatern, srow, qformCode, sformCode };
}

/** Raw (uncompressed) NIfTI-1 or NIfTI-2 bytes for a spec. */
export function niftiBytes(s: NiftiSpec): Uint8Array {
  const v2 = s.version === 2;
  const hdrSize = v2 ? 540 : 348;
  const ext = s.extension;
  const extLen = ext ? ext.length : 0;
  const voxOffset = s.voxOffset ?? hdrSize + 4 + extLen;
  const voxels = encodeVoxels(s.data, s.dtype, s.bigEndian);
  const out = new Uint8Array(Math.max(voxOffset, hdrSize + 4 + extLen) + voxels.length);
  const dv = new DataView(out.buffer);
  const le = !s.bigEndian;
  const f = headerFields(s);
  const { code, bits } = NIFTI_DTYPES[s.dtype];
  const ascii = (off: number, text: string, max: number) => {
    for (let i = 0; i < Math.min(text.length, max); i++) out[off + i] = text.charCodeAt(i) & 0xff;
  };
  const qf = f.qformCode > 0;
  const sf = f.sformCode > 0;
  if (!v2) {
    dv.setInt32(0, 348, le);
    dv.setUint8(38, 'r'.charCodeAt(0));
    for (let i = 0; i < 8; i++) dv.setInt16(40 + 2 * i, f.dim[i]!, le);
    dv.setInt16(70, code, le);
    dv.setInt16(72, bits, le);
    for (let i = 0; i < 8; i++) dv.setFloat32(76 + 4 * i, f.pixdim[i]!, le);
    dv.setFloat32(108, voxOffset, le);
    dv.setFloat32(112, s.sclSlope ?? 1, le);
    dv.setFloat32(116, s.sclInter ?? 0, le);
    dv.setUint8(123, s.xyztUnits ?? 10);
    ascii(148, s.descrip ?? 'nnunet-ts bad-input generator', 80);
    dv.setInt16(252, f.qformCode, le);
    dv.setInt16(254, f.sformCode, le);
    if (qf) {
      dv.setFloat32(256, f.quatern.b, le);
      dv.setFloat32(260, f.quatern.c, le);
      dv.setFloat32(264, f.quatern.d, le);
      for (let i = 0; i < 3; i++) dv.setFloat32(268 + 4 * i, f.quatern.offset[i]!, le);
    }
    if (sf) for (let r = 0; r < 3; r++) for (let c = 0; c < 4; c++) dv.setFloat32(280 + 16 * r + 4 * c, f.srow[r]![c]!, le);
    ascii(344, 'n+1\0', 4);
  } else {
    dv.setInt32(0, 540, le);
    out.set([0x6e, 0x2b, 0x32, 0x00, 0x0d, 0x0a, 0x1a, 0x0a], 4);
    dv.setInt16(12, code, le);
    dv.setInt16(14, bits, le);
    for (let i = 0; i < 8; i++) dv.setBigInt64(16 + 8 * i, BigInt(f.dim[i]!), le);
    for (let i = 0; i < 8; i++) dv.setFloat64(104 + 8 * i, f.pixdim[i]!, le);
    dv.setBigInt64(168, BigInt(voxOffset), le);
    dv.setFloat64(176, s.sclSlope ?? 1, le);
    dv.setFloat64(184, s.sclInter ?? 0, le);
    ascii(240, s.descrip ?? 'nnunet-ts bad-input generator', 80);
    dv.setInt32(344, f.qformCode, le);
    dv.setInt32(348, f.sformCode, le);
    if (qf) {
      dv.setFloat64(352, f.quatern.b, le);
      dv.setFloat64(360, f.quatern.c, le);
      dv.setFloat64(368, f.quatern.d, le);
      for (let i = 0; i < 3; i++) dv.setFloat64(376 + 8 * i, f.quatern.offset[i]!, le);
    }
    if (sf) for (let r = 0; r < 3; r++) for (let c = 0; c < 4; c++) dv.setFloat64(400 + 32 * r + 8 * c, f.srow[r]![c]!, le);
    dv.setInt32(500, s.xyztUnits ?? 10, le);
  }
  if (ext) {
    out[hdrSize] = 1;
    out.set(ext, hdrSize + 4);
  }
  out.set(voxels, voxOffset);
  return out;
}

/** Write a NIfTI file; gzips when the path ends in `.gz` unless `gzip` says otherwise (fake gzip: `gzip: false`). */
export function writeNiftiFile(path: string, s: NiftiSpec, opts: { gzip?: boolean } = {}): string {
  const raw = niftiBytes(s);
  const gz = opts.gzip ?? path.endsWith('.gz');
  return put(path, gz ? gzipSync(raw) : raw);
}

/** Convenience: a 3D volume spec from `[ni, nj, nk]`, dtype, values, and optional geometry. */
export function vol(
  dims: [number, number, number],
  dtype: NiftiDType,
  data: ArrayLike<number> | ((i: number, j: number, k: number) => number),
  geo: Partial<Pick<NiftiSpec, 'spacing' | 'origin' | 'direction' | 'qformCode' | 'sformCode'>> = {},
): NiftiSpec {
  const values = typeof data === 'function' ? fill(dims, data) : data;
  return { dims, dtype, data: values, ...geo };
}

/** Values `f(i, j, k)` in i-fastest order. */
export function fill(dims: number[], f: (i: number, j: number, k: number) => number): Float64Array {
  const [ni, nj, nk] = dims as [number, number, number];
  const out = new Float64Array(ni * nj * nk);
  let n = 0;
  for (let k = 0; k < nk; k++) for (let j = 0; j < nj; j++) for (let i = 0; i < ni; i++) out[n++] = f(i, j, k);
  return out;
}

/** Deterministic pseudo-random numbers in [0, 1) (mulberry32). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// ---------------------------------------------------------------------------------------------------------------
// minimal header parser (to inspect what the product's writer wrote without trusting its reader)

export interface ParsedHeader {
  version: 1 | 2;
  littleEndian: boolean;
  dim: number[];
  datatype: number;
  pixdim: number[];
  voxOffset: number;
  sclSlope: number;
  sclInter: number;
  qformCode: number;
  sformCode: number;
  quatern: number[];
  srow: number[][];
}

/** Parse an uncompressed NIfTI-1/2 header (call `gunzipSync` first for .nii.gz). */
export function parseNiftiHeader(bytes: Uint8Array): ParsedHeader {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let le = true;
  let size = dv.getInt32(0, true);
  if (size !== 348 && size !== 540) {
    le = false;
    size = dv.getInt32(0, false);
  }
  if (size === 348) {
    const dim = [0, 1, 2, 3, 4, 5, 6, 7].map((i) => dv.getInt16(40 + 2 * i, le));
    return {
      version: 1,
      littleEndian: le,
      dim,
      datatype: dv.getInt16(70, le),
      pixdim: [0, 1, 2, 3, 4, 5, 6, 7].map((i) => dv.getFloat32(76 + 4 * i, le)),
      voxOffset: dv.getFloat32(108, le),
      sclSlope: dv.getFloat32(112, le),
      sclInter: dv.getFloat32(116, le),
      qformCode: dv.getInt16(252, le),
      sformCode: dv.getInt16(254, le),
      quatern: [0, 1, 2, 3, 4, 5].map((i) => dv.getFloat32(256 + 4 * i, le)),
      srow: [0, 1, 2].map((r) => [0, 1, 2, 3].map((c) => dv.getFloat32(280 + 16 * r + 4 * c, le))),
    };
  }
  if (size === 540) {
    return {
      version: 2,
      littleEndian: le,
      dim: [0, 1, 2, 3, 4, 5, 6, 7].map((i) => Number(dv.getBigInt64(16 + 8 * i, le))),
      datatype: dv.getInt16(12, le),
      pixdim: [0, 1, 2, 3, 4, 5, 6, 7].map((i) => dv.getFloat64(104 + 8 * i, le)),
      voxOffset: Number(dv.getBigInt64(168, le)),
      sclSlope: dv.getFloat64(176, le),
      sclInter: dv.getFloat64(184, le),
      qformCode: dv.getInt32(344, le),
      sformCode: dv.getInt32(348, le),
      quatern: [0, 1, 2, 3, 4, 5].map((i) => dv.getFloat64(352 + 8 * i, le)),
      srow: [0, 1, 2].map((r) => [0, 1, 2, 3].map((c) => dv.getFloat64(400 + 32 * r + 8 * c, le))),
    };
  }
  throw new Error(`not a NIfTI header (sizeof_hdr ${size})`);
}

// ---------------------------------------------------------------------------------------------------------------
// geometry helpers for assertions

/** 3x3 row-major product. */
export function matMul3(a: number[], b: number[]): number[] {
  const o = new Array(9).fill(0);
  for (let r = 0; r < 3; r++) for (let c = 0; c < 3; c++) for (let k = 0; k < 3; k++) o[r * 3 + c] += a[r * 3 + k]! * b[k * 3 + c]!;
  return o;
}

export function transpose3(a: number[]): number[] {
  return [a[0]!, a[3]!, a[6]!, a[1]!, a[4]!, a[7]!, a[2]!, a[5]!, a[8]!];
}

/** Angle (degrees) of the rotation taking direction `a` to `b` (both orthonormal, row-major). */
export function rotationAngleDeg(a: number[], b: number[]): number {
  const r = matMul3(b, transpose3(a));
  const c = Math.min(1, Math.max(-1, (r[0]! + r[4]! + r[8]! - 1) / 2));
  return (Math.acos(c) * 180) / Math.PI;
}

/** Orthonormalise the columns of a row-major 3x3 matrix (Gram-Schmidt, column 0 first). */
export function orthonormalColumns(m: number[]): number[] {
  const cols = [0, 1, 2].map((c) => [m[c]!, m[3 + c]!, m[6 + c]!]);
  const out: number[][] = [];
  for (const v of cols) {
    const w = [...v];
    for (const u of out) {
      const d = u[0]! * v[0]! + u[1]! * v[1]! + u[2]! * v[2]!;
      for (let i = 0; i < 3; i++) w[i]! -= d * u[i]!;
    }
    const n = Math.hypot(w[0]!, w[1]!, w[2]!);
    out.push(w.map((x) => x / n));
  }
  return [0, 1, 2].flatMap((r) => [out[0]![r]!, out[1]![r]!, out[2]![r]!]);
}

/** Rotation about x by `deg` degrees (row-major). */
export function rotX(deg: number): number[] {
  const t = (deg * Math.PI) / 180;
  return [1, 0, 0, 0, Math.cos(t), -Math.sin(t), 0, Math.sin(t), Math.cos(t)];
}

/** LPS world point of voxel (i, j, k) from the recipe-style geometry (spacing (i, j, k), direction rows). */
export function worldOf(spacingIJK: number[], origin: number[], direction: number[], ijk: number[]): number[] {
  const a = lpsAffine(spacingIJK, origin, direction);
  return a.map((row) => row[0]! * ijk[0]! + row[1]! * ijk[1]! + row[2]! * ijk[2]! + row[3]!);
}

// ---------------------------------------------------------------------------------------------------------------
// dataset folders

export interface DatasetJsonV2 {
  channel_names: Record<string, string>;
  labels: Record<string, number | number[]>;
  numTraining: number;
  file_ending: string;
  [k: string]: unknown;
}

/** dataset.json v2 with the given channels and labels (name -> value). */
export function datasetJsonV2(
  channels: string[],
  labels: Record<string, number>,
  numTraining: number,
  fileEnding = '.nii.gz',
  extra: Record<string, unknown> = {},
): DatasetJsonV2 {
  return {
    channel_names: Object.fromEntries(channels.map((c, i) => [String(i), c])),
    labels,
    numTraining,
    file_ending: fileEnding,
    name: 'bad-inputs',
    ...extra,
  };
}

/** A v2 raw dataset folder `<parent>/DatasetNNN_Name` with dataset.json; returns its root. */
export function makeDatasetV2(
  parent: string,
  json: DatasetJsonV2 | Record<string, unknown> | string,
  name = 'Dataset999_BadInputs',
): string {
  const root = join(parent, name);
  mkdirSync(join(root, 'imagesTr'), { recursive: true });
  mkdirSync(join(root, 'labelsTr'), { recursive: true });
  put(join(root, 'dataset.json'), typeof json === 'string' ? json : JSON.stringify(json, null, 2));
  return root;
}

/** Write channel files `imagesTr/<id>_000c<ending>` and the label `labelsTr/<id><ending>`. */
export function addCase(
  root: string,
  id: string,
  channels: NiftiSpec[],
  label: NiftiSpec | null,
  ending = '.nii.gz',
  imagesFolder = 'imagesTr',
): { images: string[]; label?: string } {
  const images = channels.map((c, i) =>
    writeNiftiFile(join(root, imagesFolder, `${id}_${String(i).padStart(4, '0')}${ending}`), c),
  );
  const lab = label ? writeNiftiFile(join(root, 'labelsTr', `${id}${ending}`), label) : undefined;
  return { images, label: lab };
}

// ---------------------------------------------------------------------------------------------------------------
// minimal DICOM (Part 10, explicit VR little endian, uncompressed, one frame per file)

export interface DicomSlice {
  rows: number;
  columns: number;
  /** Row-major pixels, `rows * columns`, stored as uint16 (pixelRepresentation 0) or int16 (1). */
  pixels: ArrayLike<number>;
  imagePositionPatient: [number, number, number];
  imageOrientationPatient?: [number, number, number, number, number, number];
  /** [row spacing, column spacing] mm. */
  pixelSpacing?: [number, number];
  sliceThickness?: number;
  pixelRepresentation?: 0 | 1;
  rescaleSlope?: number;
  rescaleIntercept?: number;
  instanceNumber: number;
  seriesInstanceUID?: string;
  studyInstanceUID?: string;
  sopInstanceUID?: string;
  modality?: string;
}

function dicomElement(group: number, element: number, vr: string, value: Uint8Array): Uint8Array {
  let v = value;
  if (v.length % 2 === 1) {
    const padded = new Uint8Array(v.length + 1);
    padded.set(v);
    padded[v.length] = vr === 'UI' || vr === 'OB' || vr === 'OW' ? 0 : 0x20;
    v = padded;
  }
  const long = ['OB', 'OW', 'OF', 'SQ', 'UT', 'UN'].includes(vr);
  const head = new Uint8Array(long ? 12 : 8);
  const dv = new DataView(head.buffer);
  dv.setUint16(0, group, true);
  dv.setUint16(2, element, true);
  head[4] = vr.charCodeAt(0);
  head[5] = vr.charCodeAt(1);
  if (long) dv.setUint32(8, v.length, true);
  else dv.setUint16(6, v.length, true);
  const out = new Uint8Array(head.length + v.length);
  out.set(head);
  out.set(v, head.length);
  return out;
}

const txt = (s: string) => new TextEncoder().encode(s);
const us = (n: number) => {
  const b = new Uint8Array(2);
  new DataView(b.buffer).setUint16(0, n, true);
  return b;
};
const ul = (n: number) => {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n, true);
  return b;
};
const ds = (xs: number[]) => txt(xs.map((x) => String(Number(x.toPrecision(10)))).join('\\'));

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Bytes of a minimal single-frame CT/MR DICOM file (elements in ascending tag order). */
export function dicomBytes(s: DicomSlice): Uint8Array {
  const sop = s.sopInstanceUID ?? `1.2.826.0.1.3680043.9.9999.1.${s.instanceNumber}`;
  const ts = '1.2.840.10008.1.2.1';
  const sopClass = '1.2.840.10008.5.1.4.1.1.2'; // CT Image Storage
  const metaBody = concat([
    dicomElement(0x0002, 0x0001, 'OB', new Uint8Array([0, 1])),
    dicomElement(0x0002, 0x0002, 'UI', txt(sopClass)),
    dicomElement(0x0002, 0x0003, 'UI', txt(sop)),
    dicomElement(0x0002, 0x0010, 'UI', txt(ts)),
    dicomElement(0x0002, 0x0012, 'UI', txt('1.2.826.0.1.3680043.9.9999')),
  ]);
  const meta = concat([dicomElement(0x0002, 0x0000, 'UL', ul(metaBody.length)), metaBody]);
  const pr = s.pixelRepresentation ?? 1;
  const px = new Uint8Array(s.rows * s.columns * 2);
  const pdv = new DataView(px.buffer);
  for (let i = 0; i < s.rows * s.columns; i++) {
    if (pr === 1) pdv.setInt16(i * 2, s.pixels[i]!, true);
    else pdv.setUint16(i * 2, s.pixels[i]!, true);
  }
  const body = concat([
    dicomElement(0x0008, 0x0016, 'UI', txt(sopClass)),
    dicomElement(0x0008, 0x0018, 'UI', txt(sop)),
    dicomElement(0x0008, 0x0060, 'CS', txt(s.modality ?? 'CT')),
    dicomElement(0x0010, 0x0010, 'PN', txt('Synthetic^BadInput')),
    dicomElement(0x0010, 0x0020, 'LO', txt('BAD0001')),
    dicomElement(0x0018, 0x0050, 'DS', ds([s.sliceThickness ?? 2])),
    dicomElement(0x0020, 0x000d, 'UI', txt(s.studyInstanceUID ?? '1.2.826.0.1.3680043.9.9999.2')),
    dicomElement(0x0020, 0x000e, 'UI', txt(s.seriesInstanceUID ?? '1.2.826.0.1.3680043.9.9999.3')),
    dicomElement(0x0020, 0x0013, 'IS', txt(String(s.instanceNumber))),
    dicomElement(0x0020, 0x0032, 'DS', ds(s.imagePositionPatient)),
    dicomElement(0x0020, 0x0037, 'DS', ds(s.imageOrientationPatient ?? [1, 0, 0, 0, 1, 0])),
    dicomElement(0x0028, 0x0002, 'US', us(1)),
    dicomElement(0x0028, 0x0004, 'CS', txt('MONOCHROME2')),
    dicomElement(0x0028, 0x0010, 'US', us(s.rows)),
    dicomElement(0x0028, 0x0011, 'US', us(s.columns)),
    dicomElement(0x0028, 0x0030, 'DS', ds(s.pixelSpacing ?? [1, 1])),
    dicomElement(0x0028, 0x0100, 'US', us(16)),
    dicomElement(0x0028, 0x0101, 'US', us(16)),
    dicomElement(0x0028, 0x0102, 'US', us(15)),
    dicomElement(0x0028, 0x0103, 'US', us(pr)),
    dicomElement(0x0028, 0x1052, 'DS', ds([s.rescaleIntercept ?? 0])),
    dicomElement(0x0028, 0x1053, 'DS', ds([s.rescaleSlope ?? 1])),
    dicomElement(0x7fe0, 0x0010, 'OW', px),
  ]);
  const preamble = new Uint8Array(132);
  preamble.set(txt('DICM'), 128);
  return concat([preamble, meta, body]);
}
