/**
 * Fuzz target: io-nifti's `readNifti`. Inputs are random valid NIfTI-1/NIfTI-2 files (any supported datatype, 3D or
 * 4D, oblique with or without a reflection, scl_slope/scl_inter, either endianness, gzip or not) with 0-3 mutations:
 * a header field set to an edge value (NIfTI-1/2 offsets from nifti1.h / nifti2.h), a byte set or flipped, the file
 * truncated or extended, before or after gzip. The oracle decodes the same bytes independently (`referenceDecode`,
 * written from the NIfTI-1/2 specification, not from the reader) and the reader must agree: same shape and the
 * same numbers when it reads, an error naming the file when the bytes do not hold the image the header describes.
 * Unmutated files must read back equal to what was written (values, spacing, origin, direction).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { constants, gunzipSync, gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { readNifti } from '@nnunet-ts/io-nifti';
import { niftiBytes, NIFTI_DTYPES, type NiftiDType, type NiftiSpec } from '../bad-inputs/generate.js';
import { applyByteMutations, byteMutation, classifyError, FLOAT_EDGES, geometryProblem, INT_EDGES, type ByteMutation, type Outcome, type Target } from './engine.js';

const MAX_BYTES = 16 * 1024 ** 2;
const DTYPES = Object.keys(NIFTI_DTYPES) as NiftiDType[];
const RANGE: Record<NiftiDType, [number, number]> = {
  uint8: [0, 255], int8: [-128, 127], int16: [-32768, 32767], uint16: [0, 65535], int32: [-(2 ** 31), 2 ** 31 - 1], uint32: [0, 2 ** 32 - 1],
  float32: [-1e6, 1e6], float64: [-1e12, 1e12],
};

/** Header fields (offset, type) in NIfTI-1 and NIfTI-2 (nifti1.h, nifti2.h). */
const FIELDS: Record<string, { v1: [number, string]; v2: [number, string] }> = {
  sizeof_hdr: { v1: [0, 'i32'], v2: [0, 'i32'] },
  dim0: { v1: [40, 'i16'], v2: [16, 'i64'] },
  dim1: { v1: [42, 'i16'], v2: [24, 'i64'] },
  dim2: { v1: [44, 'i16'], v2: [32, 'i64'] },
  dim3: { v1: [46, 'i16'], v2: [40, 'i64'] },
  dim4: { v1: [48, 'i16'], v2: [48, 'i64'] },
  dim5: { v1: [50, 'i16'], v2: [56, 'i64'] },
  datatype: { v1: [70, 'i16'], v2: [12, 'i16'] },
  bitpix: { v1: [72, 'i16'], v2: [14, 'i16'] },
  pixdim0: { v1: [76, 'f32'], v2: [104, 'f64'] },
  pixdim1: { v1: [80, 'f32'], v2: [112, 'f64'] },
  pixdim2: { v1: [84, 'f32'], v2: [120, 'f64'] },
  pixdim3: { v1: [88, 'f32'], v2: [128, 'f64'] },
  vox_offset: { v1: [108, 'f32'], v2: [168, 'i64'] },
  scl_slope: { v1: [112, 'f32'], v2: [176, 'f64'] },
  scl_inter: { v1: [116, 'f32'], v2: [184, 'f64'] },
  xyzt_units: { v1: [123, 'u8'], v2: [500, 'i32'] },
  qform_code: { v1: [252, 'i16'], v2: [344, 'i32'] },
  sform_code: { v1: [254, 'i16'], v2: [348, 'i32'] },
  quatern_b: { v1: [256, 'f32'], v2: [352, 'f64'] },
  quatern_c: { v1: [260, 'f32'], v2: [360, 'f64'] },
  qoffset_x: { v1: [268, 'f32'], v2: [376, 'f64'] },
  srow_x0: { v1: [280, 'f32'], v2: [400, 'f64'] },
  srow_x3: { v1: [292, 'f32'], v2: [424, 'f64'] },
  srow_y1: { v1: [300, 'f32'], v2: [440, 'f64'] },
  srow_z2: { v1: [320, 'f32'], v2: [480, 'f64'] },
  magic: { v1: [344, 'u8'], v2: [4, 'u8'] },
};

export interface NiftiInput {
  spec: { version: 1 | 2; dims: number[]; dtype: NiftiDType; spacing: number[]; angles: number[]; flip: boolean; origin: number[]; slope: number; inter: number; bigEndian: boolean; seed: number };
  gzip: boolean;
  fieldMutations: { field: string; value: number }[];
  rawMutations: ByteMutation[];
  gzMutations: ByteMutation[];
}

