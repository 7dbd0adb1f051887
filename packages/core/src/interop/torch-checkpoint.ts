import { unzipSync } from 'fflate';
import { NnunetError } from '../util/errors.js';
import { PyDict, PyTuple, unpickle, type PyGlobal, type PyObject, type PyValue } from './pickle.js';

/**
 * Reading PyTorch's zip checkpoint format (`torch.save`, torch >= 1.6; `torch/serialization.py`): a zip with one
 * top folder `<name>/` holding `data.pkl` (the pickled object), `version`, and `data/<key>` (one raw little-endian
 * storage per key). Tensors in the pickle are `torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...)`
 * with the storage a persistent id `('storage', torch.<Type>Storage, key, location, numel)`.
 */

/** Element type of a storage, from its `torch.<Type>Storage` name. */
export type TorchDtype = 'float32' | 'float64' | 'float16' | 'bfloat16' | 'int64' | 'int32' | 'int16' | 'int8' | 'uint8' | 'bool';

const STORAGE_TYPES: Record<string, [TorchDtype, number]> = {
  FloatStorage: ['float32', 4],
  DoubleStorage: ['float64', 8],
  HalfStorage: ['float16', 2],
  BFloat16Storage: ['bfloat16', 2],
  LongStorage: ['int64', 8],
  IntStorage: ['int32', 4],
  ShortStorage: ['int16', 2],
  CharStorage: ['int8', 1],
  ByteStorage: ['uint8', 1],
  BoolStorage: ['bool', 1],
};

/** A storage of the checkpoint: its zip entry key, element type and length (elements). */
export interface TorchStorage extends PyObject {
  pyKind: 'torch.storage';
  key: string;
  dtype: TorchDtype;
  itemSize: number;
  numel: number;
}

/** A tensor as stored: a view (`offset`, `shape`, `stride`, in elements) of a storage. */
export interface TorchTensor extends PyObject {
  pyKind: 'torch._utils._rebuild_tensor_v2';
  storage: TorchStorage;
  offset: number;
  shape: number[];
  stride: number[];
}

/** A `torch.device`, kept as its string (`'cpu'`, `'cuda:0'`). */
export interface TorchDevice extends PyObject {
  pyKind: 'torch.device';
  device: string;
}

/** A symbol the pickle names (a function or class, e.g. nnU-Net's postprocessing functions): never imported. */
export interface PyReference extends PyObject {
  pyKind: 'reference';
  name: string;
}

/** A loaded checkpoint: the unpickled object and the raw storages by key. */
export interface TorchCheckpoint {
  file: string;
  root: PyValue;
  storages: Map<string, Uint8Array>;
}

function ints(v: PyValue, what: string): number[] {
  const items = v instanceof PyTuple ? v.items : Array.isArray(v) ? v : null;
  if (!items || items.some((x) => typeof x !== 'number')) throw new NnunetError(`${what} is not a tuple of integers`);
  return items as number[];
}

/** numpy dtype: `numpy.dtype(code, align, copy)` with BUILD state `(version, byteorder, ...)`. */
interface NumpyDtype extends PyObject {
  pyKind: 'numpy.dtype';
  code: string;
  byteorder: string;
}

