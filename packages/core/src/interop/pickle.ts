import { NnunetError } from '../util/errors.js';

/**
 * A restricted Python unpickler: it reads plain data (None, bools, ints, floats, str, bytes, tuples, lists, dicts,
 * sets) and, through an allow-list, a few named globals that the caller turns into plain values. It never executes
 * or imports anything: a `GLOBAL` that is not on the allow-list, or an opcode outside the supported set, is refused
 * with an error naming it. Opcodes follow CPython's `Lib/pickletools.py` (protocols 0-5, binary forms).
 */

/** A Python value as read: dicts are `Map`s (keys may be numbers, strings or tuples), tuples are {@link PyTuple}. */
export type PyValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | Uint8Array
  | PyValue[]
  | PyTuple
  | PyDict
  | Set<PyValue>
  | PyObject;

/** A Python dict (insertion order kept). `attributes` holds state set on it by `BUILD` (e.g. torch's `_metadata`). */
export class PyDict extends Map<PyValue, PyValue> {
  attributes?: PyValue;
  /** The value of a string key, or undefined. */
  str(key: string): PyValue | undefined {
    return this.get(key);
  }
}

/** A Python tuple. */
export class PyTuple {
  constructor(readonly items: PyValue[]) {}
}

/** An opaque object made by an allow-listed global (what it is says `kind`). */
export interface PyObject {
  readonly pyKind: string;
  [k: string]: unknown;
}

/** How an allow-listed global behaves: called (`REDUCE`/`NEWOBJ`), or referenced as a value. */
export interface PyGlobal {
  /** `module.name` as in the pickle. */
  name: string;
  /** Called with positional arguments (REDUCE or NEWOBJ). Absent: calling it is refused. */
  call?: (args: PyValue[]) => PyValue;
  /** Applies `BUILD` state to an object this global made. Absent: state is ignored for dicts, refused otherwise. */
  build?: (obj: PyValue, state: PyValue) => PyValue;
  /** Value of the global itself when it is used as data (e.g. a storage type in a persistent id). */
  asValue?: PyValue;
}

/** Options of {@link unpickle}. */
export interface UnpickleOptions {
  /** Allow-listed globals by `module.name`. Anything else is refused. */
  globals: Map<string, PyGlobal>;
  /** Resolves persistent ids (`BINPERSID`), e.g. torch storages. Absent: persistent ids are refused. */
  persistentLoad?: (pid: PyValue) => PyValue;
  /** File name for error messages. */
  file?: string;
}

const MARK = Symbol('mark');
type StackItem = PyValue | typeof MARK | PyGlobal;

function isGlobal(v: unknown): v is PyGlobal {
  return typeof v === 'object' && v !== null && 'name' in v && !(v instanceof Map) && !(v instanceof PyTuple) && !Array.isArray(v) && !(v instanceof Uint8Array) && !('pyKind' in v);
}

/** Reader state: bytes, position, stack, mark stack and memo. */
class Machine {
  pos = 0;
  stack: StackItem[] = [];
  marks: number[] = [];
  memo = new Map<number, StackItem>();
  private readonly dv: DataView;
  constructor(
    private readonly b: Uint8Array,
    readonly opts: UnpickleOptions,
  ) {
    this.dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  }

