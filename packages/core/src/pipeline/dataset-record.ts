import { createHash } from 'node:crypto';
import { createReadStream, existsSync, readdirSync, statSync } from 'node:fs';
import { relative } from 'node:path';
import type { DatasetJson } from '../contracts/plans.js';
import type { Dataset } from '../dataset/types.js';
import { DataError } from '../util/errors.js';
import { readJsonIfValid, writeJson } from './json-io.js';
import type { RunLayout } from './layout.js';
import type { Reporter } from './progress.js';

/** One training-case source file of a recorded dataset: path relative to the dataset folder, bytes, mtime, sha256. */
export interface RecordedFile {
  path: string;
  size: number;
  mtimeMs: number;
  sha256: string;
}

/**
 * `<run>/dataset_record.json`: the dataset a run folder's derived state (fingerprint, plans, preprocessed cases,
 * trained models) was made from. `json` holds what of dataset.json the derived state depends on; `files` every
 * image and label file of the training cases, sorted by path. Nothing in it depends on when it was written, so an
 * unchanged dataset gives the same record on every rerun (killed-run resume compares run folders byte for byte).
 */
export interface DatasetRecord {
  format: 1;
  /** Absolute dataset folder (the task folder for an MSD task) when recorded. */
  dataset: string;
  json: Pick<DatasetJson, 'channel_names' | 'labels' | 'numTraining' | 'file_ending'> & { name: string | null; regions_class_order?: number[] };
  files: RecordedFile[];
}

/** Whether `L` holds state derived from a dataset: fingerprint, plans, a preprocessed configuration or results. */
export function hasDerivedState(L: RunLayout): boolean {
  if (existsSync(L.fingerprint) || existsSync(L.plans) || existsSync(L.results)) return true;
  if (!existsSync(L.preprocessed)) return false;
  return readdirSync(L.preprocessed, { withFileTypes: true }).some((e) => e.isDirectory());
}

/** sha256 of a file, streamed (hex). */
function sha256File(file: string): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const h = createHash('sha256');
    createReadStream(file)
      .on('data', (b) => h.update(b))
      .on('error', reject)
      .on('end', () => resolvePromise(h.digest('hex')));
  });
}

function recordJson(json: DatasetJson): DatasetRecord['json'] {
  const out: DatasetRecord['json'] = { name: json.name ?? null, channel_names: json.channel_names, labels: json.labels, file_ending: json.file_ending, numTraining: json.numTraining };
  if (json.regions_class_order) out.regions_class_order = json.regions_class_order;
  return out;
}

/** `RecordedFile.size` of a file that could not be read (never written into a record: validation refuses first). */
const UNREADABLE = -1;

/**
 * The record of `ds`'s training cases. A file whose size and mtime equal its entry in `previous` keeps that entry's
 * hash without being read; every other file is hashed (one streamed read).
 */
