/**
 * Fuzz targets for io-itk's `readItk`: NRRD (.nrrd, attached raw or gzip data, LPS or RAS space), MetaImage (.mha,
 * LOCAL data) and single-file DICOM (.dcm, explicit VR little endian, rescale slope/intercept). Valid files must
 * read back what was written (values, spacing, LPS origin and direction, following the NRRD, MetaIO and DICOM
 * PS3.3 C.7.6.2 definitions); mutated files (a header line replaced by an edge token, deleted or repeated; a byte
 * set or flipped; truncation; extra bytes) must read to a sane image or fail with an error naming the file.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { readItk } from '@nnunet-ts/io-itk';
import { dicomBytes } from '../bad-inputs/generate.js';
import { applyByteMutations, byteMutation, classifyError, geometryProblem, type ByteMutation, type Outcome, type Target } from './engine.js';

const TOKENS = ['', '0', '-1', '1', '2', '3', '4', '1e309', '-1e309', 'nan', 'NaN', 'inf', '(nan,0,0)', '(0,0,0)', '(1,0,0) (1,0,0) (0,0,1)', '999999999', '65536 65536 65536', 'x', '3 3', 'none', 'gzip', 'raw', 'ascii', 'hex', 'bzip2', 'big', 'little', 'double', 'block', 'MET_DOUBLE', 'MET_UCHAR_ARRAY', 'True', 'False', 'LIST', 'missing.raw', '1 0 0 0 0 0 0 0 1', '0 0 0 0 0 0 0 0 0', '1e-300 1e-300 1e-300'];

interface Grid {
  sizes: number[];
  spacing: number[];
  origin: number[];
  /** Rotation (column j = world direction of axis j), row-major 3x3. */
  dir: number[];
  seed: number;
}

const gridArb = fc.record({
  sizes: fc.tuple(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 3 })).map((t) => [...t]),
  spacing: fc.array(fc.double({ min: 0.1, max: 5, noNaN: true }), { minLength: 3, maxLength: 3 }),
  origin: fc.array(fc.integer({ min: -2000, max: 2000 }).map((v) => v / 8), { minLength: 3, maxLength: 3 }),
  dir: fc.constantFrom(
    [1, 0, 0, 0, 1, 0, 0, 0, 1],
    [0, 1, 0, 1, 0, 0, 0, 0, -1],
    [1, 0, 0, 0, 0.6, -0.8, 0, 0.8, 0.6],
    [0.36, 0.48, -0.8, -0.8, 0.6, 0, 0.48, 0.64, 0.6],
  ),
  seed: fc.nat(),
});

const TYPES = {
  uchar: { nrrd: 'uchar', met: 'MET_UCHAR', bytes: 1, lo: 0, hi: 255, float: false },
  short: { nrrd: 'short', met: 'MET_SHORT', bytes: 2, lo: -32768, hi: 32767, float: false },
  ushort: { nrrd: 'ushort', met: 'MET_USHORT', bytes: 2, lo: 0, hi: 65535, float: false },
  int: { nrrd: 'int', met: 'MET_INT', bytes: 4, lo: -(2 ** 31), hi: 2 ** 31 - 1, float: false },
  float: { nrrd: 'float', met: 'MET_FLOAT', bytes: 4, lo: -1e5, hi: 1e5, float: true },
  double: { nrrd: 'double', met: 'MET_DOUBLE', bytes: 8, lo: -1e9, hi: 1e9, float: true },
} as const;
type TypeName = keyof typeof TYPES;

function voxels(g: Grid, t: TypeName): number[] {
  const T = TYPES[t];
  const n = g.sizes.reduce((a, b) => a * b, 1);
  let s = g.seed >>> 0;
  return Array.from({ length: n }, (_, i) => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const v = i === 0 ? T.lo : i === 1 ? T.hi : T.lo + (s / 2 ** 32) * (T.hi - T.lo);
    return T.float ? (T.bytes === 4 ? Math.fround(v) : v) : Math.round(v);
  });
}