  fail(msg: string): never {
    throw new NnunetError(`pickle: ${msg} (at byte ${this.pos})`, {
      file: this.opts.file,
      hint: 'the file holds more than plain data (or is corrupt); only checkpoints made by torch.save of nnU-Net trainers are read',
    });
  }
  need(n: number): void {
    if (this.pos + n > this.b.length) this.fail('unexpected end of data');
  }
  u8(): number {
    this.need(1);
    return this.b[this.pos++]!;
  }
  u16(): number {
    this.need(2);
    const v = this.dv.getUint16(this.pos, true);
    this.pos += 2;
    return v;
  }
  u32(): number {
    this.need(4);
    const v = this.dv.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }
  i32(): number {
    this.need(4);
    const v = this.dv.getInt32(this.pos, true);
    this.pos += 4;
    return v;
  }
  u64(): number {
    this.need(8);
    const v = this.dv.getBigUint64(this.pos, true);
    this.pos += 8;
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) this.fail('length too large');
    return Number(v);
  }
  f64be(): number {
    this.need(8);
    const v = this.dv.getFloat64(this.pos, false);
    this.pos += 8;
    return v;
  }
  bytes(n: number): Uint8Array {
    this.need(n);
    const v = this.b.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }
  utf8(n: number): string {
    const b = this.bytes(n);
    try {
      return new TextDecoder('utf-8', { fatal: true }).decode(b);
    } catch {
      return this.fail(`a string of ${n} bytes is not valid UTF-8`);
    }
  }
  line(): string {
    const end = this.b.indexOf(0x0a, this.pos);
    if (end < 0) this.fail('unterminated text line');
    const s = new TextDecoder('latin1').decode(this.b.subarray(this.pos, end));
    this.pos = end + 1;
    return s;
  }
  pop(): StackItem {
    if (!this.stack.length) this.fail('stack underflow');
    return this.stack.pop()!;
  }
  top(): StackItem {
    if (!this.stack.length) this.fail('stack underflow');
    return this.stack[this.stack.length - 1]!;
  }
  popMark(): StackItem[] {
    const m = this.marks.pop();
    if (m === undefined) this.fail('MARK missing');
    return this.stack.splice(m);
  }
  value(v: StackItem): PyValue {
    if (v === MARK) this.fail('MARK used as a value');
    if (isGlobal(v)) {
      if (v.asValue === undefined) this.fail(`global ${v.name} used as data`);
      return v.asValue;
    }
    return v;
  }
  global(name: string): PyGlobal {
    const g = this.opts.globals.get(name);
    if (!g) this.fail(`refusing global '${name}' (not on the allow-list of plain data this reader accepts)`);
    return g;
  }
}

/** Little-endian two's complement integer of `LONG1`/`LONG4` bytes. */
function decodeLong(b: Uint8Array): number | bigint {
  if (!b.length) return 0;
  let v = 0n;
  for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]!);
  if (b[b.length - 1]! & 0x80) v -= 1n << BigInt(8 * b.length);
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

function call(m: Machine, fn: StackItem, args: PyValue[]): PyValue {
  if (!isGlobal(fn) || !fn.call) m.fail(`calling ${isGlobal(fn) ? fn.name : 'a non-global'} is not allowed`);
  return fn.call(args);
}

function setItems(m: Machine, d: StackItem, items: StackItem[]): void {
  if (!(d instanceof PyDict)) m.fail('SETITEM(S) on a non-dict');
  if (items.length % 2) m.fail('odd number of items for SETITEMS');
  for (let i = 0; i < items.length; i += 2) d.set(m.value(items[i]!), m.value(items[i + 1]!));
}

function build(m: Machine, obj: StackItem, state: PyValue): void {
  const maker = typeof obj === 'object' && obj !== null && 'pyKind' in obj ? m.opts.globals.get((obj as PyObject).pyKind) : undefined;
  if (maker?.build) {
    maker.build(obj as PyValue, state);
    return;
  }
  if (obj instanceof PyDict) {
    obj.attributes = state;
    return;
  }
  m.fail(`BUILD on ${maker ? maker.name : typeof obj} is not allowed`);
}

