import { readFileSync } from 'node:fs';
import type { DatasetJson } from '../contracts/plans.js';
import { DataError } from '../util/errors.js';

/** Result of reading a dataset.json: the v2 form plus what was converted on the way. */
export interface ParsedDatasetJson {
  /** v2 form (`channel_names`, name->value `labels`, `numTraining`, `file_ending`). */
  json: DatasetJson;
  /** The file as written (untouched). */
  raw: Record<string, unknown>;
  /** Legacy keys mapped to v2 keys, and other conversions, one line each (RULES.md §1, bad input B43). */
  notes: string[];
}

/** Line and column (1-based) of a character offset in `text`. */
export function lineColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lastNl = -1;
  for (let i = 0; i < Math.min(offset, text.length); i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      lastNl = i;
    }
  }
  return { line, column: offset - lastNl };
}

/**
 * Parse JSON text, raising `DataError` with line and column on a syntax error (bad input B43: trailing commas...).
 * @throws DataError naming `file`, the line/column and V8's description.
 */
export function parseJsonFile(text: string, file: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    const msg = (e as Error).message;
    const pos = /position (\d+)/.exec(msg);
    let where = '';
    if (pos) {
      const { line, column } = lineColumn(text, Number(pos[1]));
      where = ` at line ${line}, column ${column}`;
    } else {
      const lc = /line (\d+) column (\d+)/.exec(msg);
      if (lc) where = ` at line ${lc[1]}, column ${lc[2]}`;
      else if (/end of JSON input/i.test(msg)) {
        const { line, column } = lineColumn(text, text.length);
        where = ` at line ${line}, column ${column} (end of file)`;
      }
    }
    const clean = msg.replace(/\s*\(line \d+ column \d+\)/, '').replace(/ in JSON at position \d+/, '');
    throw new DataError(`invalid JSON${where}: ${clean}`, {
      file,
      hint: 'fix the syntax (a trailing comma after the last entry is a common cause) and run again',
      cause: e,
    });
  }
}

function isIntLike(v: unknown): boolean {
  return typeof v === 'number' && Number.isInteger(v);
}

/**
 * Types of the required keys (RULES.md §1): channel_names an object of index -> non-empty name, numTraining a
 * non-negative integer, file_ending a string starting with '.', optional regions_class_order a list of integers.
 * @throws DataError naming the key, the value found and the expected form.
 */
function checkTypes(channels: unknown, numTraining: unknown, fileEnding: unknown, r: Record<string, unknown>, file: string): void {
  const bad: string[] = [];
  if (!channels || typeof channels !== 'object' || Array.isArray(channels) || Object.keys(channels).length === 0) bad.push(`'channel_names' must be an object like {"0": "CT"}, got ${JSON.stringify(channels)}`);
  else {
    for (const [k, v] of Object.entries(channels)) {
      if (!/^\d+$/.test(k) || typeof v !== 'string' || !v.trim()) bad.push(`channel_names entry ${JSON.stringify(k)}: ${JSON.stringify(v)} (expected "<index>": "<name>")`);
    }
  }
  if (!(Number.isInteger(numTraining) && (numTraining as number) >= 0)) bad.push(`'numTraining' must be a non-negative integer, got ${JSON.stringify(numTraining)}`);
  if (typeof fileEnding !== 'string' || !fileEnding.startsWith('.')) bad.push(`'file_ending' must be a string like ".nii.gz", got ${JSON.stringify(fileEnding)}`);
  const rco = r.regions_class_order;
  if (rco !== undefined && !(Array.isArray(rco) && rco.every(isIntLike))) bad.push(`'regions_class_order' must be a list of integers, got ${JSON.stringify(rco)}`);
  if (bad.length) throw new DataError(`dataset.json has invalid value(s): ${bad.join('; ')}`, { file, hint: 'fix these keys (nnU-Net v2 dataset.json format)' });
}

/**
 * Convert a parsed dataset.json (v2, MSD v1, or a mix) to the v2 form.
 *
 * Rules (RULES.md §1, B43): `modality` is accepted for `channel_names`; labels written value->name
 * (`{"0": "background"}`, v1) are inverted to name->value; a missing `file_ending` is taken from `inferredEnding`
 * (the ending of the listed/found image files); a missing `numTraining` from the `training` list.
 * Every conversion is recorded in `notes`.
 * @throws DataError listing missing keys and the legacy keys recognised, when the file cannot be completed.
 */
