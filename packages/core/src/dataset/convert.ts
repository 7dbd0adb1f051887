import { copyFileSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import type { ImageWriter } from '../contracts/image-io.js';
import type { Registry } from '../registry/registry.js';
import { DataError, UsageError } from '../util/errors.js';
import { fileSystemError } from '../util/atomic.js';
import { loadDataset } from './load.js';
import { readImage } from './read.js';
import type { Dataset, DatasetCase } from './types.js';

/** Highest nnU-Net v2 dataset id: names are `DatasetXXX_Name` with exactly three digits (nnU-Net reads `name[7:10]`). */
export const MAX_DATASET_ID = 999;

/** `DatasetXXX_Name` exactly as nnU-Net v2 names a dataset folder (three digits, an underscore, a name). */
const V2_DATASET_NAME = /^Dataset(\d{3})_(.+)$/;

/**
 * The dataset id and name a folder name carries: MSD's `TaskXX_Name` (`Task04_Hippocampus` -> 4, `Hippocampus`) or
 * nnU-Net v2's `DatasetXXX_Name` (`Dataset004_Hippocampus` -> 4, `Hippocampus`); undefined for any other name.
 */
export function datasetIdOfFolderName(folderName: string): { id: number; name: string } | undefined {
  const m = /^Task(\d+)_(.+)$/.exec(folderName) ?? V2_DATASET_NAME.exec(folderName);
  return m ? { id: Number(m[1]), name: m[2]! } : undefined;
}

/**
 * v2 dataset folder name for converting the MSD task folder `taskFolder`, as nnU-Net's `nnUNetv2_convert_MSD_dataset`
 * names it: `Task04_Hippocampus` -> `Dataset004_Hippocampus`; `id` replaces the folder's id (nnU-Net's
 * `-overwrite_id`, our `convert-msd --id`), and names a folder without one (`Hippocampus`, id 104 ->
 * `Dataset104_Hippocampus`). nnU-Net itself fails on a folder not named `TaskXX_Name` (it splits the name at `_`),
 * even with `-overwrite_id`.
 * @throws UsageError when `id` is not a whole number from 0 to 999 (three digits)
 * @throws DataError when the folder is not named `TaskXX_Name` (or `DatasetXXX_Name`) and no `id` is given, or its
 *   id has more than three digits; the hint names `--id` and `-o <nnUNet_raw>/DatasetXXX_Name`
 */
export function v2DatasetName(taskFolder: string, id?: number): string {
  const folder = resolve(taskFolder);
  const name = basename(folder);
  const parsed = datasetIdOfFolderName(name);
  if (id !== undefined) checkDatasetId(id, '--id');
  const target = id ?? parsed?.id;
  const fix = (n: string) => `pass --id <n> (nnU-Net's -overwrite_id: a dataset id up to ${MAX_DATASET_ID} that no other dataset uses) to write Dataset<n>_${n}, or -o <nnUNet_raw>/DatasetXXX_Name to name the dataset folder yourself`;
  if (target === undefined) {
    throw new DataError(`the task folder ${folder} is not named TaskXX_Name (like Task04_Hippocampus), so it gives no dataset id; nnU-Net v2 finds datasets by the id in DatasetXXX_Name`, { hint: fix(name) });
  }
  if (target > MAX_DATASET_ID) {
    throw new DataError(`the task folder ${folder} names dataset id ${target}; nnU-Net v2 dataset ids have three digits (0 to ${MAX_DATASET_ID})`, { hint: fix(parsed!.name) });
  }
  return `Dataset${String(target).padStart(3, '0')}_${parsed?.name ?? name}`;
}

/** @throws UsageError when `id` (given by `flag`) is not a whole number from 0 to 999 */
export function checkDatasetId(id: number, flag: string): void {
  if (!Number.isInteger(id) || id < 0 || id > MAX_DATASET_ID) {
    throw new UsageError(`${flag} must be a dataset id from 0 to ${MAX_DATASET_ID}, got '${id}'`, { hint: 'nnU-Net v2 names datasets DatasetXXX_Name, the id in three digits' });
  }
}

/**
 * The dataset folder `convert-msd <task> -o <out> [--id <n>]` writes: `out` itself when its name is a v2 dataset
 * name (`DatasetXXX_Name`, exactly three digits, as nnU-Net needs), else `<out>/<v2DatasetName(task, id)>` (`out` is
 * an nnUNet_raw folder). Refuses an id another dataset folder beside the target already uses: nnU-Net finds a
 * dataset by the folders whose names start with `DatasetXXX` and fails when there are two (its
 * `nnUNetv2_convert_MSD_dataset` refuses a taken id likewise, asking for `-overwrite_id`).
 * @throws UsageError from `checkMsdOutputName`
 * @throws DataError from `v2DatasetName`, or when the id is taken in the nnUNet_raw folder
 */
export function msdConversionTarget(taskFolder: string, outFolder: string, id?: number): string {
  const out = resolve(outFolder);
  const target = checkMsdOutputName(taskFolder, out, id) ? out : join(out, v2DatasetName(taskFolder, id));
  checkDatasetIdFree(target);
  return target;
}

/**
 * The command-line checks of `convert-msd -o <out> [--id <n>]`, which need no file (the CLI runs them before it locks
 * `out`, so nothing is created for a refused command). Returns true when `out` names the dataset folder itself
 * (`DatasetXXX_Name`), false when it is an nnUNet_raw folder.
 * @throws UsageError when `id` is not 0..999; when `out`'s name starts like a dataset folder (`Dataset` and a digit,
 *   any letter case) but is not `DatasetXXX_Name` exactly (the hint names the corrected name); when it carries
 *   another id than `id`
 */
export function checkMsdOutputName(taskFolder: string, outFolder: string, id?: number): boolean {
  const out = resolve(outFolder);
  const outName = basename(out);
  if (id !== undefined) checkDatasetId(id, '--id');
  const own = V2_DATASET_NAME.exec(outName);
  if (own) {
    if (id !== undefined && id !== Number(own[1])) {
      throw new UsageError(`-o ${out} names dataset id ${Number(own[1])}, --id ${id} another`, { hint: `give one of them: -o <nnUNet_raw> --id ${id}, or -o ${out} alone` });
    }
    return true;
  }
  if (/^dataset\d/i.test(outName)) {
    throw new UsageError(`-o ${out}: '${outName}' is not an nnU-Net v2 dataset folder name; nnU-Net needs DatasetXXX_Name (the id in exactly three digits, then _ and a name)`, {
      hint: `name it ${suggestedName(outName, taskFolder, id)}, or pass the nnUNet_raw folder that should hold the dataset (-o ${dirname(out)})`,
    });
  }
  return false;
}

/** A v2 name for a misnamed `-o` folder: `dataset4_Hippocampus` -> `Dataset004_Hippocampus`, else from the task. */
function suggestedName(outName: string, taskFolder: string, id: number | undefined): string {
  const m = /^dataset0*(\d+)_(.+)$/i.exec(outName);
  if (m && Number(m[1]) <= MAX_DATASET_ID) return `Dataset${m[1]!.padStart(3, '0')}_${m[2]}`;
  try {
    return v2DatasetName(taskFolder, id);
  } catch {
    return 'DatasetXXX_Name';
  }
}

/**
 * @throws DataError when another folder beside `datasetFolder` (`<raw>/DatasetXXX_Name`) starts with the same
 *   `DatasetXXX` (nnU-Net's `find_candidate_datasets` rule). Our own temporary `<name>.partial-<pid>` folders of an
 *   interrupted conversion do not count.
 */
function checkDatasetIdFree(datasetFolder: string): void {
  const raw = dirname(datasetFolder);
  const name = basename(datasetFolder);
  if (!existsSync(raw)) return;
  const prefix = name.slice(0, 'DatasetXXX'.length);
  const others = readdirSync(raw, { withFileTypes: true })
    .filter((e) => e.isDirectory() && e.name.startsWith(prefix) && e.name !== name && !e.name.startsWith(`${name}.partial-`))
    .map((e) => e.name)
    .sort();
  if (!others.length) return;
  throw new DataError(`dataset id ${Number(prefix.slice(7))} is already taken in ${raw} by ${others.join(', ')}: nnU-Net finds a dataset by its id and would not know which one to use`, {
    hint: `pass --id <n> with an id no folder in ${raw} uses (nnU-Net's -overwrite_id), or move ${others.join(', ')} away`,
  });
}

/** Writer plugin for a file ending. @throws DataError listing registered writers. */
export function pickWriter(registry: Registry, ending: string): ImageWriter {
  const w = registry.all('writer').find((x) => x.extensions.some((e) => e.toLowerCase() === ending.toLowerCase()));
  if (!w) {
    const list = registry.all('writer').map((x) => `${x.name} (${x.extensions.join(' ')})`).join(', ') || '(none)';
    throw new DataError(`no image writer for '${ending}'; registered writers: ${list}`, { hint: 'register a writer with --plugin <module>' });
  }
  return w;
}

async function convertImages(
  c: DatasetCase,
  dir: string,
  nCh: number,
  ending: string,
  registry: Registry | undefined,
): Promise<void> {
  if (c.images.length > 1 || nCh === 1) {
    c.images.forEach((p, i) => copyFileSync(p, join(dir, `${c.id}_${String(i).padStart(4, '0')}${ending}`)));
    return;
  }
  if (!registry) throw new DataError('4D images need a registry with a reader and writer to split', { file: c.images[0] });
  const img = await readImage(registry, c.images[0]!);
  const n = img.shape[1] * img.shape[2] * img.shape[3];
  const writer = pickWriter(registry, ending);
  for (let ch = 0; ch < img.shape[0]; ch++) {
    const data = img.data.slice(ch * n, (ch + 1) * n);
    await writer.write(join(dir, `${c.id}_${String(ch).padStart(4, '0')}${ending}`), {
      ...img,
      data,
      shape: [1, img.shape[1], img.shape[2], img.shape[3]],
    }, { template: img.header });
  }
}

/**
 * Convert an MSD v1 task folder to the nnU-Net v2 raw layout in `outFolder` (the dataset folder itself, e.g.
 * `.../nnUNet_raw/Dataset004_Hippocampus`): images renamed `CASE_0000<ending>` (4D images split into
 * `_0000`, `_0001`, ... through the registry's reader and writer), labels copied, imagesTs/labelsTs likewise, and a
 * v2 dataset.json (`channel_names`, name->value `labels`, `file_ending`). 3D files are copied byte for byte.
 * An nnU-Net v1 raw task folder (`imagesTr/CASE_0000<ending>` listed as `CASE<ending>`) is converted too: its
 * channel files are copied under their names (as nnU-Net v2's `nnUNetv2_convert_old_nnUNet_dataset`).
 * The input is never modified; the output is built in a temporary folder and renamed into place. When `outFolder`
 * already holds a converted dataset.json it is kept (resume) and loaded.
 * The temporary folder is removed on any failure.
 * @throws DataError when the input is not a loadable dataset, a listed file is missing (all named in one message),
 *   `outFolder` lies inside the task folder, or a 4D split has no reader/writer.
 */
export async function convertMsd(taskFolder: string, outFolder: string, registry?: Registry): Promise<Dataset> {
  const out = resolve(outFolder);
  checkConvertOutputFolder(taskFolder, out);
  if (existsSync(join(out, 'dataset.json'))) return loadDataset(out);
  const ds = await loadDataset(taskFolder, { acceptV1: true });
  checkListedFilesExist(ds);
  const tmp = `${out}.partial-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  try {
    await writeV2(ds, tmp, registry);
    mkdirSync(dirname(out), { recursive: true });
    moveIntoPlace(tmp, out);
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    // a full disk (or a read-only output) during a copy names the file and the fix, not a stack trace
    throw fileSystemError(e);
  }
  return loadDataset(out);
}

/**
 * Rename the finished `tmp` folder to `out`. When `out` already exists holding only hidden files (the CLI's
 * `.nnunet-ts.lock`, a `.DS_Store`), the entries of `tmp` are renamed into it instead, dataset.json last (its presence
 * marks a finished conversion), and `tmp` removed.
 * @throws DataError when `out` exists with other content (not a converted dataset: the conversion would mix into it).
 */
function moveIntoPlace(tmp: string, out: string): void {
  if (!existsSync(out)) {
    renameSync(tmp, out);
    return;
  }
  const other = readdirSync(out).filter((n) => !n.startsWith('.'));
  if (other.length) {
    throw new DataError(`output folder ${out} already exists and holds ${other.slice(0, 5).join(', ')}${other.length > 5 ? ', ...' : ''}, but no dataset.json`, {
      hint: 'pass a new or empty output folder (or remove this one)',
    });
  }
  const names = readdirSync(tmp).sort((a, b) => Number(a === 'dataset.json') - Number(b === 'dataset.json'));
  for (const n of names) renameSync(join(tmp, n), join(out, n));
  rmSync(tmp, { recursive: true, force: true });
}

/**
 * Refuse a conversion output inside its input: `convert-msd` never modifies the task folder, so the output folder (and
 * anything the CLI writes there first, such as its lock file) must lie outside it.
 * @throws DataError when `out` is the task folder or lies inside it.
 */
export function checkConvertOutputFolder(taskFolder: string, out: string): void {
  const input = resolve(taskFolder);
  const rel = relative(input, resolve(out));
  if (rel === '' || (rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel))) {
    throw new DataError(`output folder ${out} is inside the input task folder ${input}; the input is never modified`, {
      hint: 'pass an output folder outside the task folder, e.g. -o <nnUNet_raw> next to it',
    });
  }
}

/** @throws DataError naming every image and label file that dataset.json lists but the disk lacks, all at once. */
function checkListedFilesExist(ds: Dataset): void {
  const missing = [...ds.cases, ...ds.testCases]
    .flatMap((c) => [...c.images, ...(c.label ? [c.label] : [])])
    .filter((p) => !existsSync(p));
  if (!missing.length) return;
  throw new DataError(`${missing.length} file(s) listed in ${join(ds.root, 'dataset.json')} are missing: ${missing.join(', ')}`, {
    hint: "restore the file(s), or remove their entries from dataset.json 'training' (and 'test'); nothing was written",
  });
}

/** Write the v2 layout of `ds` into `dir` (images, labels, imagesTs/labelsTs, dataset.json). */
async function writeV2(ds: Dataset, dir: string, registry: Registry | undefined): Promise<void> {
  const ending = ds.json.file_ending;
  const nCh = Object.keys(ds.json.channel_names).length;
  for (const d of ['imagesTr', 'labelsTr']) mkdirSync(join(dir, d), { recursive: true });
  for (const c of ds.cases) {
    await convertImages(c, join(dir, 'imagesTr'), nCh, ending, registry);
    if (c.label) copyFileSync(c.label, join(dir, 'labelsTr', `${c.id}${ending}`));
  }
  if (ds.testCases.length) mkdirSync(join(dir, 'imagesTs'));
  if (ds.testCases.some((c) => c.label)) mkdirSync(join(dir, 'labelsTs'));
  for (const c of ds.testCases) {
    await convertImages(c, join(dir, 'imagesTs'), nCh, ending, registry);
    if (c.label) copyFileSync(c.label, join(dir, 'labelsTs', `${c.id}${ending}`));
  }
  const json = { ...ds.json, numTraining: ds.cases.length, converted_from: ds.root };
  writeFileSync(join(dir, 'dataset.json'), JSON.stringify(json, null, 2) + '\n');
}
