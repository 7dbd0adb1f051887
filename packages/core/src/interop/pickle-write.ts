import { NnunetError } from '../util/errors.js';

/**
 * A small pickle writer (protocol 2, CPython `Lib/pickletools.py` opcodes) for the plain data of a torch checkpoint:
 * None, bools, numbers, strings, lists, tuples, dicts, OrderedDicts, `torch.device`, tensors (as
 * `torch._utils._rebuild_tensor_v2` over persistent-id storages). Python reads what it writes with `pickle.load` /
 * `torch.load`.
 */

/** A value the writer understands. Plain JS objects are dicts (string keys, insertion order). */
export type PickleValue =
  | null
  | boolean
  | number
  | string
  | PickleValue[]
  | { [k: string]: PickleValue }
  | PickleTuple
  | PickleOrderedDict
  | PickleTensor
  | PickleDevice
  | PickleFloat
  | PickleGlobalRef;

/** A Python tuple. */
export class PickleTuple {
  constructor(readonly items: PickleValue[]) {}
}

/** A `collections.OrderedDict` (string keys). */
export class PickleOrderedDict {
  constructor(readonly entries: [string, PickleValue][]) {}
}

/** A `torch.device`. */
export class PickleDevice {
  constructor(readonly type: string) {}
}

/** A reference to a Python function or class by module and name (pickled as `GLOBAL`, as pickle does functions). */
export class PickleGlobalRef {
  constructor(
    readonly module: string,
    readonly name: string,
  ) {}
}

/** A number that must be written as a Python float even when it is integral (e.g. `_best_ema`). */
export class PickleFloat {
  constructor(readonly value: number) {}
}

/** A float32 tensor: a C-contiguous view of storage `key` (`numel` elements) at element `offset`. */
export class PickleTensor {
  constructor(
    readonly key: string,
    readonly numel: number,
    readonly shape: number[],
    readonly offset = 0,
  ) {}
}

const enc = new TextEncoder();

class Writer {
  private chunks: Uint8Array[] = [];
  private cur = new Uint8Array(1 << 16);
  private n = 0;
  byte(...bs: number[]): void {
    for (const b of bs) {
      if (this.n === this.cur.length) this.flush();
      this.cur[this.n++] = b;
    }
  }
  bytes(b: Uint8Array): void {
    for (const x of b) this.byte(x);
  }
  u32(v: number): void {
    for (let i = 0; i < 4; i++) this.byte((v >>> (8 * i)) & 0xff);
  }
  flush(): void {
    this.chunks.push(this.cur.slice(0, this.n));
    this.cur = new Uint8Array(1 << 16);
    this.n = 0;
  }
  result(): Uint8Array {
    this.flush();
    const out = new Uint8Array(this.chunks.reduce((a, c) => a + c.length, 0));
    let o = 0;
    for (const c of this.chunks) {
      out.set(c, o);
      o += c.length;
    }
    return out;
  }
}

function writeInt(w: Writer, v: number): void {
  if (v >= 0 && v < 256) w.byte(0x4b, v); // BININT1
  else if (v >= 0 && v < 65536) w.byte(0x4d, v & 0xff, v >> 8); // BININT2
  else if (v >= -(2 ** 31) && v < 2 ** 31) {
    w.byte(0x4a); // BININT
    w.u32(v >>> 0);
  } else {
    let x = BigInt(v);
    const out: number[] = [];
    while (x !== 0n && x !== -1n) {
      out.push(Number(x & 0xffn));
      x >>= 8n;
    }
    if (out.length === 0 || (x === 0n) !== !(out[out.length - 1]! & 0x80)) out.push(x === 0n ? 0 : 0xff);
    w.byte(0x8a, out.length, ...out); // LONG1
  }
}

function writeFloat(w: Writer, v: number): void {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setFloat64(0, v, false);
  w.byte(0x47); // BINFLOAT
  w.bytes(b);
}

function writeString(w: Writer, s: string): void {
  const b = enc.encode(s);
  w.byte(0x58); // BINUNICODE
  w.u32(b.length);
  w.bytes(b);
}

function writeGlobal(w: Writer, mod: string, name: string): void {
  w.byte(0x63); // GLOBAL
  w.bytes(enc.encode(`${mod}\n${name}\n`));
}

function writeItems(w: Writer, entries: [string, PickleValue][]): void {
  for (let i = 0; i < entries.length; i += 1000) {
    w.byte(0x28); // MARK
    for (const [k, v] of entries.slice(i, i + 1000)) {
      writeString(w, k);
      writeValue(w, v);
    }
    w.byte(0x75); // SETITEMS
  }
}

function writeTensor(w: Writer, t: PickleTensor): void {
  writeGlobal(w, 'torch._utils', '_rebuild_tensor_v2');
  w.byte(0x28); // MARK (argument tuple)
  w.byte(0x28); // MARK (persistent id tuple)
  writeString(w, 'storage');
  writeGlobal(w, 'torch', 'FloatStorage');
  writeString(w, t.key);
  writeString(w, 'cpu');
  writeInt(w, t.numel);
  w.byte(0x74, 0x51); // TUPLE, BINPERSID
  writeInt(w, t.offset);
  writeValue(w, new PickleTuple(t.shape));
  const stride = t.shape.map((_, d) => t.shape.slice(d + 1).reduce((a, b) => a * b, 1));
  writeValue(w, new PickleTuple(stride));
  w.byte(0x89); // NEWFALSE (requires_grad)
  writeValue(w, new PickleOrderedDict([])); // backward hooks
  w.byte(0x74, 0x52); // TUPLE, REDUCE
}

function writeValue(w: Writer, v: PickleValue): void {
  if (v === null) w.byte(0x4e);
  else if (v === true) w.byte(0x88);
  else if (v === false) w.byte(0x89);
  else if (typeof v === 'number') {
    if (Number.isInteger(v)) writeInt(w, v);
    else writeFloat(w, v);
  } else if (typeof v === 'string') writeString(w, v);
  else if (v instanceof PickleFloat) writeFloat(w, v.value);
  else if (Array.isArray(v)) {
    w.byte(0x5d); // EMPTY_LIST
    if (!v.length) return;
    w.byte(0x28); // MARK
    v.forEach((x) => writeValue(w, x));
    w.byte(0x65); // APPENDS
  } else if (v instanceof PickleTuple) {
    w.byte(0x28); // MARK
    v.items.forEach((x) => writeValue(w, x));
    w.byte(0x74); // TUPLE
  } else if (v instanceof PickleOrderedDict) {
    writeGlobal(w, 'collections', 'OrderedDict');
    w.byte(0x29, 0x52); // EMPTY_TUPLE, REDUCE
    writeItems(w, v.entries);
  } else if (v instanceof PickleTensor) writeTensor(w, v);
  else if (v instanceof PickleGlobalRef) writeGlobal(w, v.module, v.name);
  else if (v instanceof PickleDevice) {
    writeGlobal(w, 'torch', 'device');
    writeString(w, v.type);
    w.byte(0x85, 0x52); // TUPLE1, REDUCE
  } else if (typeof v === 'object') {
    w.byte(0x7d); // EMPTY_DICT
    writeItems(w, Object.entries(v));
  } else throw new NnunetError(`cannot pickle a value of type ${typeof v}`);
}

/** Pickle `v` (protocol 2). Numbers that are integers are written as Python ints unless wrapped in {@link PickleFloat}. */
export function pickle(v: PickleValue): Uint8Array {
  const w = new Writer();
  w.byte(0x80, 2); // PROTO 2
  writeValue(w, v);
  w.byte(0x2e); // STOP
  return w.result();
}