function encode(vals: number[], t: TypeName, le: boolean): Uint8Array {
  const T = TYPES[t];
  const out = new Uint8Array(vals.length * T.bytes);
  const dv = new DataView(out.buffer);
  vals.forEach((v, i) => {
    const o = i * T.bytes;
    if (t === 'uchar') dv.setUint8(o, v);
    else if (t === 'short') dv.setInt16(o, v, le);
    else if (t === 'ushort') dv.setUint16(o, v, le);
    else if (t === 'int') dv.setInt32(o, v, le);
    else if (t === 'float') dv.setFloat32(o, v, le);
    else dv.setFloat64(o, v, le);
  });
  return out;
}

export interface TextImageInput {
  grid: Grid;
  type: TypeName;
  bigEndian: boolean;
  gzip: boolean;
  ras: boolean;
  lineMutations: { line: number; op: 'replace' | 'delete' | 'repeat'; token: string }[];
  byteMutations: ByteMutation[];
}

export const textArb = fc.record({
  grid: gridArb,
  type: fc.constantFrom(...(Object.keys(TYPES) as TypeName[])),
  bigEndian: fc.boolean(),
  gzip: fc.boolean(),
  ras: fc.boolean(),
  lineMutations: fc.oneof({ weight: 1, arbitrary: fc.constant([]) }, { weight: 2, arbitrary: fc.array(fc.record({ line: fc.nat(), op: fc.constantFrom('replace' as const, 'delete' as const, 'repeat' as const), token: fc.constantFrom(...TOKENS) }), { maxLength: 2 }) }),
  byteMutations: fc.oneof({ weight: 2, arbitrary: fc.constant([]) }, { weight: 1, arbitrary: fc.array(byteMutation, { maxLength: 2 }) }),
});

function mutateLines(lines: string[], ms: TextImageInput['lineMutations'], sep: string): string[] {
  const out = [...lines];
  for (const m of ms) {
    if (!out.length) break;
    const i = 1 + (m.line % Math.max(1, out.length - 1)); // keep the magic line of NRRD; any line of MetaImage but the first
    if (i >= out.length) continue;
    if (m.op === 'delete') out.splice(i, 1);
    else if (m.op === 'repeat') out.splice(i, 0, out[i]!);
    else {
      const k = out[i]!.indexOf(sep);
      out[i] = k >= 0 ? `${out[i]!.slice(0, k + sep.length)}${m.token}` : m.token;
    }
  }
  return out;
}

const vec = (v: number[]) => `(${v.map((x) => String(x)).join(',')})`;

/** NRRD bytes (attached data) for an input. Expected image geometry is in LPS. */
export function nrrdFile(x: TextImageInput): Uint8Array {
  const g = x.grid;
  const f = x.ras ? [-1, -1, 1] : [1, 1, 1];
  const cols = [0, 1, 2].map((j) => [0, 1, 2].map((r) => f[r]! * g.dir[r * 3 + j]! * g.spacing[j]!));
  const lines = [
    'NRRD0004',
    `type: ${TYPES[x.type].nrrd}`,
    'dimension: 3',
    `space: ${x.ras ? 'right-anterior-superior' : 'left-posterior-superior'}`,
    `sizes: ${g.sizes.join(' ')}`,
    `space directions: ${cols.map(vec).join(' ')}`,
    'kinds: domain domain domain',
    `endian: ${x.bigEndian ? 'big' : 'little'}`,
    `encoding: ${x.gzip ? 'gzip' : 'raw'}`,
    `space origin: ${vec(g.origin.map((o, r) => f[r]! * o))}`,
  ];
  const header = mutateLines(lines, x.lineMutations, ': ').join('\n') + '\n\n';
  const raw = encode(voxels(g, x.type), x.type, !x.bigEndian);
  const data = x.gzip ? gzipSync(raw, { level: 1 }) : raw;
  const bytes = new Uint8Array(header.length + data.length);
  bytes.set(new TextEncoder().encode(header));
  bytes.set(data, header.length);
  return applyByteMutations(bytes, x.byteMutations);
}

