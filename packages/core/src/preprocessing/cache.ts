import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { DataError } from '../util/errors.js';
import { tempSibling, writeError } from '../util/atomic.js';
import type { PreprocessedCase } from './types.js';

/**
 * The preprocessed-case cache: one file per case, `<dir>/<id>.nntscase`:
 *
 *   magic "NNTSCASE" | u32 LE version (1) | u32 LE header length H | header JSON (H bytes, space-padded so the payload
 *   starts 8-byte aligned) | data float32 LE | seg int16 LE (if any) | SHA-1 (20 bytes) of everything before it.
 *
 * The header holds `shape`, `hasSeg`, byte lengths and the nnU-Net properties. Writes go to a temporary file in
 * the same folder, are fsynced and renamed, so a reader never sees half a file. Any truncation or change is
 * caught by the size check or the checksum (bad-inputs B45).
 */
export const CASE_FILE_SUFFIX = '.nntscase';
const MAGIC = Buffer.from('NNTSCASE', 'latin1');
const VERSION = 1;
const SHA_LEN = 20;

/** Path of a case file. */
export function preprocessedCasePath(dir: string, id: string): string {
  return join(dir, `${id}${CASE_FILE_SUFFIX}`);
}

/** Atomically writes a preprocessed case; returns the file path. */
export async function writePreprocessedCase(dir: string, id: string, c: PreprocessedCase): Promise<string> {
  if (!/^[^/\\]+$/.test(id)) throw new RangeError(`bad case id '${id}'`);
  await fs.mkdir(dir, { recursive: true });
  const dataBytes = c.data.byteLength;
  const segBytes = c.seg ? c.seg.byteLength : 0;
  let header = Buffer.from(JSON.stringify({
    id, shape: c.shape, hasSeg: c.seg !== null, dataBytes, segBytes, properties: c.properties,
  }), 'utf8');
  const pre = MAGIC.length + 8;
  const padded = Math.ceil((pre + header.length) / 8) * 8 - pre;
  header = Buffer.concat([header, Buffer.alloc(padded - header.length, 0x20)]);
  const head = Buffer.alloc(pre);
  MAGIC.copy(head, 0);
  head.writeUInt32LE(VERSION, 8);
  head.writeUInt32LE(header.length, 12);
  const parts: Buffer[] = [head, header, le(c.data), ...(c.seg ? [le(c.seg)] : [])];
  const sha = createHash('sha1');
  for (const p of parts) sha.update(p);
  const file = preprocessedCasePath(dir, id);
  const tmp = tempSibling(file);
  try {
    const fh = await fs.open(tmp, 'w');
    try {
      for (const p of [...parts, sha.digest()]) await fh.write(p);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await fs.rename(tmp, file);
  } catch (e) {
    await fs.rm(tmp, { force: true }).catch(() => undefined);
    throw writeError(e, file);
  }
  return file;
}

/** Little-endian byte view of a typed array (copy only on big-endian hosts). */
function le(a: Float32Array | Int16Array): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

function corrupt(file: string, why: string): DataError {
  return new DataError(`preprocessed case file is corrupt (${why}); delete it and rerun preprocess`, {
    file,
    hint: `delete ${file} and rerun preprocess`,
  });
}

/**
 * Reads and verifies a preprocessed case.
 * @throws DataError naming the file ("delete it and rerun preprocess") when it is truncated, modified or not a
 *   case file; the usual ENOENT error when it does not exist
 */
export async function readPreprocessedCase(dir: string, id: string): Promise<PreprocessedCase> {
  const file = preprocessedCasePath(dir, id);
  const buf = await fs.readFile(file);
  if (buf.length < MAGIC.length + 8 + SHA_LEN || !buf.subarray(0, 8).equals(MAGIC)) throw corrupt(file, 'bad header');
  const version = buf.readUInt32LE(8);
  if (version !== VERSION) throw corrupt(file, `unknown version ${version}`);
  const hLen = buf.readUInt32LE(12);
  const start = 16 + hLen;
  if (start + SHA_LEN > buf.length) throw corrupt(file, 'truncated');
  const body = buf.subarray(0, buf.length - SHA_LEN);
  const digest = createHash('sha1').update(body).digest();
  let header: { shape: number[]; hasSeg: boolean; dataBytes: number; segBytes: number; properties: PreprocessedCase['properties'] };
  try {
    header = JSON.parse(buf.subarray(16, start).toString('utf8'));
  } catch {
    throw corrupt(file, 'unreadable header');
  }
  const why = headerProblem(header);
  if (why) throw corrupt(file, why);
  if (start + header.dataBytes + header.segBytes !== body.length) throw corrupt(file, 'size mismatch, truncated?');
  if (!digest.equals(buf.subarray(buf.length - SHA_LEN))) throw corrupt(file, 'checksum mismatch');
  const data = typed(buf, start, header.dataBytes, Float32Array);
  const seg = header.hasSeg ? typed(buf, start + header.dataBytes, header.segBytes, Int16Array) : null;
  return { data, seg, shape: header.shape, properties: header.properties };
}

/** Why a cache header is inconsistent (shape vs byte counts, types), or null. */
function headerProblem(h: unknown): string | null {
  const x = h as { shape?: unknown; hasSeg?: unknown; dataBytes?: unknown; segBytes?: unknown; properties?: unknown } | null;
  if (!x || typeof x !== 'object') return 'header is not an object';
  const shape = x.shape;
  if (!Array.isArray(shape) || shape.length !== 4 || !shape.every((v) => Number.isInteger(v) && v >= 1)) return `bad shape ${JSON.stringify(shape)}`;
  const n = (shape as number[]).reduce((a, b) => a * b, 1);
  if (x.dataBytes !== n * 4) return `dataBytes ${JSON.stringify(x.dataBytes)} does not match shape ${shape.join('x')}`;
  if (typeof x.hasSeg !== 'boolean' || x.segBytes !== (x.hasSeg ? (n / shape[0]) * 2 : 0)) return `segBytes ${JSON.stringify(x.segBytes)} does not match shape ${shape.join('x')}`;
  if (!x.properties || typeof x.properties !== 'object') return 'properties missing';
  return null;
}

function typed<T extends Float32Array | Int16Array>(buf: Buffer, off: number, bytes: number,
  Ctor: { new (b: ArrayBuffer, o: number, n: number): T; new (n: number): T; BYTES_PER_ELEMENT: number }): T {
  const at = buf.byteOffset + off;
  const n = bytes / Ctor.BYTES_PER_ELEMENT;
  if (at % Ctor.BYTES_PER_ELEMENT === 0) return new Ctor(buf.buffer as ArrayBuffer, at, n);
  const out = new Ctor(n);
  new Uint8Array(out.buffer).set(buf.subarray(off, off + bytes));
  return out;
}

/** Ids of the cases in a cache folder, sorted (temporary files are ignored). */
export async function listPreprocessedCases(dir: string): Promise<string[]> {
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  return names.filter((n) => n.endsWith(CASE_FILE_SUFFIX)).map((n) => n.slice(0, -CASE_FILE_SUFFIX.length)).sort();
}
