import type { MedicalImage, VoxelArray } from '../image/image.js';
import type { Registry } from '../registry/registry.js';
import { NnunetError } from '../util/errors.js';
import { declaredLabelValues } from './dataset-json.js';
import { compareGrids, type GridTolerance } from './geometry.js';
import { readImage } from './read.js';
import type { Dataset, DatasetCase, DatasetProblem } from './types.js';
import { basename, join } from 'node:path';

/** Outcome of `validateDataset`: every problem of every case, plus notes (conversions, ignored files). */
export interface ValidationReport {
  ok: boolean;
  problems: DatasetProblem[];
  notes: string[];
  casesChecked: number;
}

/** Distinct values of a voxel array (at most `limit`), and whether non-integer values occur. */
export function distinctValues(data: VoxelArray, limit = 1000): { values: number[]; nonInteger: number[] } {
  const seen = new Set<number>();
  const nonInt = new Set<number>();
  const isInt = !(data instanceof Float32Array || data instanceof Float64Array);
  for (let i = 0; i < data.length && seen.size < limit; i++) {
    const v = data[i]!;
    if (!seen.has(v)) {
      seen.add(v);
      if (!isInt && !Number.isInteger(v)) nonInt.add(v);
    }
  }
  return { values: [...seen].sort((a, b) => a - b), nonInteger: [...nonInt].sort((a, b) => a - b) };
}

/** Human hint for unexpected label values (0/255 masks, near-integer floats, shifted values). */
function labelHint(values: number[], declared: number[], nonInt: number[]): string {
  if (nonInt.length) {
    const near = nonInt.every((v) => Math.abs(v - Math.round(v)) < 1e-3);
    return near
      ? ` (float values close to integers, e.g. ${nonInt[0]}: the label was saved as float; round it and save as uint8)`
      : ` (non-integer values such as ${nonInt[0]}: is this an image rather than a label?)`;
  }
  if (values.includes(255) && values.every((v) => v === 0 || v === 255)) {
    return ' (values {0, 255} look like a binary mask saved as 8-bit: divide by 255 to get {0, 1})';
  }
  return '';
}

/**
 * Warnings about implausible intensities (bad input B16): a channel declared CT whose values are not Hounsfield
 * units (maximum <= 1, i.e. normalised to [0, 1], or nothing below -500 HU where air should be).
 */