/** MetaImage (.mha, LOCAL data) bytes. TransformMatrix row i = world direction of axis i (MetaIO). */
export function mhaFile(x: TextImageInput): Uint8Array {
  const g = x.grid;
  const tm = [0, 1, 2].flatMap((i) => [0, 1, 2].map((r) => g.dir[r * 3 + i]!));
  const lines = [
    'ObjectType = Image',
    'NDims = 3',
    `BinaryData = True`,
    `BinaryDataByteOrderMSB = ${x.bigEndian ? 'True' : 'False'}`,
    `CompressedData = False`,
    `TransformMatrix = ${tm.join(' ')}`,
    `Offset = ${g.origin.join(' ')}`,
    `ElementSpacing = ${g.spacing.join(' ')}`,
    `DimSize = ${g.sizes.join(' ')}`,
    `ElementType = ${TYPES[x.type].met}`,
    'ElementDataFile = LOCAL',
  ];
  const header = mutateLines(lines, x.lineMutations, ' = ').join('\n') + '\n';
  const raw = encode(voxels(g, x.type), x.type, !x.bigEndian);
  const bytes = new Uint8Array(header.length + raw.length);
  bytes.set(new TextEncoder().encode(header));
  bytes.set(raw, header.length);
  return applyByteMutations(bytes, x.byteMutations);
}

function closeAll(a: number[], b: number[], tol: number): boolean {
  return a.length === b.length && a.every((v, i) => Math.abs(v - b[i]!) <= tol * Math.max(1, Math.abs(b[i]!)));
}

/** Check a valid file's read-back: values, spacing [z,y,x], origin, direction (LPS). */
function expectGrid(im: { shape: number[]; data: ArrayLike<number>; spacing: number[]; origin: number[]; direction: number[] }, g: Grid, vals: number[]): string | null {
  const shape = [1, g.sizes[2]!, g.sizes[1]!, g.sizes[0]!];
  if (im.shape.join() !== shape.join()) return `shape ${im.shape} != ${shape}`;
  for (let i = 0; i < vals.length; i++) if (im.data[i] !== vals[i]) return `voxel ${i}: ${im.data[i]} != ${vals[i]}`;
  if (!closeAll(im.spacing, [g.spacing[2]!, g.spacing[1]!, g.spacing[0]!], 1e-6)) return `spacing ${im.spacing} != ${[...g.spacing].reverse()}`;
  if (!closeAll(im.origin, g.origin, 1e-6)) return `origin ${im.origin} != ${g.origin}`;
  if (!closeAll(im.direction, g.dir, 1e-6)) return `direction ${im.direction} != ${g.dir}`;
  return null;
}

async function readAndCheck(path: string, bytes: Uint8Array, mutated: boolean, expected: () => string | null | ((im: never) => string | null)): Promise<Outcome> {
  writeFileSync(path, bytes);
  let im;
  try {
    im = await readItk(path);
  } catch (e) {
    const o = classifyError(e, path);
    if (o.kind === 'user-error' && !mutated) return { kind: 'silent', detail: `a valid file was refused: ${(e as Error).message.slice(0, 150)}` };
    return o;
  }
  const geo = geometryProblem(im);
  if (geo) return { kind: 'silent', detail: geo };
  if (!mutated) {
    const check = expected() as unknown as (im: unknown) => string | null;
    const d = check(im);
    if (d) return { kind: 'silent', detail: `round trip: ${d}` };
  }
  return { kind: 'ok' };
}

function textTarget(name: 'nrrd' | 'mha', dir: string): Target<TextImageInput> {
  mkdirSync(dir, { recursive: true });
  const make = name === 'nrrd' ? nrrdFile : mhaFile;
  return {
    name,
    arbitrary: textArb,
    bytesOf: (x) => ({ name: `input.${name}`, bytes: make(x) }),
    run: (x) =>
      readAndCheck(join(dir, `input.${name}`), make(x), x.lineMutations.length + x.byteMutations.length > 0, () => ((im: never) => expectGrid(im, x.grid, voxels(x.grid, x.type))) as never),
  };
}

export const nrrdTarget = (dir: string) => textTarget('nrrd', dir);
export const mhaTarget = (dir: string) => textTarget('mha', dir);

