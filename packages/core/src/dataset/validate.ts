import type { MedicalImage, VoxelArray } from '../image/image.js';
import type { Registry } from '../registry/registry.js';
import { NnunetError } from '../util/errors.js';
import { declaredLabelValues, ignoreLabelOf } from './dataset-json.js';
import { compareGrids, type GridTolerance } from './geometry.js';
import { readImage } from './read.js';
import { brokenLinkMessage, brokenLinkTarget, idOf, listFiles, stripEnding } from './files.js';
import type { Dataset, DatasetCase, DatasetProblem } from './types.js';
import { basename, dirname, join } from 'node:path';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';

const MISSING_LISTED_FIX = "restore the file, or remove the case's entry from dataset.json 'training' (or 'test')";

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

/**
 * Human hint for unexpected label values: 0/255 masks, near-integer floats, values between the declared labels (a
 * label map resampled with linear interpolation: partial-volume values such as 0.5, 1.5), other non-integers (an image?).
 */
function labelHint(values: number[], declared: number[], nonInt: number[]): string {
  if (nonInt.length) {
    const near = nonInt.every((v) => Math.abs(v - Math.round(v)) < 1e-3);
    if (near) return ` (float values close to integers, e.g. ${nonInt[0]}: the label was saved as float; round it and save as uint8)`;
    const lo = Math.min(...declared), hi = Math.max(...declared);
    // linear interpolation only mixes neighbouring labels: every value stays within the declared range
    if (declared.length && values.every((v) => v >= lo && v <= hi)) {
      const shown = nonInt.slice(0, 3).map((v) => +v.toFixed(4)).join(', ');
      return ` (non-integer values between the label values, such as ${shown}: the label map looks resampled with linear interpolation; resample label maps with nearest-neighbour interpolation (SimpleITK sitkNearestNeighbor, scipy/skimage order=0) from the original)`;
    }
    return ` (non-integer values such as ${nonInt[0]}: is this an image rather than a label?)`;
  }
  if (values.includes(255) && values.every((v) => v === 0 || v === 255)) {
    return ' (values {0, 255} look like a binary mask saved as 8-bit: divide by 255 to get {0, 1})';
  }
  if (values.length <= declared.length && values.every((v) => v >= 0)) {
    return ` (the file holds {${values.join(', ')}}: if these are the classes in another numbering (FreeSurfer-style values), renumber them to the values dataset.json declares)`;
  }
  return '';
}

/**
 * The fix for declared labels with gaps (FreeSurfer-style values such as {0, 17, 53}): nnU-Net numbers classes 0..K
 * (its LabelManager takes the label values as channel indices), so the label maps must be renumbered and dataset.json
 * list the new values. Names each value's new number, by its name in `labels`.
 */