/** Opcodes that push plain values. Returns false when `op` is not one of them. */
function dataOp(m: Machine, op: number): boolean {
  const push = (v: StackItem) => m.stack.push(v);
  switch (op) {
    case 0x4e: push(null); break; // N NONE
    case 0x88: push(true); break; // NEWTRUE
    case 0x89: push(false); break; // NEWFALSE
    case 0x4b: push(m.u8()); break; // K BININT1
    case 0x4d: push(m.u16()); break; // M BININT2
    case 0x4a: push(m.i32()); break; // J BININT
    case 0x8a: push(decodeLong(m.bytes(m.u8()))); break; // LONG1
    case 0x8b: push(decodeLong(m.bytes(m.u32()))); break; // LONG4
    case 0x47: push(m.f64be()); break; // G BINFLOAT
    case 0x58: push(m.utf8(m.u32())); break; // X BINUNICODE
    case 0x8c: push(m.utf8(m.u8())); break; // SHORT_BINUNICODE
    case 0x8d: push(m.utf8(m.u64())); break; // BINUNICODE8
    case 0x55: push(new TextDecoder('latin1').decode(m.bytes(m.u8()))); break; // U SHORT_BINSTRING
    case 0x54: push(new TextDecoder('latin1').decode(m.bytes(m.u32()))); break; // T BINSTRING
    case 0x43: push(m.bytes(m.u8()).slice()); break; // C SHORT_BINBYTES
    case 0x42: push(m.bytes(m.u32()).slice()); break; // B BINBYTES
    case 0x8e: push(m.bytes(m.u64()).slice()); break; // BINBYTES8
    case 0x96: push(m.bytes(m.u64()).slice()); break; // BYTEARRAY8
    case 0x49: { // I INT (text; also True/False as 01/00)
      const s = m.line();
      push(s === '01' ? true : s === '00' ? false : Number.parseInt(s, 10));
      break;
    }
    case 0x46: push(Number.parseFloat(m.line())); break; // F FLOAT (text)
    case 0x7d: push(new PyDict()); break; // } EMPTY_DICT
    case 0x5d: push([]); break; // ] EMPTY_LIST
    case 0x29: push(new PyTuple([])); break; // ) EMPTY_TUPLE
    case 0x8f: push(new Set()); break; // EMPTY_SET
    default: return false;
  }
  return true;
}

/** Opcodes that build containers, use the memo or the mark stack. Returns false when `op` is not one of them. */
function structOp(m: Machine, op: number): boolean {
  switch (op) {
    case 0x28: m.marks.push(m.stack.length); break; // ( MARK
    case 0x30: m.pop(); break; // 0 POP
    case 0x31: m.popMark(); break; // 1 POP_MARK
    case 0x32: m.stack.push(m.top()); break; // 2 DUP
    case 0x74: m.stack.push(new PyTuple(m.popMark().map((v) => m.value(v)))); break; // t TUPLE
    case 0x85: m.stack.push(new PyTuple([m.value(m.pop())])); break; // TUPLE1
    case 0x86: { const b = m.value(m.pop()); m.stack.push(new PyTuple([m.value(m.pop()), b])); break; } // TUPLE2
    case 0x87: { const c = m.value(m.pop()); const b = m.value(m.pop()); m.stack.push(new PyTuple([m.value(m.pop()), b, c])); break; } // TUPLE3
    case 0x6c: m.stack.push(m.popMark().map((v) => m.value(v))); break; // l LIST
    case 0x64: { const d = new PyDict(); setItems(m, d, m.popMark()); m.stack.push(d); break; } // d DICT
    case 0x91: m.stack.push(new Set(m.popMark().map((v) => m.value(v)))); break; // FROZENSET
    case 0x61: { const v = m.value(m.pop()); const l = m.top(); if (!Array.isArray(l)) m.fail('APPEND on a non-list'); l.push(v); break; } // a APPEND
    case 0x65: { const items = m.popMark(); const l = m.top(); if (!Array.isArray(l)) m.fail('APPENDS on a non-list'); l.push(...items.map((v) => m.value(v))); break; } // e APPENDS
    case 0x73: { const v = m.pop(); const k = m.pop(); setItems(m, m.top(), [k, v]); break; } // s SETITEM
    case 0x75: { const items = m.popMark(); setItems(m, m.top(), items); break; } // u SETITEMS
    case 0x90: { const items = m.popMark(); const s = m.top(); if (!(s instanceof Set)) m.fail('ADDITEMS on a non-set'); items.forEach((v) => s.add(m.value(v))); break; } // ADDITEMS
    case 0x71: m.memo.set(m.u8(), m.top()); break; // q BINPUT
    case 0x72: m.memo.set(m.u32(), m.top()); break; // r LONG_BINPUT
    case 0x94: m.memo.set(m.memo.size, m.top()); break; // MEMOIZE
    case 0x70: m.memo.set(Number.parseInt(m.line(), 10), m.top()); break; // p PUT
    case 0x68: case 0x6a: case 0x67: { // h BINGET, j LONG_BINGET, g GET
      const k = op === 0x68 ? m.u8() : op === 0x6a ? m.u32() : Number.parseInt(m.line(), 10);
      if (!m.memo.has(k)) m.fail(`memo key ${k} missing`);
      m.stack.push(m.memo.get(k)!);
      break;
    }
    default: return false;
  }
  return true;
}

