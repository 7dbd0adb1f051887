/**
 * A small Python pickle writer (protocol 4 opcodes, no framing, no memo; CPython `Lib/pickletools.py`) for plain
 * data: None, bools, ints ({@link PyInt}), floats (JS numbers), str, tuples ({@link PyTupleOf}), lists, dicts
 * (plain objects, string keys in insertion order) and float64 numpy arrays ({@link PyNdarray}, pickled the way
 * numpy does: `numpy.core.multiarray._reconstruct` + `BUILD` state). Nothing else can be expressed, so what it writes
 * loads with `pickle.load` as plain data and numpy arrays only.
 */

/** A Python int (JS numbers are written as floats). */
export class PyInt {
  constructor(readonly value: number) {
    if (!Number.isSafeInteger(value)) throw new RangeError(`PyInt: ${value} is not a safe integer`);
  }
}

/** A Python tuple. */
export class PyTupleOf {
  constructor(readonly items: PickleData[]) {}
}

/** A C-order float64 numpy array. */
export class PyNdarray {
  constructor(readonly shape: number[], readonly data: Float64Array) {
    if (shape.reduce((a, b) => a * b, 1) !== data.length) throw new RangeError(`PyNdarray: shape [${shape}] does not hold ${data.length} values`);
  }
}

/** What {@link pickleDumps} writes. Plain objects are dicts. */
export type PickleData = null | boolean | number | string | PyInt | PyTupleOf | PyNdarray | PickleData[] | { [key: string]: PickleData };

class Out {
  private chunks: Uint8Array[] = [];
  byte(...b: number[]): void {
    this.chunks.push(Uint8Array.from(b));
  }
  bytes(b: Uint8Array): void {
    this.chunks.push(b);
  }
  u32(n: number): void {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, n, true);
    this.chunks.push(b);
  }
  ascii(s: string): void {
    this.chunks.push(new TextEncoder().encode(s));
  }
  concat(): Uint8Array {
    const n = this.chunks.reduce((a, c) => a + c.length, 0);
    const out = new Uint8Array(n);
    let o = 0;
    for (const c of this.chunks) {
      out.set(c, o);
      o += c.length;
    }
    return out;
  }
}

const OP = { MARK: 0x28, STOP: 0x2e, NONE: 0x4e, BININT: 0x4a, BINFLOAT: 0x47, BINUNICODE: 0x58, SHORT_BINUNICODE: 0x8c, EMPTY_DICT: 0x7d, SETITEMS: 0x75, EMPTY_LIST: 0x5d, APPENDS: 0x65, TUPLE: 0x74, GLOBAL: 0x63, REDUCE: 0x52, BUILD: 0x62, BINBYTES: 0x42, NEWTRUE: 0x88, NEWFALSE: 0x89, LONG1: 0x8a, PROTO: 0x80 } as const;

function writeInt(o: Out, v: number): void {
  if (v >= -(2 ** 31) && v < 2 ** 31) {
    o.byte(OP.BININT);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setInt32(0, v, true);
    o.bytes(b);
    return;
  }
  // LONG1: little-endian two's complement, 8 bytes is enough for safe integers
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigInt64(0, BigInt(v), true);
  o.byte(OP.LONG1, 8);
  o.bytes(b);
}

function writeStr(o: Out, s: string): void {
  const b = new TextEncoder().encode(s);
  if (b.length < 256) o.byte(OP.SHORT_BINUNICODE, b.length);
  else {
    o.byte(OP.BINUNICODE);
    o.u32(b.length);
  }
  o.bytes(b);
}

function writeNdarray(o: Out, a: PyNdarray): void {
  o.byte(OP.GLOBAL);
  o.ascii('numpy.core.multiarray\n_reconstruct\n');
  o.byte(OP.MARK, OP.GLOBAL);
  o.ascii('numpy\nndarray\n');
  o.byte(OP.MARK);
  writeInt(o, 0);
  o.byte(OP.TUPLE);
  o.byte(OP.BINBYTES);
  o.u32(1);
  o.ascii('b');
  o.byte(OP.TUPLE, OP.REDUCE, OP.MARK);
  writeInt(o, 1);
  write(o, new PyTupleOf(a.shape.map((s) => new PyInt(s))));
  o.byte(OP.GLOBAL);
  o.ascii('numpy\ndtype\n');
  o.byte(OP.MARK);
  writeStr(o, 'f8');
  o.byte(OP.NEWFALSE, OP.NEWTRUE, OP.TUPLE, OP.REDUCE);
  write(o, new PyTupleOf([new PyInt(3), '<', null, null, null, new PyInt(-1), new PyInt(-1), new PyInt(0)]));
  o.byte(OP.BUILD, OP.NEWFALSE, OP.BINBYTES);
  o.u32(a.data.byteLength);
  o.bytes(new Uint8Array(a.data.buffer, a.data.byteOffset, a.data.byteLength));
  o.byte(OP.TUPLE, OP.BUILD);
}

function write(o: Out, v: PickleData): void {
  if (v === null) o.byte(OP.NONE);
  else if (v === true) o.byte(OP.NEWTRUE);
  else if (v === false) o.byte(OP.NEWFALSE);
  else if (typeof v === 'number') {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setFloat64(0, v, false);
    o.byte(OP.BINFLOAT);
    o.bytes(b);
  } else if (typeof v === 'string') writeStr(o, v);
  else if (v instanceof PyInt) writeInt(o, v.value);
  else if (v instanceof PyNdarray) writeNdarray(o, v);
  else if (v instanceof PyTupleOf) {
    o.byte(OP.MARK);
    for (const x of v.items) write(o, x);
    o.byte(OP.TUPLE);
  } else if (Array.isArray(v)) {
    o.byte(OP.EMPTY_LIST, OP.MARK);
    for (const x of v) write(o, x);
    o.byte(OP.APPENDS);
  } else {
    o.byte(OP.EMPTY_DICT, OP.MARK);
    for (const [k, x] of Object.entries(v)) {
      writeStr(o, k);
      write(o, x);
    }
    o.byte(OP.SETITEMS);
  }
}

/** Pickle `value` (see the module comment for what can be expressed). Returns the bytes of a protocol-4 pickle. */
export function pickleDumps(value: PickleData): Uint8Array {
  const o = new Out();
  o.byte(OP.PROTO, 4);
  write(o, value);
  o.byte(OP.STOP);
  return o.concat();
}