function numpyScalar(args: PyValue[]): PyValue {
  const [dt, data] = args as [NumpyDtype, PyValue];
  if (!dt || dt.pyKind !== 'numpy.dtype' || !(data instanceof Uint8Array)) throw new NnunetError('numpy scalar with unexpected arguments');
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const le = dt.byteorder !== '>';
  const readers: Record<string, () => number | bigint | boolean> = {
    f8: () => dv.getFloat64(0, le), f4: () => dv.getFloat32(0, le),
    i8: () => dv.getBigInt64(0, le), i4: () => dv.getInt32(0, le), i2: () => dv.getInt16(0, le), i1: () => dv.getInt8(0),
    u8: () => dv.getBigUint64(0, le), u4: () => dv.getUint32(0, le), u2: () => dv.getUint16(0, le), u1: () => dv.getUint8(0),
    b1: () => dv.getUint8(0) !== 0,
  };
  const r = readers[dt.code];
  if (!r) throw new NnunetError(`numpy scalar of dtype '${dt.code}' is not supported`);
  const v = r();
  return typeof v === 'bigint' && v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

/**
 * The allow-list of globals for nnU-Net checkpoints and pickles: torch tensors/storages/devices, OrderedDict,
 * numpy scalars and dtypes, `_codecs.encode` (protocol-2 bytes), and `references` kept as names (never imported).
 */
export function checkpointGlobals(references: string[] = []): Map<string, PyGlobal> {
  const g = new Map<string, PyGlobal>();
  const add = (x: PyGlobal) => g.set(x.name, x);
  add({ name: 'collections.OrderedDict', call: () => new PyDict() });
  add({ name: 'builtins.set', call: (a) => new Set(Array.isArray(a[0]) ? a[0] : a[0] instanceof PyTuple ? a[0].items : []) });
  add({ name: '__builtin__.set', call: (a) => new Set(Array.isArray(a[0]) ? a[0] : []) });
  add({
    name: '_codecs.encode',
    call: ([s, enc]) => {
      if (typeof s !== 'string' || (enc !== 'latin1' && enc !== 'latin-1')) throw new NnunetError(`_codecs.encode with encoding ${String(enc)} is not supported`);
      return Uint8Array.from(s, (c) => c.charCodeAt(0));
    },
  });
  add({ name: 'torch.device', call: ([d, i]) => ({ pyKind: 'torch.device', device: i === undefined ? String(d) : `${String(d)}:${String(i)}` }) as TorchDevice });
  add({
    name: 'torch._utils._rebuild_tensor_v2',
    call: ([storage, offset, size, stride]) => {
      const s = storage as TorchStorage;
      if (!s || s.pyKind !== 'torch.storage' || typeof offset !== 'number') throw new NnunetError('tensor without a storage');
      return { pyKind: 'torch._utils._rebuild_tensor_v2', storage: s, offset, shape: ints(size!, 'tensor size'), stride: ints(stride!, 'tensor stride') } as TorchTensor;
    },
  });
  add({ name: 'torch._utils._rebuild_parameter', call: ([t]) => t! });
  for (const [name] of Object.entries(STORAGE_TYPES)) add({ name: `torch.${name}`, asValue: `torch.${name}` });
  for (const mod of ['numpy.core.multiarray', 'numpy._core.multiarray']) add({ name: `${mod}.scalar`, call: numpyScalar });
  add({
    name: 'numpy.dtype',
    call: ([code]) => ({ pyKind: 'numpy.dtype', code: String(code), byteorder: '<' }) as NumpyDtype,
    build: (obj, state) => {
      if (state instanceof PyTuple && typeof state.items[1] === 'string') (obj as unknown as NumpyDtype).byteorder = state.items[1];
      return obj;
    },
  });
  for (const r of references) add({ name: r, asValue: { pyKind: 'reference', name: r } as PyReference });
  return g;
}

function storageFrom(pid: PyValue, file: string): TorchStorage {
  const items = pid instanceof PyTuple ? pid.items : [];
  const [tag, type, key, , numel] = items;
  const t = typeof type === 'string' ? STORAGE_TYPES[type.replace(/^torch\./, '')] : undefined;
  if (tag !== 'storage' || !t || typeof key !== 'string' || typeof numel !== 'number') {
    throw new NnunetError(`unsupported persistent id in the checkpoint (storage type ${String(type)})`, { file, hint: 'only float/int tensor storages are read' });
  }
  return { pyKind: 'torch.storage', key, dtype: t[0], itemSize: t[1], numel };
}

/** Run `f`; an error about the checkpoint's content that does not name `file` (an allow-listed call given bad arguments) is named. */
function withFile<T>(file: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof NnunetError && e.file) throw e;
    throw new NnunetError(`corrupt checkpoint: ${(e as Error)?.message ?? String(e)}`, { file, hint: 'the checkpoint is truncated or damaged: copy it again, or use another checkpoint', cause: e });
  }
}

/**
 * Read a `torch.save` zip checkpoint from bytes without executing anything (see module doc).
 * @param file the file name, for error messages
 * @throws NnunetError naming `file` when it is not a torch zip (e.g. the pre-1.6 legacy format), the pickle uses a
 *   global outside the allow-list, or a storage entry is missing or too short
 */