/** Globals, calls, persistent ids and framing. Returns false when `op` is not one of them. */
function objectOp(m: Machine, op: number): boolean {
  switch (op) {
    case 0x63: { const mod = m.line(); const name = m.line(); m.stack.push(m.global(`${mod}.${name}`)); break; } // c GLOBAL
    case 0x93: { const name = m.value(m.pop()); const mod = m.value(m.pop()); m.stack.push(m.global(`${String(mod)}.${String(name)}`)); break; } // STACK_GLOBAL
    case 0x52: { const args = m.value(m.pop()); const fn = m.pop(); if (!(args instanceof PyTuple)) m.fail('REDUCE arguments are not a tuple'); m.stack.push(call(m, fn, args.items)); break; } // R REDUCE
    case 0x81: { const args = m.value(m.pop()); const cls = m.pop(); if (!(args instanceof PyTuple)) m.fail('NEWOBJ arguments are not a tuple'); m.stack.push(call(m, cls, args.items)); break; } // NEWOBJ
    case 0x62: { const state = m.value(m.pop()); build(m, m.top(), state); break; } // b BUILD
    case 0x51: { // Q BINPERSID
      const pid = m.value(m.pop());
      if (!m.opts.persistentLoad) m.fail('persistent ids are not allowed here');
      m.stack.push(m.opts.persistentLoad(pid));
      break;
    }
    case 0x95: m.u64(); break; // FRAME (length ignored: data is in memory)
    default: return false;
  }
  return true;
}

/**
 * Read one pickle (protocols 0-5, binary opcodes plus the few text ones torch and numpy emit) without executing
 * anything. Globals must be on `opts.globals`; persistent ids go to `opts.persistentLoad`.
 * @returns the unpickled value
 * @throws NnunetError naming the refused global or opcode (and `opts.file`)
 */
export function unpickle(bytes: Uint8Array, opts: UnpickleOptions): PyValue {
  const m = new Machine(bytes, opts);
  for (;;) {
    const op = m.u8();
    if (op === 0x80) { // PROTO
      const v = m.u8();
      if (v > 5) m.fail(`pickle protocol ${v} is not supported`);
      continue;
    }
    if (op === 0x2e) { // . STOP
      const v = m.value(m.pop());
      return v;
    }
    if (dataOp(m, op) || structOp(m, op) || objectOp(m, op)) continue;
    m.pos--;
    m.fail(`opcode 0x${op.toString(16)} ('${String.fromCharCode(op)}') is not supported`);
  }
}

/** A plain JS value from a Python value: dicts to objects (keys stringified), tuples to arrays, sets to arrays. */
export function toPlain(v: PyValue): unknown {
  if (v instanceof PyDict) {
    const o: Record<string, unknown> = {};
    for (const [k, x] of v) o[k instanceof PyTuple ? k.items.join(',') : String(k)] = toPlain(x);
    return o;
  }
  if (v instanceof PyTuple) return v.items.map(toPlain);
  if (Array.isArray(v)) return v.map(toPlain);
  if (v instanceof Set) return [...v].map(toPlain);
  if (typeof v === 'bigint') return Number(v);
  return v;
}