export function intensityNotes(im: MedicalImage, file: string, channelNames: Record<string, string>, channel?: number): string[] {
  const n = im.shape[1] * im.shape[2] * im.shape[3];
  const out: string[] = [];
  for (let ch = 0; ch < im.shape[0]; ch++) {
    const name = channelNames[String(channel ?? ch)];
    if (!name || !/^ct$/i.test(name.trim())) continue;
    let lo = Infinity, hi = -Infinity;
    for (let i = ch * n; i < (ch + 1) * n; i++) {
      const v = im.data[i]!;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    if (hi <= 1 || lo > -500) {
      out.push(`${file}: channel declared CT has intensities in [${+lo.toFixed(3)}, ${+hi.toFixed(3)}], implausible for Hounsfield units (HU; air is about -1000)${hi <= 1 ? ': the image looks normalised to [0, 1]; use the original HU values' : ''}`);
    }
  }
  return out;
}

async function tryRead(registry: Registry, path: string, caseId: string, problems: DatasetProblem[]): Promise<MedicalImage | null> {
  try {
    return await readImage(registry, path);
  } catch (e) {
    if (!(e instanceof NnunetError)) throw e;
    problems.push({ caseId, file: path, message: e.message.replace(`${path}: `, '') });
    return null;
  }
}

async function checkCase(
  registry: Registry,
  ds: Dataset,
  c: DatasetCase,
  declared: number[],
  seenValues: Set<number>,
  tol: GridTolerance | undefined,
  requireLabel: boolean,
  notes: string[],
): Promise<DatasetProblem[]> {
  const problems: DatasetProblem[] = [];
  const nCh = Object.keys(ds.json.channel_names).length;
  const ending = ds.json.file_ending;
  if (c.channelIndices) {
    if (c.images.length !== nCh) {
      problems.push({
        caseId: c.id,
        file: c.images[0]!,
        message: `case '${c.id}' has ${c.images.length} channel file(s) (${c.images.map((p) => p.split('/').pop()).join(', ')}) but dataset.json declares ${nCh} channel(s)`,
      });
    }
    c.channelIndices.forEach((ch, i) => {
      if (ch >= nCh) problems.push({ caseId: c.id, file: c.images[i]!, message: `channel index _${String(ch).padStart(4, '0')} is not declared in channel_names (0..${nCh - 1})` });
    });
    for (let k = 0; k < nCh; k++) {
      if (!c.channelIndices.includes(k)) {
        problems.push({ caseId: c.id, file: join(ds.root, 'imagesTr', `${c.id}_${String(k).padStart(4, '0')}${ending}`), message: `channel file for channel ${k} (${ds.json.channel_names[String(k)]}) is missing` });
      }
    }
  }
  if (!c.label && requireLabel) {
    problems.push({ caseId: c.id, file: join(ds.root, 'labelsTr', `${c.id}${ending}`), message: 'label file is missing' });
  }
  const imgs: (MedicalImage | null)[] = [];
  for (const p of c.images) imgs.push(await tryRead(registry, p, c.id, problems));
  if (!c.channelIndices && imgs[0] && imgs[0].shape[0] !== nCh) {
    problems.push({ caseId: c.id, file: c.images[0]!, message: `image has ${imgs[0].shape[0]} channel(s) but dataset.json declares ${nCh}` });
  }
  imgs.forEach((im, i) => {
    if (im) notes.push(...intensityNotes(im, c.images[i]!, ds.json.channel_names, c.channelIndices?.[i]));
  });
  for (let i = 1; i < imgs.length; i++) {
    if (!imgs[0] || !imgs[i]) continue;
    const d = compareGrids(imgs[0], imgs[i]!, tol, [basename(c.images[0]!), basename(c.images[i]!)]);
    if (d.length) problems.push({ caseId: c.id, file: c.images[i]!, message: `channel grid differs from ${c.images[0]}: ${d.join('; ')} (all channels of a case must share one grid)` });
  }
  if (c.label) {
    const seg = await tryRead(registry, c.label, c.id, problems);
    if (seg) {
      imgs.forEach((im, i) => {
        if (!im) return;
        const d = compareGrids(im, seg, tol, [`image ${basename(c.images[i]!)}`, 'label']);
        if (d.length) problems.push({ caseId: c.id, file: c.label!, message: `label grid differs from image ${c.images[i]}: ${d.join('; ')}` });
      });
      const { values, nonInteger } = distinctValues(seg.data);
      for (const v of values) seenValues.add(v);
      const bad = values.filter((v) => !declared.includes(v));
      if (bad.length) {
        problems.push({
          caseId: c.id,
          file: c.label,
          message: `unexpected label value(s) [${bad.slice(0, 10).join(', ')}]; declared {${declared.join(', ')}}${labelHint(values, declared, nonInteger)}`,
        });
      }
    }
  }
  return problems;
}

/**
 * Check a dataset completely and report every problem of every case (not just the first), each naming the file
 * and both values: channel files present and parsed (B42), channels and label on one grid (B01, B03, B04; rotation
 * angle and origin offset given), label values within the declared set (B05, B06 with hints), numTraining,
 * file endings and stray files (B36, as notes), dataset.json conversions (B43, as notes).
 * Only reads; never modifies the dataset. `onCase` is called after each case (progress).
 */
export async function validateDataset(
  ds: Dataset,
  registry: Registry,
  opts: { tolerance?: GridTolerance; onCase?: (done: number, total: number) => void } = {},
): Promise<ValidationReport> {
  const problems: DatasetProblem[] = [...ds.problems];
  const notes = [...ds.notes];
  const declared = declaredLabelValues(ds.json);
  const jsonFile = join(ds.root, 'dataset.json');
  const sorted = [...declared];
  if (sorted[0] !== 0 || sorted.some((v, i) => v !== i)) {
    const regions = Object.values(ds.json.labels).some(Array.isArray);
    if (!regions) problems.push({ caseId: null, file: jsonFile, message: `declared label values {${sorted.join(', ')}} are not consecutive integers 0..K (spec 1.1)` });
  }
  if (ds.cases.length !== ds.json.numTraining) {
    problems.push({ caseId: null, file: jsonFile, message: `found ${ds.cases.length} training case(s) but numTraining = ${ds.json.numTraining}` });
  }
  if (ds.cases.length === 0) {
    problems.push({ caseId: null, file: join(ds.root, 'imagesTr'), message: `no training cases found (expected files CASE_0000${ds.json.file_ending})` });
  }
  const seen = new Set<number>();
  const all = [...ds.cases.map((c) => ({ c, train: true })), ...ds.testCases.map((c) => ({ c, train: false }))];
  let done = 0;
  for (const { c, train } of all) {
    problems.push(...(await checkCase(registry, ds, c, declared, seen, opts.tolerance, train, notes)));
    opts.onCase?.(++done, all.length);
  }
  const never = declared.filter((v) => !seen.has(v));
  if (ds.cases.length && never.length) notes.push(`declared label value(s) ${never.join(', ')} never occur in any label file`);
  return { ok: problems.length === 0, problems, notes, casesChecked: all.length };
}

/** Format a report grouped by case (dataset-level problems first), for the CLI. */
export function formatValidationReport(r: ValidationReport): string {
  const lines: string[] = [];
  const groups = new Map<string, DatasetProblem[]>();
  for (const p of r.problems) {
    const k = p.caseId ?? '(dataset)';
    groups.set(k, [...(groups.get(k) ?? []), p]);
  }
  for (const [k, ps] of groups) {
    lines.push(`case ${k}:`);
    for (const p of ps) lines.push(`  ${p.file}: ${p.message}`);
  }
  for (const n of r.notes) lines.push(`note: ${n}`);
  lines.push(r.ok ? `dataset OK (${r.casesChecked} cases checked)` : `${r.problems.length} problem(s) in ${groups.size} group(s) (${r.casesChecked} cases checked)`);
  return lines.join('\n');
}