export function readTorchCheckpoint(bytes: Uint8Array, file: string, references: string[] = []): TorchCheckpoint {
  let entries: Record<string, Uint8Array>;
  try {
    entries = unzipSync(bytes);
  } catch (e) {
    throw new NnunetError(`not a PyTorch zip checkpoint (${(e as Error).message})`, {
      file,
      hint: 'checkpoints of torch < 1.6 (legacy format) are not read: re-save with torch.save(torch.load(f), f) in a current torch',
      cause: e,
    });
  }
  const pkl = Object.keys(entries).find((k) => /^[^/]+\/data\.pkl$/.test(k));
  if (!pkl) throw new NnunetError('the zip has no <archive>/data.pkl: not a torch.save checkpoint', { file });
  const prefix = pkl.slice(0, -'data.pkl'.length);
  const storages = new Map<string, Uint8Array>();
  const root = withFile(file, () => unpickle(entries[pkl]!, {
    file,
    globals: checkpointGlobals(references),
    persistentLoad: (pid) => {
      const s = storageFrom(pid, file);
      const raw = entries[`${prefix}data/${s.key}`];
      if (!raw) throw new NnunetError(`storage ${s.key} is missing from the zip`, { file, hint: 'the checkpoint is truncated or corrupt' });
      if (raw.length < s.numel * s.itemSize) throw new NnunetError(`storage ${s.key} has ${raw.length} bytes, needs ${s.numel * s.itemSize}`, { file });
      storages.set(s.key, raw);
      return s;
    },
  }));
  return { file, root, storages };
}

/** True when `v` is a tensor read by {@link readTorchCheckpoint}. */
export function isTorchTensor(v: unknown): v is TorchTensor {
  return typeof v === 'object' && v !== null && (v as PyObject).pyKind === 'torch._utils._rebuild_tensor_v2';
}

function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * f * 2 ** -24;
  if (e === 31) return f ? NaN : s * Infinity;
  return s * (1 + f / 1024) * 2 ** (e - 15);
}

/**
 * The values of a floating-point tensor as float32, C order (last axis fastest), whatever its stride.
 * @throws NnunetError when the tensor is not floating point or its view exceeds the storage
 */
export function tensorToFloat32(ck: TorchCheckpoint, t: TorchTensor): Float32Array {
  const raw = ck.storages.get(t.storage.key)!;
  const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const read: Record<string, (i: number) => number> = {
    float32: (i) => dv.getFloat32(4 * i, true),
    float64: (i) => dv.getFloat64(8 * i, true),
    float16: (i) => halfToFloat(dv.getUint16(2 * i, true)),
    bfloat16: (i) => new Float32Array(new Uint32Array([dv.getUint16(2 * i, true) << 16]).buffer)[0]!,
  };
  const r = read[t.storage.dtype];
  if (!r) throw new NnunetError(`tensor of dtype ${t.storage.dtype} where a floating-point weight was expected`, { file: ck.file });
  const n = t.shape.reduce((a, b) => a * b, 1);
  let maxIdx = t.offset;
  t.shape.forEach((s, d) => (maxIdx += s > 0 ? (s - 1) * t.stride[d]! : 0));
  if (n > 0 && maxIdx >= t.storage.numel) throw new NnunetError(`tensor view exceeds its storage ${t.storage.key}`, { file: ck.file });
  const out = new Float32Array(n);
  const contiguous = t.shape.every((_, d) => t.stride[d] === t.shape.slice(d + 1).reduce((a, b) => a * b, 1));
  if (contiguous && t.storage.dtype === 'float32' && (raw.byteOffset + 4 * t.offset) % 4 === 0) {
    out.set(new Float32Array(raw.buffer, raw.byteOffset + 4 * t.offset, n));
    return out;
  }
  const idx = t.shape.map(() => 0);
  for (let k = 0; k < n; k++) {
    let e = t.offset;
    for (let d = 0; d < idx.length; d++) e += idx[d]! * t.stride[d]!;
    out[k] = r(e);
    for (let d = idx.length - 1; d >= 0; d--) {
      if (++idx[d]! < t.shape[d]!) break;
      idx[d] = 0;
    }
  }
  return out;
}
