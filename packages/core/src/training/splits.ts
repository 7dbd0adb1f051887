import { promises as fs } from 'node:fs';
import type { Splits } from '../contracts/plans.js';
import { DataError, NnunetError } from '../util/errors.js';
import { writeFileAtomic } from './atomic.js';
import { RandomState } from '../util/random-state.js';

/** Compare strings by Unicode code point, as numpy's `np.sort` orders `str` arrays. */
export function compareCodePoints(a: string, b: string): number {
  const ia = a[Symbol.iterator]();
  const ib = b[Symbol.iterator]();
  for (;;) {
    const x = ia.next();
    const y = ib.next();
    if (x.done || y.done) return x.done && y.done ? 0 : x.done ? -1 : 1;
    const d = x.value.codePointAt(0)! - y.value.codePointAt(0)!;
    if (d !== 0) return d;
  }
}

/**
 * Cross-validation splits as nnU-Net makes them (RULES.md §1): case ids sorted (by code point, like `np.sort`),
 * then scikit-learn `KFold(n_splits=nFolds, shuffle=True, random_state=seed)`: a numpy `RandomState(seed)` shuffle of
 * the indices, consecutive test chunks of size `n // nFolds` (the first `n % nFolds` one larger), train = the rest.
 * Both lists of each fold are in sorted order. Output equals nnU-Net's `splits_final.json` for the same ids.
 * Throws `NnunetError` when there are fewer cases than folds, or duplicate ids.
 */
export function createSplits(caseIds: string[], nFolds = 5, seed = 12345): Splits {
  const keys = [...caseIds].sort(compareCodePoints);
  for (let i = 1; i < keys.length; i++) {
    if (keys[i] === keys[i - 1]) throw new NnunetError(`duplicate case id '${keys[i]}' in the training set`);
  }
  const n = keys.length;
  if (!Number.isInteger(nFolds) || nFolds < 2) throw new NnunetError(`number of folds must be an integer >= 2, got ${nFolds}`);
  if (n < nFolds) {
    throw new NnunetError(`cannot make ${nFolds} cross-validation folds from ${n} training case(s)`, {
      hint: 'add training cases, use fewer folds, or train on fold "all"',
    });
  }
  const order = new RandomState(seed >>> 0).shuffle(Array.from({ length: n }, (_, i) => i));
  const splits: Splits = [];
  let start = 0;
  for (let f = 0; f < nFolds; f++) {
    const size = Math.floor(n / nFolds) + (f < n % nFolds ? 1 : 0);
    const isVal = new Uint8Array(n);
    for (let k = start; k < start + size; k++) isVal[order[k]!] = 1;
    start += size;
    splits.push({ train: keys.filter((_, i) => !isVal[i]), val: keys.filter((_, i) => isVal[i]) });
  }
  return splits;
}

/**
 * Read `splits_final.json` (nnU-Net format: `[{train: [...], val: [...]}, ...]`).
 * Throws `DataError` naming the file when it is unreadable, not JSON, or not in that shape.
 */
export async function readSplits(path: string): Promise<Splits> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(await fs.readFile(path, 'utf8'));
  } catch (e) {
    throw new DataError(`cannot read splits file: ${(e as Error).message}`, {
      file: path,
      hint: 'fix or delete the file; it is recreated from the case list',
      cause: e,
    });
  }
  const isList = (x: unknown): x is string[] => Array.isArray(x) && x.every((s) => typeof s === 'string');
  if (!Array.isArray(parsed) || parsed.length === 0 || !parsed.every((f) => f && isList(f.train) && isList(f.val))) {
    throw new DataError('splits file must be a non-empty list of {"train": [...], "val": [...]} objects', {
      file: path,
      hint: 'fix or delete the file; it is recreated from the case list',
    });
  }
  return (parsed as Splits).map((f) => ({ train: [...f.train], val: [...f.val] }));
}

/** Write `splits_final.json` atomically (temp file + rename), indented like nnU-Net's. */
export async function writeSplits(path: string, splits: Splits): Promise<void> {
  await writeFileAtomic(path, JSON.stringify(splits, null, 4) + '\n');
}

/**
 * Train/val ids of `fold` from splits; `'all'` trains and validates on every case (nnU-Net `fold all`).
 * Throws `NnunetError` for an out-of-range fold.
 */
export function foldCases(splits: Splits, fold: number | 'all'): { train: string[]; val: string[] } {
  if (fold === 'all') {
    const all = [...new Set(splits.flatMap((s) => [...s.train, ...s.val]))].sort(compareCodePoints);
    return { train: all, val: all };
  }
  const s = splits[fold];
  if (!s) throw new NnunetError(`fold ${fold} does not exist: the splits have ${splits.length} folds`);
  return s;
}