export interface DicomInput {
  rows: number;
  columns: number;
  seed: number;
  ipp: number[];
  iop: number[];
  spacing: number[];
  pr: 0 | 1;
  slope: number;
  intercept: number;
  byteMutations: ByteMutation[];
}

const dicomArb: fc.Arbitrary<DicomInput> = fc.record({
  rows: fc.integer({ min: 1, max: 6 }),
  columns: fc.integer({ min: 1, max: 6 }),
  seed: fc.nat(),
  ipp: fc.array(fc.integer({ min: -4000, max: 4000 }).map((v) => v / 16), { minLength: 3, maxLength: 3 }),
  iop: fc.constantFrom([1, 0, 0, 0, 1, 0], [1, 0, 0, 0, 0, -1], [0, 1, 0, 0, 0, -1], [1, 0, 0, 0, 0.6, 0.8]),
  spacing: fc.array(fc.integer({ min: 1, max: 64 }).map((v) => v / 16), { minLength: 2, maxLength: 2 }),
  pr: fc.constantFrom(0 as const, 1 as const),
  slope: fc.constantFrom(1, 2, 0.5),
  intercept: fc.constantFrom(0, -1024, 100),
  byteMutations: fc.oneof({ weight: 1, arbitrary: fc.constant([]) }, { weight: 3, arbitrary: fc.array(byteMutation, { minLength: 1, maxLength: 3 }) }),
});

function dicomPixels(x: DicomInput): number[] {
  let s = x.seed >>> 0;
  return Array.from({ length: x.rows * x.columns }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return x.pr === 1 ? (s % 4000) - 2000 : s % 4096;
  });
}

export function dicomFile(x: DicomInput): Uint8Array {
  const bytes = dicomBytes({
    rows: x.rows, columns: x.columns, pixels: dicomPixels(x), imagePositionPatient: x.ipp as [number, number, number],
    imageOrientationPatient: x.iop as [number, number, number, number, number, number], pixelSpacing: x.spacing as [number, number],
    pixelRepresentation: x.pr, rescaleSlope: x.slope, rescaleIntercept: x.intercept, instanceNumber: 1,
  });
  return applyByteMutations(bytes, x.byteMutations);
}

function dicomExpected(x: DicomInput) {
  return (im: { shape: number[]; data: ArrayLike<number>; spacing: number[]; origin: number[]; direction: number[] }): string | null => {
    const px = dicomPixels(x).map((v) => v * x.slope + x.intercept);
    if (im.shape.join() !== [1, 1, x.rows, x.columns].join()) return `shape ${im.shape}`;
    for (let i = 0; i < px.length; i++) if (Math.abs(im.data[i]! - px[i]!) > 1e-3) return `pixel ${i}: ${im.data[i]} != ${px[i]}`;
    // PixelSpacing = [row spacing (between rows, y), column spacing (x)]
    if (!closeAll(im.spacing.slice(1), [x.spacing[0]!, x.spacing[1]!], 1e-6)) return `spacing ${im.spacing} vs PixelSpacing ${x.spacing}`;
    if (!closeAll(im.origin, x.ipp, 1e-6)) return `origin ${im.origin} != ImagePositionPatient ${x.ipp}`;
    const [r0, r1, r2, c0, c1, c2] = x.iop as [number, number, number, number, number, number];
    if (!closeAll([im.direction[0]!, im.direction[3]!, im.direction[6]!, im.direction[1]!, im.direction[4]!, im.direction[7]!], [r0, r1, r2, c0, c1, c2], 1e-6)) return `direction ${im.direction} vs ImageOrientationPatient ${x.iop}`;
    return null;
  };
}

export function dicomTarget(dir: string): Target<DicomInput> {
  mkdirSync(dir, { recursive: true });
  return {
    name: 'dicom',
    arbitrary: dicomArb,
    bytesOf: (x) => ({ name: 'input.dcm', bytes: dicomFile(x) }),
    run: (x) => readAndCheck(join(dir, 'input.dcm'), dicomFile(x), x.byteMutations.length > 0, () => dicomExpected(x) as never),
  };
}