export async function datasetRecord(ds: Dataset, previous?: DatasetRecord): Promise<DatasetRecord> {
  const known = new Map((previous?.files ?? []).map((f) => [f.path, f]));
  const paths = [...new Set(ds.cases.flatMap((c) => [...c.images, ...(c.label ? [c.label] : [])]))];
  const files: RecordedFile[] = [];
  for (const abs of paths) {
    const path = relative(ds.root, abs).split('\\').join('/');
    try {
      const st = statSync(abs);
      const old = known.get(path);
      const sha256 = old && old.size === st.size && old.mtimeMs === st.mtimeMs ? old.sha256 : await sha256File(abs);
      files.push({ path, size: st.size, mtimeMs: st.mtimeMs, sha256 });
    } catch {
      // missing, a dangling link, unreadable: validation names it (UNREADABLE marks it here)
      files.push({ path, size: UNREADABLE, mtimeMs: 0, sha256: '' });
    }
  }
  files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return { format: 1, dataset: ds.root, json: recordJson(ds.json), files };
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/** `name 'X', channels {...}, labels {...}` of a dataset.json's identity, for messages. */
function describeIdentity(j: { name?: string | null; channel_names: unknown; labels: unknown }): string {
  return `${j.name ? `name '${j.name}', ` : ''}channels ${JSON.stringify(j.channel_names)}, labels ${JSON.stringify(j.labels)}`;
}

/** Whether two dataset.json describe another dataset (name, channels, labels or regions differ). */
function anotherDataset(a: DatasetRecord['json'], b: DatasetRecord['json']): boolean {
  return a.name !== b.name || !same(a.channel_names, b.channel_names) || !same(a.labels, b.labels) || !same(a.regions_class_order, b.regions_class_order);
}

function anotherDatasetError(L: RunLayout, madeFrom: string, old: { name?: string | null; channel_names: unknown; labels: unknown }, ds: Dataset): DataError {
  return new DataError(
    `the run folder ${L.root} was made from another dataset: ${madeFrom} (${describeIdentity(old)}); ${ds.root} is ${describeIdentity(recordJson(ds.json))}`,
    {
      file: L.root,
      hint: `use a new --out folder for ${ds.root}: this one holds the fingerprint, plans, preprocessed cases and models of ${madeFrom}`,
    },
  );
}

/** How many changed files an error names (then "and N more"). */
const NAMED_CHANGES = 5;

/**
 * Tie a run folder to the dataset its derived state comes from (`<run>/dataset_record.json`, `DatasetRecord`), before
 * any of that state is used: every command that reads or extends it (fingerprint, plan, preprocess, train,
 * decathlon) calls this after loading the dataset and before validating it, and calls the returned function once
 * the dataset passed validation, which writes the record (atomically, and only when it changed).
 *
 * - Another dataset (name, channel_names, labels or regions_class_order of dataset.json differ from the record):
 *   refused, naming the run folder, the dataset it was made from and the fix (a new --out folder).
 * - The same dataset with training-case files changed (content, by sha256), added or removed, or numTraining /
 *   file_ending changed: refused, naming up to 5 files. The fingerprint, plans, preprocessed cases and trained folds
 *   came from the old files and would silently go on being used (nnU-Net rewrites preprocessed cases on each
 *   preprocessing run but keeps the fingerprint and trained models); the fix is a new --out folder (or restoring the
 *   files). A file whose size and mtime equal the record's is not read; one with a new mtime is hashed, so a copy of
 *   the dataset (new mtimes, same bytes) is the same dataset, and its new mtimes are recorded.
 * - A run folder without derived state yet: (re)recorded, nothing compared.
 * - A training file that cannot be read (missing, a dangling link) or a naming problem of the listing
 *   (`ds.problems`): no files compared or recorded; validation names the file and refuses.
 * - A run folder with derived state but no record (an older version made it): refused when its
 *   nnUNet_preprocessed/dataset.json has other channels or labels, else recorded now with a note.
 * @throws DataError as above
 */
export async function checkRunDataset(ds: Dataset, L: RunLayout, rep: Reporter): Promise<() => void> {
  const old = readJsonIfValid<DatasetRecord>(L.datasetRecord);
  const derived = hasDerivedState(L);
  if (old && old.format === 1 && Array.isArray(old.files) && old.json && derived) {
    if (anotherDataset(old.json, recordJson(ds.json))) throw anotherDatasetError(L, old.dataset, old.json, ds);
    // files the listing found broken (a dangling link drops its case): validation names them and refuses
    if (ds.problems.length) return () => {};
    const now = await datasetRecord(ds, old);
    if (now.files.some((f) => f.size === UNREADABLE)) return () => {};
    const changes = datasetChanges(old, now);
    if (changes.length) {
      const named = changes.slice(0, NAMED_CHANGES).join('; ') + (changes.length > NAMED_CHANGES ? `; and ${changes.length - NAMED_CHANGES} more` : '');
      throw new DataError(
        `the dataset ${ds.root} changed since the fingerprint, plans and preprocessed cases of the run folder ${L.root} were made from it (recorded in ${L.datasetRecord}): ${named}`,
        {
          file: L.root,
          hint: `use a new --out folder to fingerprint, plan, preprocess and train from the current files (the state in ${L.root} came from the old ones, its trained folds too); or restore the files named`,
        },
      );
    }
    return () => {
      if (!same(old, now)) writeJson(L.datasetRecord, now);
    };
  }
  if (!old && derived) {
    const stored = readJsonIfValid<DatasetJson>(L.datasetJson);
    if (stored?.channel_names && stored.labels && (!same(stored.channel_names, ds.json.channel_names) || !same(stored.labels, ds.json.labels))) {
      throw anotherDatasetError(L, `the dataset of ${L.datasetJson}`, stored, ds);
    }
  }
  const now = await datasetRecord(ds, old ?? undefined);
  if (now.files.some((f) => f.size === UNREADABLE)) return () => {};
  return () => {
    if (!old && derived) rep.log(`note: ${L.root} has no record of the dataset it was made from (an older version made it); recorded ${ds.root} now in ${L.datasetRecord}: later changes to its files are noticed, earlier ones cannot be`);
    if (!old || !same(old, now)) writeJson(L.datasetRecord, now);
  };
}

/** What differs between two records of the same dataset, one line per file (and per dataset.json field). */
export function datasetChanges(old: DatasetRecord, now: DatasetRecord): string[] {
  const out: string[] = [];
  for (const k of ['numTraining', 'file_ending'] as const) {
    if (!same(old.json[k], now.json[k])) out.push(`dataset.json ${k} ${JSON.stringify(old.json[k])} -> ${JSON.stringify(now.json[k])}`);
  }
  const before = new Map(old.files.map((f) => [f.path, f]));
  const after = new Map(now.files.map((f) => [f.path, f]));
  for (const f of now.files) {
    const o = before.get(f.path);
    if (!o) out.push(`${f.path} added`);
    else if (o.sha256 !== f.sha256) out.push(`${f.path} changed`);
  }
  for (const f of old.files) if (!after.has(f.path)) out.push(`${f.path} removed`);
  return out;
}