export function normalizeDatasetJson(raw: unknown, file: string, inferredEnding?: string): ParsedDatasetJson {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new DataError('dataset.json must hold a JSON object', { file });
  }
  const r = raw as Record<string, unknown>;
  const notes: string[] = [];
  const missing: string[] = [];
  const legacy: string[] = [];

  let channels = r.channel_names as Record<string, string> | undefined;
  if (!channels && r.modality && typeof r.modality === 'object') {
    channels = r.modality as Record<string, string>;
    legacy.push("'modality' -> 'channel_names'");
    notes.push("legacy key 'modality' mapped to 'channel_names'");
  }
  if (!channels) missing.push('channel_names');

  const labelsIn = r.labels as Record<string, unknown> | undefined;
  let labels: Record<string, number | number[]> | undefined;
  if (!labelsIn || typeof labelsIn !== 'object') missing.push('labels');
  else {
    const entries = Object.entries(labelsIn);
    const v1 = entries.length > 0 && entries.every(([k, v]) => /^-?\d+$/.test(k) && typeof v === 'string');
    labels = {};
    if (v1) {
      legacy.push("v1 labels value->name inverted to name->value");
      notes.push('labels were written value->name (MSD v1); inverted to name->value');
      for (const [k, v] of entries) labels[v as string] = Number(k);
    } else {
      for (const [k, v] of entries) {
        if (isIntLike(v) || (Array.isArray(v) && v.every(isIntLike))) labels[k] = v as number | number[];
        else if (typeof v === 'string' && /^-?\d+$/.test(v)) labels[k] = Number(v);
        else {
          throw new DataError(`label '${k}' has value ${JSON.stringify(v)}; expected an integer or a list of integers`, {
            file,
            hint: 'write labels as {"background": 0, "name": 1, ...} (v2) or {"0": "background", ...} (v1)',
          });
        }
      }
    }
  }

  let numTraining = r.numTraining as number | undefined;
  if (typeof numTraining !== 'number') {
    if (Array.isArray(r.training)) {
      numTraining = r.training.length;
      notes.push(`'numTraining' missing; taken from the 'training' list (${numTraining})`);
    } else missing.push('numTraining');
  }

  let fileEnding = r.file_ending as string | undefined;
  if (typeof fileEnding !== 'string') {
    if (inferredEnding) {
      fileEnding = inferredEnding;
      notes.push(`'file_ending' missing; '${inferredEnding}' taken from the image files`);
    } else missing.push('file_ending');
  }
  if (Array.isArray(r.training) && !r.channel_names) legacy.push("'training' list (MSD v1 case list)");

  if (missing.length) {
    throw new DataError(
      `dataset.json is missing required key(s) ${missing.map((m) => `'${m}'`).join(', ')}` +
        (legacy.length ? `; recognised legacy form: ${legacy.join('; ')}` : ''),
      {
        file,
        hint: 'v2 needs channel_names, labels (name->value), numTraining, file_ending; an MSD v1 task can be converted with `nnunet-ts convert-msd`',
      },
    );
  }
  checkTypes(channels!, numTraining!, fileEnding!, r, file);
  const json: DatasetJson = { ...(r as object), channel_names: channels!, labels: labels!, numTraining: numTraining!, file_ending: fileEnding! };
  delete (json as Record<string, unknown>).modality;
  delete (json as Record<string, unknown>).training;
  delete (json as Record<string, unknown>).test;
  return { json, raw: r, notes };
}

/**
 * Read and normalize `<folder>/dataset.json`.
 * @throws DataError when the file is missing, not valid JSON (line/column given) or incomplete.
 */
export function readDatasetJson(file: string, inferredEnding?: string): ParsedDatasetJson {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new DataError('dataset.json not found or unreadable', {
      file,
      hint: 'a dataset folder holds dataset.json, imagesTr/ and labelsTr/ (nnU-Net raw layout)',
      cause: e,
    });
  }
  return normalizeDatasetJson(parseJsonFile(text, file), file, inferredEnding);
}

/** Declared label values (regions flattened), sorted ascending. */
export function declaredLabelValues(json: DatasetJson): number[] {
  const s = new Set<number>();
  for (const v of Object.values(json.labels)) for (const x of Array.isArray(v) ? v : [v]) s.add(x);
  return [...s].sort((a, b) => a - b);
}

/**
 * Foreground classes to evaluate, in dataset.json order: label values (ints) or regions (int lists);
 * background (0) and `ignore` excluded.
 */
export function foregroundClasses(json: DatasetJson): (number | number[])[] {
  const out: (number | number[])[] = [];
  for (const [name, v] of Object.entries(json.labels)) {
    if (name === 'ignore' || name === 'background' && v === 0) continue;
    if (!Array.isArray(v) && v === 0) continue;
    out.push(v);
  }
  return out;
}

/** The ignore label value (RULES.md §1: named `ignore`), if declared. */
export function ignoreLabelOf(json: DatasetJson): number | undefined {
  const v = json.labels.ignore;
  return typeof v === 'number' ? v : undefined;
}
