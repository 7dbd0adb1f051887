import { open } from 'node:fs/promises';
import { extname } from 'node:path';
import { DataError } from '@nnunet-ts/core';

/** Bytes of a MetaImage file's start searched for its header (the header is text before `ElementDataFile`). */
const META_HEAD_BYTES = 64 * 1024;

/** Most dimensions a MetaImage may declare (MetaIO's `NDims`; ITK images here have 2-4). */
const MAX_NDIMS = 10;

/** A header value as a whole number in [lo, hi], or null (`Number` parsing: `3` and `3.0` pass; `inf`, `1e309`, `nan`, `-1` do not). */
function wholeIn(v: string, lo: number, hi: number): number | null {
  const n = Number(v);
  return v.trim() !== '' && Number.isInteger(n) && n >= lo && n <= hi ? n : null;
}

/**
 * Check the dimension fields of a MetaImage header (text `Key = value` lines up to `ElementDataFile`; MetaIO's
 * format, https://itk.org/Wiki/ITK/MetaIO/Documentation): `NDims` a whole number 1-10, `DimSize` `NDims` whole numbers
 * >= 1. Returns what is wrong, or null. Other fields are left to ITK.
 *
 * Why: MetaIO converts `NDims = inf` (or `1e309`) to an integer without a range check and then loops over that many
 * dimensions: a read that never ends (found by the mha fuzz target, seed 2612). A header whose `NDims` or `DimSize`
 * is missing is also left to ITK, which refuses it.
 */
export function metaHeaderProblem(header: string): string | null {
  const fields = new Map<string, string>();
  for (const raw of header.split('\n')) {
    const line = raw.replace(/\r$/, '');
    const eq = line.indexOf('=');
    if (eq < 0) continue;
    const key = line.slice(0, eq).trim();
    if (!fields.has(key)) fields.set(key, line.slice(eq + 1).trim());
    if (key === 'ElementDataFile') break;
  }
  const nd = fields.get('NDims');
  if (nd === undefined) return null;
  const n = wholeIn(nd, 1, MAX_NDIMS);
  if (n === null) return `NDims = '${nd.slice(0, 40)}' is not a whole number of dimensions from 1 to ${MAX_NDIMS}`;
  const ds = fields.get('DimSize');
  if (ds === undefined) return null;
  const sizes = ds.split(/\s+/).filter(Boolean);
  if (sizes.length !== n) return `DimSize = '${ds.slice(0, 80)}' has ${sizes.length} value(s) for NDims = ${n}`;
  const bad = sizes.find((s) => wholeIn(s, 1, 2 ** 31 - 1) === null);
  if (bad !== undefined) return `DimSize = '${ds.slice(0, 80)}': '${bad.slice(0, 40)}' is not a whole number of voxels >= 1`;
  return null;
}

/**
 * Refuse a MetaImage file (`.mha`, `.mhd`) whose header declares an impossible dimension count or size
 * (`metaHeaderProblem`) before ITK reads it. Other files pass unchecked. Throws `DataError` naming the file, the field
 * and its value.
 */
export async function checkMetaHeader(path: string, size: number): Promise<void> {
  const ext = extname(path).toLowerCase();
  if (ext !== '.mha' && ext !== '.mhd') return;
  const fh = await open(path, 'r');
  let head: string;
  try {
    const buf = Buffer.alloc(Math.min(size, META_HEAD_BYTES));
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
    head = buf.subarray(0, bytesRead).toString('latin1');
  } finally {
    await fh.close();
  }
  const problem = metaHeaderProblem(head);
  if (problem) {
    throw new DataError(`corrupt MetaImage header: ${problem}`, {
      file: path,
      hint: 'NDims is the number of axes (3 for a volume) and DimSize one voxel count per axis; fix the header or export the image again',
    });
  }
}