function rotation(a: number[], flip: boolean): number[] {
  const [x, y, z] = a as [number, number, number];
  const cx = Math.cos(x), sx = Math.sin(x), cy = Math.cos(y), sy = Math.sin(y), cz = Math.cos(z), sz = Math.sin(z);
  const r = [cy * cz, sx * sy * cz - cx * sz, cx * sy * cz + sx * sz, cy * sz, sx * sy * sz + cx * cz, cx * sy * sz - sx * cz, -sy, sx * cy, cx * cy];
  if (flip) for (let row = 0; row < 3; row++) r[row * 3 + 2] = -r[row * 3 + 2]!;
  return r;
}

function values(dtype: NiftiDType, n: number, seed: number): number[] {
  const [lo, hi] = RANGE[dtype];
  let s = seed >>> 0;
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const u = s / 2 ** 32;
    const v = lo + u * (hi - lo);
    out.push(dtype.startsWith('float') ? v : Math.round(v));
  }
  // include the type limits
  if (n > 2) {
    out[0] = lo;
    out[1] = hi;
  }
  return out;
}

export function specOf(s: NiftiInput['spec']): NiftiSpec {
  const n = s.dims.reduce((a, b) => a * b, 1);
  return {
    version: s.version, dims: s.dims, dtype: s.dtype, data: values(s.dtype, n, s.seed), spacing: s.spacing.slice(0, 3), origin: s.origin,
    direction: rotation(s.angles, s.flip), sclSlope: s.slope, sclInter: s.inter, bigEndian: s.bigEndian,
  };
}

const specArb = fc.record({
  version: fc.constantFrom(1 as const, 2 as const),
  dims: fc.oneof(
    fc.tuple(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 3 })).map((d) => [...d]),
    fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 2 }), fc.integer({ min: 2, max: 3 })).map((d) => [...d]),
  ),
  dtype: fc.constantFrom(...DTYPES),
  spacing: fc.array(fc.double({ min: 0.05, max: 8, noNaN: true }), { minLength: 3, maxLength: 3 }),
  angles: fc.array(fc.double({ min: -Math.PI, max: Math.PI, noNaN: true }), { minLength: 3, maxLength: 3 }),
  flip: fc.boolean(),
  origin: fc.array(fc.double({ min: -300, max: 300, noNaN: true }), { minLength: 3, maxLength: 3 }),
  slope: fc.oneof(fc.constant(0), fc.constant(1), fc.double({ min: 0.01, max: 20, noNaN: true })),
  inter: fc.oneof(fc.constant(0), fc.double({ min: -2000, max: 2000, noNaN: true })),
  bigEndian: fc.boolean(),
  seed: fc.nat(),
});

const fieldMutation = fc.record({
  field: fc.constantFrom(...Object.keys(FIELDS)),
  value: fc.oneof(fc.constantFrom(...INT_EDGES), fc.constantFrom(...FLOAT_EDGES), fc.integer({ min: -100000, max: 100000 }), fc.double({ noNaN: false })),
});

export const niftiArbitrary: fc.Arbitrary<NiftiInput> = fc.record({
  spec: specArb,
  gzip: fc.boolean(),
  fieldMutations: fc.oneof({ weight: 1, arbitrary: fc.constant([]) }, { weight: 3, arbitrary: fc.array(fieldMutation, { maxLength: 3 }) }),
  rawMutations: fc.oneof({ weight: 2, arbitrary: fc.constant([]) }, { weight: 1, arbitrary: fc.array(byteMutation, { maxLength: 2 }) }),
  gzMutations: fc.oneof({ weight: 4, arbitrary: fc.constant([]) }, { weight: 1, arbitrary: fc.array(byteMutation, { maxLength: 2 }) }),
});

function setField(b: Uint8Array, v2: boolean, le: boolean, name: string, value: number): void {
  const [off, type] = FIELDS[name]![v2 ? 'v2' : 'v1'];
  if (b.length < off + 8) return;
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const int = Number.isFinite(value) ? Math.trunc(value) : 0;
  switch (type) {
    case 'i16': dv.setInt16(off, int, le); break;
    case 'i32': dv.setInt32(off, int, le); break;
    case 'i64': dv.setBigInt64(off, BigInt(int), le); break;
    case 'u8': dv.setUint8(off, int & 255); break;
    case 'f32': dv.setFloat32(off, value, le); break;
    default: dv.setFloat64(off, value, le);
  }
}

