import { NnunetError } from '../util/errors.js';

/**
 * numpy's `.npy` format, versions 1-3 (numpy `lib/format.py`: magic `\x93NUMPY`, version, header length, a Python
 * dict literal header `{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }`, padded to 64 bytes, then the
 * raw data). Read: little-endian float16/32/64, int8-64, uint8-32, bool; C order only.
 */

/** An array read from or written to `.npy`: `shape` in numpy's order, data in C order (last axis fastest). */
export interface NpyArray {
  descr: string;
  shape: number[];
  data: Float32Array | Float64Array | Int8Array | Uint8Array | Int16Array | Uint16Array | Int32Array | Uint32Array | BigInt64Array;
}

const CTORS: Record<string, { new (b: ArrayBuffer): NpyArray['data']; BYTES_PER_ELEMENT: number }> = {
  '<f4': Float32Array, '<f8': Float64Array, '|i1': Int8Array, '|u1': Uint8Array, '|b1': Uint8Array, '<i2': Int16Array,
  '<u2': Uint16Array, '<i4': Int32Array, '<u4': Uint32Array, '<i8': BigInt64Array,
};

function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * f * 2 ** -24;
  if (e === 31) return f ? NaN : s * Infinity;
  return s * (1 + f / 1024) * 2 ** (e - 15);
}

/**
 * Parse a `.npy` file. float16 (`<f2`) is widened to a Float32Array (descr stays `<f2`).
 * @throws NnunetError naming `file` for a bad magic, Fortran order or an unsupported dtype
 */
export function readNpy(bytes: Uint8Array, file = '<npy>'): NpyArray {
  const magic = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59];
  if (bytes.length < 10 || magic.some((m, i) => bytes[i] !== m)) throw new NnunetError('not a .npy file (bad magic)', { file });
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const major = bytes[6]!;
  const hl = major === 1 ? dv.getUint16(8, true) : dv.getUint32(8, true);
  const start = major === 1 ? 10 : 12;
  const header = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(bytes.subarray(start, start + hl));
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*True/.test(header);
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (!descr || shapeText === undefined) throw new NnunetError(`cannot parse the .npy header ${header.trim()}`, { file });
  if (fortran) throw new NnunetError('Fortran-order .npy arrays are not supported', { file, hint: 'save with np.ascontiguousarray' });
  const shape = shapeText.split(',').map((s) => s.trim()).filter(Boolean).map(Number);
  const n = shape.reduce((a, b) => a * b, 1);
  const off = start + hl;
  if (descr === '<f2') {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = halfToFloat(dv.getUint16(off + 2 * i, true));
    return { descr, shape, data: out };
  }
  const C = CTORS[descr];
  if (!C) throw new NnunetError(`.npy dtype ${descr} is not supported`, { file });
  if (bytes.length < off + n * C.BYTES_PER_ELEMENT) throw new NnunetError('the .npy file is truncated', { file });
  const copy = new Uint8Array(n * C.BYTES_PER_ELEMENT);
  copy.set(bytes.subarray(off, off + copy.length));
  return { descr, shape, data: new C(copy.buffer) };
}

/** Serialise an array as `.npy` version 1.0 (little-endian, C order). `descr` must match the typed array. */
export function writeNpy(arr: NpyArray): Uint8Array {
  const shape = arr.shape.length === 1 ? `(${arr.shape[0]},)` : `(${arr.shape.join(', ')})`;
  let header = `{'descr': '${arr.descr}', 'fortran_order': False, 'shape': ${shape}, }`;
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const data = new Uint8Array(arr.data.buffer, arr.data.byteOffset, arr.data.byteLength);
  const out = new Uint8Array(10 + header.length + data.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0], 0);
  new DataView(out.buffer).setUint16(8, header.length, true);
  out.set(new TextEncoder().encode(header), 10);
  out.set(data, 10 + header.length);
  return out;
}
