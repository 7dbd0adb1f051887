import { existsSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { DataError } from '../util/errors.js';
import { parseJsonFile, normalizeDatasetJson } from './dataset-json.js';
import { brokenLinkMessage, brokenLinks, endingOf, idOf, listFiles, parseChannelStem, stripEnding } from './files.js';
import type { Dataset, DatasetCase, DatasetProblem } from './types.js';
import { readFileSync } from 'node:fs';

interface Scan {
  cases: DatasetCase[];
  notes: string[];
  problems: DatasetProblem[];
}

/**
 * Scan an images folder in v2 naming (`CASE_XXXX<ending>`), pairing labels from `labelDir` (`CASE<ending>`).
 * `.nii` is accepted for `.nii.gz` (and back) with a note; hidden and other files are ignored with a note (B36), macOS
 * `._*` AppleDouble files with their own note (`appleDoubleNote`: their name may end in the image ending);
 * files without a `_XXXX` channel suffix are problems (B42), and so are image or label files that are dangling
 * symbolic links (named with their target: the case would otherwise vanish without a word).
 */
export function scanV2Folder(imageDir: string, labelDir: string | null, ending: string): Scan {
  const notes: string[] = [];
  const problems: DatasetProblem[] = [];
  const byId = new Map<string, { ch: number; path: string }[]>();
  const ignored: string[] = [];
  const appleDouble: string[] = [];
  for (const name of listFiles(imageDir)) {
    const path = join(imageDir, name);
    const s = name.startsWith('.') ? null : stripEnding(name, ending);
    if (!s) {
      (name.startsWith('._') ? appleDouble : ignored).push(name);
      continue;
    }
    if (s.alt) notes.push(`${path}: ending '${endingOf(name)}' accepted for file_ending '${ending}' (read by content)`);
    const p = parseChannelStem(s.stem);
    if (!p) {
      problems.push({
        caseId: s.stem,
        file: path,
        message: `file name has no _XXXX channel suffix; image files must be named CASE_0000${ending}, CASE_0001${ending}, ...`,
      });
      continue;
    }
    const list = byId.get(p.id) ?? [];
    list.push({ ch: p.channel, path });
    byId.set(p.id, list);
  }
  if (ignored.length) notes.push(`${imageDir}: ignored ${ignored.length} file(s) not ending in '${ending}': ${ignored.join(', ')}`);
  if (appleDouble.length) notes.push(appleDoubleNote(imageDir, appleDouble));
  for (const [dir, kind] of [[imageDir, 'image'], [labelDir, 'label']] as const) {
    for (const { name, target } of dir ? brokenLinks(dir) : []) {
      const s = stripEnding(name, ending);
      if (!s) continue;
      const id = kind === 'image' ? (parseChannelStem(s.stem)?.id ?? s.stem) : s.stem.normalize('NFC');
      problems.push({ caseId: id, file: join(dir!, name), message: brokenLinkMessage(kind, target) });
    }
  }
  const cases: DatasetCase[] = [];
  for (const [id, list] of [...byId].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    list.sort((a, b) => a.ch - b.ch);
    const c: DatasetCase = { id, images: list.map((l) => l.path), channelIndices: list.map((l) => l.ch) };
    const label = labelDir ? findLabel(labelDir, id, ending) : undefined;
    if (label) c.label = label;
    if (label && stripEnding(basename(label), ending)?.alt) notes.push(labelEndingNote(label, id, ending));
    cases.push(c);
  }
  return { cases, notes, problems };
}

/**
 * Note for macOS AppleDouble files (`._<name>`: the resource fork and Finder metadata macOS writes beside each file it
 * copies to a disk without those, FAT/exFAT/SMB; a few hundred bytes, not images): ignored. Named apart from other
 * ignored files, whose ending is the reason (a `._x_0000.nii.gz` does end in `.nii.gz`).
 */
export function appleDoubleNote(dir: string, names: string[]): string {
  const shown = names.slice(0, 5).join(', ') + (names.length > 5 ? `, ... (${names.length - 5} more)` : '');
  return `${dir}: ignored ${names.length} macOS metadata file(s) (AppleDouble '._' files that macOS writes beside copied files; not images): ${shown}; delete them with dot_clean or rm ._*`;
}

/**
 * Note for a label read by content under the gzip twin of file_ending (`.nii` for `.nii.gz`, bad input B36): nnU-Net
 * looks only for `<id><file_ending>` (`get_filenames_of_train_images_and_targets`), so its
 * `verify_dataset_integrity` reports this label missing.
 */
function labelEndingNote(label: string, id: string, ending: string): string {
  const fix = ending.endsWith('.gz') ? `gzip it (gzip -k ${basename(label)})` : `save it uncompressed as ${id}${ending}`;
  return `${label}: label ending '${endingOf(basename(label))}' is not the dataset's file_ending '${ending}': read here by content, but nnU-Net looks for ${id}${ending} and would not find this label; ${fix} or convert it to ${ending}`;
}

function findLabel(labelDir: string, id: string, ending: string): string | undefined {
  for (const name of listFiles(labelDir)) {
    const s = stripEnding(name, ending);
    if (s && s.stem.normalize('NFC') === id) return join(labelDir, name);
  }
  return undefined;
}

function resolveListed(root: string, p: string): string {
  return resolve(root, p);
}

/**
 * A listed MSD path; when it is missing but its gz/non-gz twin exists (`.nii` for `.nii.gz`), the twin, with a note
 * as the v2 scan gives (read by content).
 */
function resolveMsdPath(root: string, p: string, ending: string, notes: string[]): string {
  const path = resolveListed(root, p);
  if (existsSync(path)) return path;
  const s = stripEnding(basename(path), ending);
  if (!s || s.alt) return path;
  for (const alt of ['.nii', '.nii.gz']) {
    const twin = join(dirname(path), s.stem + alt);
    if (alt !== ending && stripEnding(basename(twin), ending)?.alt && existsSync(twin)) {
      notes.push(`${twin}: ending '${endingOf(twin)}' accepted for file_ending '${ending}' listed in dataset.json as ${p} (read by content)`);
      return twin;
    }
  }
  return path;
}

/** Files of imagesTr/labelsTr that the MSD `training` list does not name (stray copies, .DS_Store, ...): notes. */
function msdStrayNotes(root: string, cases: DatasetCase[]): string[] {
  const used = new Set(cases.flatMap((c) => [...c.images, ...(c.label ? [c.label] : [])]));
  const notes: string[] = [];
  for (const sub of ['imagesTr', 'labelsTr']) {
    const dir = join(root, sub);
    const stray = listFiles(dir).filter((n) => !used.has(join(dir, n)));
    if (stray.length) notes.push(`${dir}: ignored ${stray.length} file(s) not listed in dataset.json 'training': ${stray.join(', ')}`);
  }
  return notes;
}

/**
 * nnU-Net v1 raw layout: a listed image `imagesTr/x<ending>` that is absent while `imagesTr/x_0000<ending>` (and
 * maybe `_0001`, ...) exist. nnU-Net v1's dataset.json names each case without the channel suffix; the files carry
 * it. Returns the channel files in channel order (consecutive from `_0000`), or null when this is not that layout.
 */
function v1ChannelFiles(path: string, ending: string): string[] | null {
  if (existsSync(path)) return null;
  const s = stripEnding(basename(path), ending);
  if (!s) return null;
  const files: string[] = [];
  for (let ch = 0; ; ch++) {
    const f = join(dirname(path), `${s.stem}_${String(ch).padStart(4, '0')}${ending}`);
    if (!existsSync(f)) break;
    files.push(f);
  }
  return files.length ? files : null;
}

/**
 * MSD v1: cases from the `training` list (paths relative to the task folder). With `v1` (nnU-Net v1 raw layout, see
 * `v1ChannelFiles`), a listed image absent on disk whose `_0000` channel files exist is read from those; `v1Listed`
 * collects the listed paths so resolved (the caller refuses them unless converting).
 */
function msdCases(root: string, raw: Record<string, unknown>, ending: string, v1Listed: string[]): Scan {
  const problems: DatasetProblem[] = [];
  const cases: DatasetCase[] = [];
  const notes: string[] = [];
  for (const [i, e] of (raw.training as unknown[]).entries()) {
    const entry = e as { image?: string | string[]; label?: string };
    if (!entry || !entry.image) {
      problems.push({ caseId: null, file: join(root, 'dataset.json'), message: `training[${i}] has no 'image'` });
      continue;
    }
    const listed = Array.isArray(entry.image) ? entry.image : [entry.image];
    const v1 = listed.length === 1 ? v1ChannelFiles(resolveListed(root, listed[0]!), ending) : null;
    if (v1) v1Listed.push(listed[0]!);
    const images = v1 ?? listed.map((p) => resolveMsdPath(root, p, ending, notes));
    const id = entry.label ? idOf(entry.label, ending) : idOf(resolveListed(root, listed[0]!), ending);
    const c: DatasetCase = { id, images };
    if (v1) c.channelIndices = v1.map((_, k) => k);
    if (entry.label) c.label = resolveMsdPath(root, entry.label, ending, notes);
    cases.push(c);
  }
  cases.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  notes.push(...msdStrayNotes(root, cases));
  return { cases, notes, problems };
}

/** `Task500_HippoV1` -> `Dataset500_HippoV1` (the v2 name convert-msd writes), else `DatasetXXX_<name>`. */
function v2NameFor(root: string): string {
  const name = basename(root);
  const m = /^Task0*(\d{1,3})_(.+)$/.exec(name);
  return m ? `Dataset${m[1]!.padStart(3, '0')}_${m[2]}` : `DatasetXXX_${name}`;
}

/**
 * The error for an nnU-Net v1 raw dataset (bad input: v1 layout given where v2 is read): one message naming
 * dataset.json, an example of a listed name and its `_0000` file, and the conversion (`convert-msd`, as nnU-Net v2's
 * `nnUNetv2_convert_old_nnUNet_dataset`).
 */
function v1LayoutError(root: string, jsonFile: string, v1Listed: string[], ending: string): DataError {
  const first = v1Listed[0]!;
  const stem = stripEnding(basename(first), ending)!.stem;
  return new DataError(
    `this is an nnU-Net v1 raw dataset: 'training' lists ${v1Listed.length} image(s) without the channel suffix (${first}) while the files on disk have it (${stem}_0000${ending}); nnU-Net v2 and nnunet-ts read the v2 layout`,
    { file: jsonFile, hint: `convert it (the input is not modified): nnunet-ts convert-msd ${root} -o <nnUNet_raw>/${v2NameFor(root)} (nnU-Net v2's nnUNetv2_convert_old_nnUNet_dataset does the same), then validate the converted folder` },
  );
}

/** MSD test images: the `test` list (nnU-Net v1 names resolved to their `_XXXX` files), else every image in imagesTs; labelsTs paired by file name. */
function msdTestCases(root: string, raw: Record<string, unknown>, ending: string): DatasetCase[] {
  const listed = Array.isArray(raw.test)
    ? (raw.test as unknown[]).map((t) => (typeof t === 'string' ? t : (t as { image: string }).image))
    : listFiles(join(root, 'imagesTs'))
        .filter((n) => !n.startsWith('.') && stripEnding(n, ending))
        .map((n) => `imagesTs/${n}`);
  return listed
    .map((p) => {
      const image = resolveListed(root, p);
      const v1 = v1ChannelFiles(image, ending);
      const c: DatasetCase = { id: idOf(image, ending), images: v1 ?? [image] };
      if (v1) c.channelIndices = v1.map((_, k) => k);
      const lab = join(root, 'labelsTs', basename(image));
      if (existsSync(lab)) c.label = lab;
      return c;
    })
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/**
 * Load a dataset folder in either layout, returning it in v2 form (INTERFACES.md `Dataset`).
 *
 * - MSD v1 (`TaskXX_Name/`): `dataset.json` with a `training` list of single image paths (3D or 4D files),
 *   `modality`, value->name `labels`; test images from the `test` list or `imagesTs/`, labels from `labelsTs/`.
 * - nnU-Net v2 raw (`DatasetXXX_Name/`): `imagesTr/CASE_XXXX<file_ending>`, `labelsTr/CASE<file_ending>`,
 *   optional `imagesTs/`, `labelsTs/`.
 * - nnU-Net v1 raw (`TaskXXX_Name/` with `imagesTr/CASE_0000<ending>` but `training` naming `CASE<ending>`): refused
 *   with the conversion command, unless `acceptV1` (what `convertMsd` passes: the channel files become the case's images).
 * The input is only read. Naming problems are collected in `problems` (reported by `validateDataset`).
 * @throws DataError when the folder or dataset.json is missing, a file is given instead of the folder, dataset.json is
 *   invalid (line/column for syntax), or the folder is in the nnU-Net v1 raw layout (without `acceptV1`).
 */
export async function loadDataset(folder: string, opts: { acceptV1?: boolean } = {}): Promise<Dataset> {
  const root = resolve(folder);
  if (existsSync(root) && !statSync(root).isDirectory()) {
    throw new DataError(`${root} is a file, not a dataset folder`, {
      hint: `pass the folder that holds it: ${dirname(root)} (a TaskXX_Name or DatasetXXX_Name folder)`,
    });
  }
  if (!existsSync(root)) {
    throw new DataError('dataset folder not found', { file: root, hint: 'pass a TaskXX_Name (MSD) or DatasetXXX_Name (v2) folder' });
  }
  const jsonFile = join(root, 'dataset.json');
  if (!existsSync(jsonFile)) {
    throw new DataError('dataset.json not found', {
      file: jsonFile,
      hint: 'a dataset folder holds dataset.json, imagesTr/ and labelsTr/ (nnU-Net raw layout)',
    });
  }
  const raw = parseJsonFile(readFileSync(jsonFile, 'utf8'), jsonFile) as Record<string, unknown>;
  const training = Array.isArray(raw?.training) ? (raw.training as { image?: unknown }[]) : null;
  const msd = !!training && training.length > 0 && training.every((t) => typeof t?.image === 'string');
  let inferred: string | undefined;
  if (training?.length) {
    const first = training[0]!.image;
    const p = Array.isArray(first) ? first[0] : first;
    if (typeof p === 'string') inferred = endingOf(p);
  }
  if (!inferred) {
    const f = listFiles(join(root, 'imagesTr')).find((n) => !n.startsWith('.'));
    if (f) inferred = endingOf(f);
  }
  const parsed = normalizeDatasetJson(raw, jsonFile, inferred);
  const ending = parsed.json.file_ending;
  const notes = [...parsed.notes.map((n) => `${jsonFile}: ${n}`)];
  let scan: Scan;
  let testCases: DatasetCase[];
  if (msd) {
    const v1Listed: string[] = [];
    scan = msdCases(root, raw, ending, v1Listed);
    if (v1Listed.length && !opts.acceptV1) throw v1LayoutError(root, jsonFile, v1Listed, ending);
    testCases = msdTestCases(root, raw, ending);
  } else {
    if (!existsSync(join(root, 'imagesTr'))) {
      throw new DataError('imagesTr/ not found', { file: join(root, 'imagesTr'), hint: 'put training images in imagesTr/' });
    }
    scan = scanV2Folder(join(root, 'imagesTr'), join(root, 'labelsTr'), ending);
    const ts = scanV2Folder(join(root, 'imagesTs'), existsSync(join(root, 'labelsTs')) ? join(root, 'labelsTs') : null, ending);
    testCases = ts.cases;
    notes.push(...ts.notes);
  }
  return {
    root,
    json: parsed.json,
    cases: scan.cases,
    testCases,
    layout: msd ? 'msd' : 'v2',
    notes: [...notes, ...scan.notes],
    problems: scan.problems,
  };
}