function renumberHint(labels: Record<string, unknown>): string {
  const byValue = Object.entries(labels).filter((e): e is [string, number] => typeof e[1] === 'number').sort((a, b) => a[1] - b[1]);
  const moves = byValue.map(([name, v], i) => ({ name, v, i })).filter((m) => m.v !== m.i);
  if (!moves.length) return '';
  const shown = moves.slice(0, 6).map((m) => `${m.v} -> ${m.i} (${m.name})`).join(', ') + (moves.length > 6 ? ', ...' : '');
  return `; nnU-Net needs the classes numbered 0, 1, 2, ...: renumber the values in every label file (${shown}) and list the new values in dataset.json "labels"`;
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

/**
 * Read one file of a case; a read failure becomes a problem. A file listed in an MSD dataset.json but absent is
 * reported as missing with the fix (as the v2 scan reports a missing label), not as an unreadable file.
 */
async function tryRead(
  registry: Registry,
  path: string,
  caseId: string,
  problems: DatasetProblem[],
  kind: 'image' | 'label' = 'image',
): Promise<MedicalImage | null> {
  if (!existsSync(path)) {
    const target = brokenLinkTarget(path);
    if (target !== undefined) problems.push({ caseId, file: path, message: brokenLinkMessage(kind, target) });
    else problems.push({ caseId, file: path, message: `${kind} file is missing (listed in dataset.json); ${MISSING_LISTED_FIX}` });
    return null;
  }
  try {
    return await readImage(registry, path);
  } catch (e) {
    if (!(e instanceof NnunetError)) throw e;
    problems.push({ caseId, file: path, message: e.message.replace(`${path}: `, '') });
    return null;
  }
}

/** Per-validation state shared by the case checks. */
interface CheckState {
  registry: Registry;
  ds: Dataset;
  declared: number[];
  seenValues: Set<number>;
  tol: GridTolerance | undefined;
  notes: string[];
  /** Content hash of each case's image voxels -> first case that had it (duplicates, train/test overlap). */
  hashes: Map<string, { id: string; train: boolean }>;
  /** Training label files read, and those holding no foreground value (only 0 and the ignore label). */
  trainLabels: { read: number; empty: string[] };
  /** Spatial shape `[z, y, x]` of each training case's first image read (2D cases among 3D ones). */
  shapes: { id: string; file: string; shape: number[] }[];
}

/** Count of NaN / +-Inf voxels (float arrays only; integer arrays cannot hold them). */
export function nonFiniteCount(data: VoxelArray): number {
  if (!(data instanceof Float32Array || data instanceof Float64Array)) return 0;
  let n = 0;
  for (let i = 0; i < data.length; i++) if (!Number.isFinite(data[i]!)) n++;
  return n;
}

/** SHA-1 of an image's shape and voxel values (as float64, so the same values stored as int16 or float32 match). */
function contentHash(images: MedicalImage[]): string {
  const h = createHash('sha1');
  const chunk = new Float64Array(65536);
  for (const im of images) {
    h.update(JSON.stringify(im.shape));
    for (let off = 0; off < im.data.length; off += chunk.length) {
      const n = Math.min(chunk.length, im.data.length - off);
      for (let i = 0; i < n; i++) chunk[i] = im.data[off + i]!;
      h.update(new Uint8Array(chunk.buffer, 0, n * 8));
    }
  }
  return h.digest('hex');
}

/** Channel files: the count and indices against channel_names, each file holding one channel (B42). */
function checkChannelFiles(st: CheckState, c: DatasetCase, imgs: (MedicalImage | null)[], problems: DatasetProblem[]): void {
  const { ds } = st;
  const nCh = Object.keys(ds.json.channel_names).length;
  const ending = ds.json.file_ending;
  if (!c.channelIndices) {
    if (imgs[0] && imgs[0].shape[0] !== nCh) problems.push({ caseId: c.id, file: c.images[0]!, message: `image has ${imgs[0].shape[0]} channel(s) but dataset.json declares ${nCh}` });
    return;
  }
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
      // the folder the case's other channel files are in (imagesTr, or imagesTs for a test case)
      const dir = c.images[0] ? dirname(c.images[0]) : join(ds.root, 'imagesTr');
      problems.push({ caseId: c.id, file: join(dir, `${c.id}_${String(k).padStart(4, '0')}${ending}`), message: `channel file for channel ${k} (${ds.json.channel_names[String(k)]}) is missing` });
    }
  }
  imgs.forEach((im, i) => {
    if (im && im.shape[0] !== 1) {
      problems.push({ caseId: c.id, file: c.images[i]!, message: `channel file holds ${im.shape[0]} channels (a 4D/vector image) but a _XXXX file must hold exactly one; split it into one file per channel` });
    }
  });
}

