import { DataError } from '../util/errors.js';

/** Typed arrays an `.npy` file can be read into or written from (little-endian dtypes). */
export type NpyArray = Float32Array | Float64Array | Uint8Array | Int16Array | Int32Array | Uint16Array;

const DTYPES: Record<string, { bytes: number; make: (b: ArrayBuffer, n: number) => NpyArray }> = {
  '<f4': { bytes: 4, make: (b, n) => new Float32Array(b, 0, n) },
  '<f8': { bytes: 8, make: (b, n) => new Float64Array(b, 0, n) },
  '|u1': { bytes: 1, make: (b, n) => new Uint8Array(b, 0, n) },
  '<i2': { bytes: 2, make: (b, n) => new Int16Array(b, 0, n) },
  '<u2': { bytes: 2, make: (b, n) => new Uint16Array(b, 0, n) },
  '<i4': { bytes: 4, make: (b, n) => new Int32Array(b, 0, n) },
  '<f2': { bytes: 2, make: (b, n) => halfToFloat32(new Uint16Array(b, 0, n)) },
};

function descrOf(a: NpyArray): string {
  if (a instanceof Float32Array) return '<f4';
  if (a instanceof Float64Array) return '<f8';
  if (a instanceof Uint8Array) return '|u1';
  if (a instanceof Int16Array) return '<i2';
  if (a instanceof Uint16Array) return '<u2';
  return '<i4';
}

/**
 * Encode a C-order array as `.npy` version 1.0 (numpy `lib/format.py`): magic `\x93NUMPY`, version 1.0, a
 * little-endian uint16 header length, the header dict (`descr`, `fortran_order: False`, `shape`) padded with spaces
 * and a newline so that data starts at a multiple of 64 bytes, then the raw little-endian data.
 * @param shape C-order shape, e.g. `[c, z, y, x]`; its product must equal `data.length`.
 */
export function encodeNpy(data: NpyArray, shape: readonly number[]): Uint8Array {
  const n = shape.reduce((a, b) => a * b, 1);
  if (n !== data.length) throw new RangeError(`encodeNpy: shape [${shape}] holds ${n} values, data has ${data.length}`);
  const shapeStr = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '${descrOf(data)}', 'fortran_order': False, 'shape': ${shapeStr}, }`;
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const out = new Uint8Array(10 + header.length + data.byteLength);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0], 0);
  new DataView(out.buffer).setUint16(8, header.length, true);
  for (let i = 0; i < header.length; i++) out[10 + i] = header.charCodeAt(i);
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), 10 + header.length);
  return out;
}

/**
 * Decode an `.npy` file (versions 1-3, C order, the little-endian dtypes f2/f4/f8/u1/i2/u2/i4; float16 becomes
 * float32). Data is copied into a fresh aligned buffer.
 * @throws DataError naming `file` for a bad magic, Fortran order, an unsupported dtype or truncated data.
 */
export function decodeNpy(bytes: Uint8Array, file: string): { data: NpyArray; shape: number[]; descr: string } {
  const magic = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59];
  if (bytes.length < 10 || magic.some((m, i) => bytes[i] !== m)) throw new DataError(`${file}: not a .npy array (bad magic)`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const major = bytes[6]!;
  const hlen = major === 1 ? dv.getUint16(8, true) : dv.getUint32(8, true);
  const start = major === 1 ? 10 : 12;
  const header = new TextDecoder().decode(bytes.subarray(start, start + hlen));
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*(True|False)/.exec(header)?.[1];
  const shapeStr = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (!descr || !fortran || shapeStr === undefined) throw new DataError(`${file}: unreadable .npy header ${JSON.stringify(header.trim())}`);
  if (fortran === 'True') throw new DataError(`${file}: Fortran-ordered arrays are not supported`, { hint: 'save it with np.ascontiguousarray(...)' });
  const dt = DTYPES[descr === '<f4' || descr === '=f4' ? '<f4' : descr];
  if (!dt) throw new DataError(`${file}: dtype ${descr} is not supported`, { hint: `supported: ${Object.keys(DTYPES).join(', ')}` });
  const shape = shapeStr.split(',').map((s) => s.trim()).filter(Boolean).map(Number);
  const n = shape.reduce((a, b) => a * b, 1);
  const off = start + hlen;
  if (bytes.length - off < n * dt.bytes) throw new DataError(`${file}: truncated .npy data (${bytes.length - off} of ${n * dt.bytes} bytes)`);
  const buf = bytes.slice(off, off + n * dt.bytes).buffer;
  return { data: dt.make(buf, n), shape, descr };
}

/** IEEE half floats (raw uint16) to float32. */
function halfToFloat32(h: Uint16Array): Float32Array {
  const out = new Float32Array(h.length);
  for (let i = 0; i < h.length; i++) {
    const v = h[i]!;
    const s = v & 0x8000 ? -1 : 1;
    const e = (v >> 10) & 0x1f;
    const f = v & 0x3ff;
    out[i] = e === 0 ? s * 2 ** -14 * (f / 1024) : e === 31 ? (f ? NaN : s * Infinity) : s * 2 ** (e - 15) * (1 + f / 1024);
  }
  return out;
}