/** The file the input describes: raw (uncompressed) bytes and the bytes on disk. */
export function niftiFile(x: NiftiInput): { raw: Uint8Array | null; disk: Uint8Array; name: string } {
  let raw = niftiBytes(specOf(x.spec));
  for (const m of x.fieldMutations) setField(raw, x.spec.version === 2, !x.spec.bigEndian, m.field, m.value);
  raw = applyByteMutations(raw, x.rawMutations);
  if (!x.gzip) return { raw, disk: raw, name: 'input.nii' };
  const disk = applyByteMutations(gzipSync(raw, { level: 1 }), x.gzMutations);
  let inflated: Uint8Array | null = raw;
  if (x.gzMutations.length) {
    try {
      inflated = gunzipSync(disk, { finishFlush: constants.Z_SYNC_FLUSH });
    } catch {
      inflated = null; // a corrupt stream: only the prefix is knowable; the reader must give an error or agree on the prefix
    }
  }
  return { raw: inflated, disk, name: 'input.nii.gz' };
}

interface Reference {
  shape: number[];
  values: Float64Array;
}

const TYPE_BYTES: Record<number, [string, number]> = { 2: ['u8', 1], 4: ['i16', 2], 8: ['i32', 4], 16: ['f32', 4], 64: ['f64', 8], 256: ['i8', 1], 512: ['u16', 2], 768: ['u32', 4], 1024: ['i64', 8], 1280: ['u64', 8] };

/** A 64-bit integer as a number, or null beyond 2^53 (not exact in float64: the reader must refuse it). */
function exact64(b: bigint): number | null {
  return b > 2n ** 53n || b < -(2n ** 53n) ? null : Number(b);
}

/**
 * Decode raw NIfTI bytes following the specification (nifti1.h / nifti2.h) with the documented tolerances of
 * docs/FAULTS.md (dims beyond dim[0] or < 1 count as 1; scl_slope 0 or non-finite means no scaling; vox_offset below
 * the header size means "right after the header"). Null when the bytes cannot hold the image (must be an error).
 */
export function referenceDecode(b: Uint8Array): Reference | null {
  if (b.length < 4) return null;
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const le = dv.getInt32(0, true) === 348 || dv.getInt32(0, true) === 540;
  const size = dv.getInt32(0, le);
  if ((size !== 348 && size !== 540) || b.length < size) return null;
  const v2 = size === 540;
  const magic = String.fromCharCode(...b.subarray(v2 ? 4 : 344, v2 ? 7 : 347));
  if (magic !== 'n+1' && magic !== 'n+2') return null;
  const i64 = (o: number) => Number(dv.getBigInt64(o, le));
  const dim = Array.from({ length: 8 }, (_, i) => (v2 ? i64(16 + 8 * i) : dv.getInt16(40 + 2 * i, le)));
  if (!(dim[0]! >= 1 && dim[0]! <= 7)) return null;
  const eff = dim.slice(1).map((d, i) => (i + 1 <= dim[0]! && d > 0 ? d : 1));
  const [nx, ny, nz, nt, nu, nv, nw] = eff as [number, number, number, number, number, number, number];
  if (nv > 1 || nw > 1 || (nt > 1 && nu > 1)) return null;
  const t = TYPE_BYTES[dv.getInt16(v2 ? 12 : 70, le)];
  if (!t) return null;
  const nvox = nx * ny * nz * nt * nu;
  const nbytes = nvox * t[1];
  const slope = v2 ? dv.getFloat64(176, le) : dv.getFloat32(112, le);
  const inter0 = v2 ? dv.getFloat64(184, le) : dv.getFloat32(116, le);
  const inter = Number.isFinite(inter0) ? inter0 : 0;
  const scaled = Number.isFinite(slope) && slope !== 0 && (slope !== 1 || inter !== 0);
  // int64/uint64 are converted to a copy of up to 8 bytes a voxel (docs/FAULTS.md datatype row)
  const need = nbytes + (scaled ? nvox * (t[1] >= 4 ? 8 : 4) : 0) + (t[0].endsWith('64') && t[0] !== 'f64' ? nvox * 8 : 0);
  if (!Number.isSafeInteger(need) || need > MAX_BYTES) return null;
  const minOff = v2 ? 544 : 352;
  const vo = v2 ? i64(168) : dv.getFloat32(108, le);
  const off = !Number.isFinite(vo) || vo < minOff ? minOff : Math.floor(vo);
  if (b.length < off + nbytes) return null;
  const out = new Float64Array(nvox);
  for (let i = 0; i < nvox; i++) {
    const o = off + i * t[1];
    const v = { u8: () => dv.getUint8(o), i8: () => dv.getInt8(o), i16: () => dv.getInt16(o, le), u16: () => dv.getUint16(o, le), i32: () => dv.getInt32(o, le), u32: () => dv.getUint32(o, le), f32: () => dv.getFloat32(o, le), f64: () => dv.getFloat64(o, le), i64: () => exact64(dv.getBigInt64(o, le)), u64: () => exact64(dv.getBigUint64(o, le)) }[t[0]]!();
    if (v === null) return null;
    out[i] = scaled ? v * slope + inter : v;
  }
  return { shape: [nt * nu, nz, ny, nx], values: out };
}