/** Voxel-level checks of the channel images: non-finite values (error), constant channels and reader notes. */
function checkImageVoxels(st: CheckState, c: DatasetCase, imgs: (MedicalImage | null)[], problems: DatasetProblem[]): void {
  imgs.forEach((im, i) => {
    if (!im) return;
    const file = c.images[i]!;
    for (const w of im.warnings ?? []) st.notes.push(w.startsWith(file) ? w : `${file}: ${w}`);
    st.notes.push(...intensityNotes(im, file, st.ds.json.channel_names, c.channelIndices?.[i]));
    const bad = nonFiniteCount(im.data);
    if (bad) {
      problems.push({ caseId: c.id, file, message: `${bad} voxel(s) are NaN or infinite; normalisation and training would turn them into NaN (replace them, e.g. by the image minimum, and re-save)` });
      return;
    }
    let lo = Infinity, hi = -Infinity;
    for (let k = 0; k < im.data.length; k++) {
      const v = im.data[k]!;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    if (lo === hi) st.notes.push(`${file}: every voxel is ${lo} (a constant image; normalisation maps it to 0)`);
  });
}

/** Duplicate cases (same voxels) within the training set, and test cases that repeat a training case. */
function checkDuplicates(st: CheckState, c: DatasetCase, imgs: (MedicalImage | null)[], train: boolean): void {
  if (imgs.some((im) => !im)) return;
  const h = contentHash(imgs as MedicalImage[]);
  const prev = st.hashes.get(h);
  if (!prev) {
    st.hashes.set(h, { id: c.id, train });
    return;
  }
  if (prev.train && train) st.notes.push(`${c.images[0]}: case '${c.id}' has the same image voxels as training case '${prev.id}' (a duplicate: it counts twice and may sit in both a training and a validation fold)`);
  else if (prev.train !== train) st.notes.push(`${c.images[0]}: test case '${c.id}' has the same image voxels as training case '${prev.id}' (train/test overlap: test scores would be optimistic)`);
  else st.notes.push(`${c.images[0]}: test case '${c.id}' has the same image voxels as test case '${prev.id}'`);
}

/** The label: grid against each channel, one channel, values within the declared set (B01, B03, B05, B06). */
async function checkLabel(st: CheckState, c: DatasetCase, imgs: (MedicalImage | null)[], problems: DatasetProblem[], train: boolean): Promise<void> {
  const seg = await tryRead(st.registry, c.label!, c.id, problems, 'label');
  if (!seg) return;
  const label = c.label!;
  for (const w of seg.warnings ?? []) st.notes.push(w.startsWith(label) ? w : `${label}: ${w}`);
  if (seg.shape[0] !== 1) {
    problems.push({ caseId: c.id, file: label, message: `label holds ${seg.shape[0]} channels (a 4D or vector image); a label map must be one 3D (or 2D) volume of integer class values` });
  }
  imgs.forEach((im, i) => {
    if (!im) return;
    const d = compareGrids(im, seg, st.tol, [`image ${basename(c.images[i]!)}`, 'label']);
    if (d.length) problems.push({ caseId: c.id, file: label, message: `label grid differs from image ${c.images[i]}: ${d.join('; ')}` });
  });
  const { values, nonInteger } = distinctValues(seg.data);
  for (const v of values) st.seenValues.add(v);
  if (train) {
    st.trainLabels.read++;
    const ignore = ignoreLabelOf(st.ds.json);
    if (values.every((v) => v === 0 || v === ignore)) st.trainLabels.empty.push(label);
  }
  const bad = values.filter((v) => !st.declared.includes(v));
  if (bad.length) {
    problems.push({
      caseId: c.id,
      file: label,
      message: `unexpected label value(s) [${bad.slice(0, 10).join(', ')}]; declared {${st.declared.join(', ')}}${labelHint(values, st.declared, nonInteger)}`,
    });
  }
}

/** Files in `<root>/labelsTr` named `<id>` plus an image ending other than `ending` (a label nnU-Net would not find). */
function otherEndingLabels(root: string, id: string, ending: string): string[] {
  return listFiles(join(root, 'labelsTr')).filter((n) => !n.startsWith('.') && !stripEnding(n, ending) && idOf(n) === id);
}

async function checkCase(st: CheckState, c: DatasetCase, train: boolean): Promise<DatasetProblem[]> {
  const problems: DatasetProblem[] = [];
  if (!c.label && train) {
    const ending = st.ds.json.file_ending;
    const other = otherEndingLabels(st.ds.root, c.id, ending);
    problems.push(other.length
      ? { caseId: c.id, file: join(st.ds.root, 'labelsTr', other[0]!), message: `label saved with another ending than the dataset's file_ending '${ending}': nnU-Net looks for labelsTr/${c.id}${ending} and does not find it; convert ${other.join(', ')} to ${ending} (rename it only if it already is in that format)` }
      : { caseId: c.id, file: join(st.ds.root, 'labelsTr', `${c.id}${ending}`), message: `label file is missing; add labelsTr/${c.id}${ending}, or remove the case's images from imagesTr` });
  }
  const imgs: (MedicalImage | null)[] = [];
  for (const p of c.images) imgs.push(await tryRead(st.registry, p, c.id, problems));
  checkChannelFiles(st, c, imgs, problems);
  checkImageVoxels(st, c, imgs, problems);
  for (let i = 1; i < imgs.length; i++) {
    if (!imgs[0] || !imgs[i]) continue;
    const d = compareGrids(imgs[0], imgs[i]!, st.tol, [basename(c.images[0]!), basename(c.images[i]!)]);
    if (d.length) problems.push({ caseId: c.id, file: c.images[i]!, message: `channel grid differs from ${c.images[0]}: ${d.join('; ')} (all channels of a case must share one grid)` });
  }
  checkDuplicates(st, c, imgs, train);
  if (train && imgs[0]) st.shapes.push({ id: c.id, file: c.images[0]!, shape: imgs[0].shape.slice(1) });
  if (c.label) await checkLabel(st, c, imgs, problems, train);
  return problems;
}

/**
 * Naming notes: case ids that differ only in letter case (they collide on case-insensitive file systems: macOS,
 * Windows), and label files in labelsTr/labelsTs without an image (v2 layout), each with the name it likely should
 * have when a case without a label has an id that starts the file's name (`case_006_seg.nii.gz` for the images
 * `case_006_0000.nii.gz`: nnU-Net names a label `<case id><file_ending>`, `get_filenames_of_train_images_and_targets`).
 */
function namingNotes(ds: Dataset): string[] {
  const out: string[] = [];
  if (ds.layout === 'v2') {
    const ending = ds.json.file_ending;
    for (const [set, dir] of [[ds.cases, 'labelsTr'], [ds.testCases, 'labelsTs']] as const) {
      const used = new Set(set.map((c) => c.label).filter(Boolean));
      // a label whose image is a broken symbolic link is said with that problem, not as an orphan
      const linked = new Set(ds.problems.filter((p) => p.message.startsWith('image is a broken symbolic link')).map((p) => p.caseId));
      const orphans = listFiles(join(ds.root, dir)).filter((n) => !n.startsWith('.') && stripEnding(n, ending) && !used.has(join(ds.root, dir, n)) && !linked.has(stripEnding(n, ending)!.stem.normalize('NFC')));
      const unlabelled = set.filter((c) => !c.label);
      const named = orphans.slice(0, 10).map((n) => {
        const stem = stripEnding(n, ending)!.stem;
        // the longest case id followed by a separator: `case_006` for `case_006_seg`
        const c = unlabelled.filter((u) => stem.length > u.id.length && stem.startsWith(u.id) && '_-.'.includes(stem[u.id.length]!)).sort((a, b) => b.id.length - a.id.length)[0];
        return c ? `${n} (did you mean ${c.id}${ending}, the label name of ${dir.replace('labels', 'images')}/${basename(c.images[0]!)}?)` : n;
      });
      if (orphans.length) out.push(`${join(ds.root, dir)}: ${orphans.length} label file(s) without an image, ignored: ${named.join(', ')}`);
    }
  }
  for (const [set, where] of [[ds.cases, 'imagesTr'], [ds.testCases, 'imagesTs']] as const) {
    const seen = new Map<string, string>();
    for (const c of set) {
      const k = c.id.toLowerCase();
      const prev = seen.get(k);
      if (prev !== undefined) out.push(`${join(ds.root, where)}: case ids '${prev}' and '${c.id}' differ only in letter case; their outputs collide on case-insensitive file systems`);
      else seen.set(k, c.id);
    }
  }
  return out;
}

/**
 * Training labels without foreground: when every training label read holds only background (0, or the ignore
 * label), training has nothing to learn: a problem (a note with `allowEmptyLabels`); when only some do, a note
 * (nnU-Net trains on such cases: they show what is not foreground).
 */
function emptyLabelFindings(st: CheckState, allow: boolean): { problem?: DatasetProblem; note?: string } {
  const { read, empty } = st.trainLabels;
  if (!empty.length) return {};
  const names = `${empty.slice(0, 5).map((f) => basename(f)).join(', ')}${empty.length > 5 ? `, ... (${empty.length - 5} more)` : ''}`;
  if (empty.length < read) return { note: `${dirname(empty[0]!)}: ${empty.length} of ${read} training label file(s) hold only background (no foreground class): ${names}` };
  const fg = Object.entries(st.ds.json.labels).filter(([n, v]) => n !== 'ignore' && v !== 0).map(([n, v]) => `${n} ${JSON.stringify(v)}`).join(', ');
  const message = `all ${read} training label file(s) hold only background (0): no foreground class (${fg}) occurs in any of them (${names}), so training would learn nothing useful`;
  if (allow) return { note: `${dirname(empty[0]!)}: ${message}; --allow-empty-labels: going on` };
  return { problem: { caseId: null, file: dirname(empty[0]!), message: `${message}. Fix: put the segmentations (class values of dataset.json's labels) into the label files, or pass --allow-empty-labels to go on anyway` } };
}

/**
 * Notes for 2D training cases (one voxel along a spatial axis: a single slice, or a NIfTI with dim[0] = 2) among
 * mostly 3D ones, naming each such case, its shape and a few shapes of the others. nnU-Net's fingerprint and planning
 * take such a case in (it plans the 3D configurations from the median shape), and its 3d data loader pads the slice
 * to the 3D patch: the case trains as a zero-padded slab, not as the volume the others are. Usually an export of one
 * slice instead of the volume.
 */
export function mixedDimensionNotes(shapes: { id: string; file: string; shape: number[] }[]): string[] {
  const isFlat = (s: number[]) => s.some((d) => d === 1) && s.some((d) => d > 1);
  const flat = shapes.filter((x) => isFlat(x.shape));
  const full = shapes.filter((x) => x.shape.every((d) => d > 1));
  if (!flat.length || full.length <= flat.length) return [];
  const others = full.slice(0, 3).map((x) => `${x.id} ${x.shape.join('x')}`).join(', ') + (full.length > 3 ? ', ...' : '');
  return flat.map((x) => `${x.file}: case '${x.id}' is 2D (shape ${x.shape.join('x')}, one slice) while the other ${full.length} training case(s) are 3D volumes (${others}); nnU-Net plans with it and pads it to the 3d patch, so it trains as a padded slice: give the whole volume, or remove the case`);
}

/** A note as a strict-mode problem: the leading absolute path (if any) becomes the problem's file. */
function noteAsProblem(note: string, fallbackFile: string): DatasetProblem {
  const m = /^(\/[^:]*?|[A-Za-z]:\\[^:]*?): (.*)$/s.exec(note);
  return { caseId: null, file: m ? m[1]! : fallbackFile, message: `(strict) ${m ? m[2]! : note}` };
}

/**
 * Check a dataset completely and report every problem of every case (not just the first), each naming the file
 * and both values: channel files present, parsed and single-channel (B42), channels and label on one grid (B01,
 * B03, B04; rotation angle and origin offset given), label values within the declared set (B05, B06 with hints),
 * one-channel labels, NaN/Inf voxels in images, numTraining. Notes (not errors by default): file endings and stray
 * files (B36), dataset.json conversions (B43), reader warnings (qform/sform choices, units, bitpix, gzip naming),
 * CT intensities not in HU (B16), constant images, duplicate cases and train/test overlap (same voxels), case ids
 * differing only in letter case, declared labels that never occur, training labels with only background, 2D cases
 * among 3D ones (`mixedDimensionNotes`), labels saved under another ending than file_ending. Training
 * labels that ALL hold only background are a problem (nothing to learn) unless `allowEmptyLabels`. `strict` turns
 * every note into a problem (for pipelines that want no surprises); the default stays helpful.
 * Only reads; never modifies the dataset. `onCase` is called after each case (progress).
 */
export async function validateDataset(
  ds: Dataset,
  registry: Registry,
  opts: { tolerance?: GridTolerance; onCase?: (done: number, total: number) => void; strict?: boolean; allowEmptyLabels?: boolean } = {},
): Promise<ValidationReport> {
  const problems: DatasetProblem[] = [...ds.problems];
  const notes = [...ds.notes];
  const declared = declaredLabelValues(ds.json);
  const jsonFile = join(ds.root, 'dataset.json');
  const sorted = [...declared];
  if (sorted[0] !== 0 || sorted.some((v, i) => v !== i)) {
    const regions = Object.values(ds.json.labels).some(Array.isArray);
    // nnU-Net's labels start with "background": 0; a dataset.json without it is the usual cause
    const noBackground = sorted[0] !== 0 ? '; no label has the value 0: add "background": 0 to "labels" in dataset.json' : '';
    if (!regions) problems.push({ caseId: null, file: jsonFile, message: `declared label values {${sorted.join(', ')}} are not consecutive integers 0..K (RULES.md §1)${noBackground || renumberHint(ds.json.labels)}` });
  }
  if (ds.cases.length !== ds.json.numTraining) {
    problems.push({ caseId: null, file: jsonFile, message: `found ${ds.cases.length} training case(s) but numTraining = ${ds.json.numTraining}` });
  }
  if (ds.cases.length === 0) {
    problems.push({ caseId: null, file: join(ds.root, 'imagesTr'), message: `no training cases found (expected files CASE_0000${ds.json.file_ending})` });
  }
  notes.push(...namingNotes(ds));
  const st: CheckState = { registry, ds, declared, seenValues: new Set<number>(), tol: opts.tolerance, notes, hashes: new Map(), trainLabels: { read: 0, empty: [] }, shapes: [] };
  const all = [...ds.cases.map((c) => ({ c, train: true })), ...ds.testCases.map((c) => ({ c, train: false }))];
  let done = 0;
  for (const { c, train } of all) {
    problems.push(...(await checkCase(st, c, train)));
    opts.onCase?.(++done, all.length);
  }
  notes.push(...mixedDimensionNotes(st.shapes));
  const empty = emptyLabelFindings(st, opts.allowEmptyLabels === true);
  if (empty.problem) problems.push(empty.problem);
  if (empty.note) notes.push(empty.note);
  const never = declared.filter((v) => !st.seenValues.has(v));
  if (ds.cases.length && never.length) notes.push(`declared label value(s) ${never.join(', ')} never occur in any label file`);
  if (opts.strict) problems.push(...notes.map((n) => noteAsProblem(n, jsonFile)));
  return { ok: problems.length === 0, problems, notes: opts.strict ? [] : notes, casesChecked: all.length };
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