function sameNumber(got: number, want: number, f32: boolean): boolean {
  const w = f32 ? Math.fround(want) : want;
  return Object.is(got, w) || got === w || (Number.isNaN(got) && Number.isNaN(w));
}

/** Compare a read image with the reference decode; a message on disagreement. */
function disagreement(im: { shape: number[]; data: ArrayLike<number> }, ref: Reference | null, partial: boolean): string | null {
  if (!ref) return partial ? null : 'read an image the bytes cannot hold (the reference decoder refuses them)';
  if (im.shape.join() !== ref.shape.join()) return `shape ${im.shape.join('x')} but the header says ${ref.shape.join('x')}`;
  const f32 = im.data instanceof Float32Array;
  for (let i = 0; i < ref.values.length; i++) {
    if (!sameNumber(im.data[i]!, ref.values[i]!, f32)) return `voxel ${i} is ${im.data[i]} but the bytes say ${ref.values[i]}`;
  }
  return null;
}

/** An unmutated file must read back what was written: values, spacing, origin and direction. */
function roundTripProblem(x: NiftiInput, im: { data: ArrayLike<number>; spacing: number[]; origin: number[]; direction: number[] }): string | null {
  const s = specOf(x.spec);
  const spacing = [s.spacing![2]!, s.spacing![1]!, s.spacing![0]!];
  const tol = 1e-4;
  if (im.spacing.some((v, i) => Math.abs(v - spacing[i]!) > tol * spacing[i]!)) return `spacing ${im.spacing} != ${spacing}`;
  if (im.origin.some((v, i) => Math.abs(v - s.origin![i]!) > 1e-3)) return `origin ${im.origin} != ${s.origin}`;
  if (im.direction.some((v, i) => Math.abs(v - s.direction![i]!) > 1e-4)) return `direction ${im.direction} != ${s.direction}`;
  return null;
}

export function niftiTarget(dir: string): Target<NiftiInput> {
  mkdirSync(dir, { recursive: true });
  return {
    name: 'nifti',
    arbitrary: niftiArbitrary,
    bytesOf: (x) => {
      const f = niftiFile(x);
      return { name: f.name, bytes: f.disk };
    },
    async run(x): Promise<Outcome> {
      const f = niftiFile(x);
      const path = join(dir, f.name);
      writeFileSync(path, f.disk);
      let im;
      try {
        im = await readNifti(path, { maxBytes: MAX_BYTES });
      } catch (e) {
        const o = classifyError(e, path);
        if (o.kind !== 'user-error') return o;
        const mutated = x.fieldMutations.length + x.rawMutations.length + (x.gzip ? x.gzMutations.length : 0) > 0;
        return mutated ? o : { kind: 'silent', detail: `a valid file was refused: ${(e as Error).message.slice(0, 150)}` };
      }
      const geo = geometryProblem(im);
      if (geo) return { kind: 'silent', detail: geo };
      const partial = x.gzip && x.gzMutations.length > 0;
      const ref = f.raw ? referenceDecode(f.raw) : null;
      const d = disagreement(im, ref, false);
      if (d) return { kind: 'silent', detail: d };
      if (!x.fieldMutations.length && !x.rawMutations.length && !partial) {
        const rt = roundTripProblem(x, im);
        if (rt) return { kind: 'silent', detail: `round trip: ${rt}` };
      }
      return { kind: 'ok' };
    },
  };
}
