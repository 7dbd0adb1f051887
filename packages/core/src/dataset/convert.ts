import { copyFileSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import type { ImageWriter } from '../contracts/image-io.js';
import type { Registry } from '../registry/registry.js';
import { DataError } from '../util/errors.js';
import { loadDataset } from './load.js';
import { readImage } from './read.js';
import type { Dataset, DatasetCase } from './types.js';

/**
 * v2 dataset folder name for an MSD task folder: `Task04_Hippocampus` -> `Dataset004_Hippocampus`
 * (nnU-Net's `nnUNetv2_convert_MSD_dataset` naming). Other names are kept.
 */
export function v2DatasetName(taskFolder: string): string {
  const name = basename(resolve(taskFolder));
  const m = /^Task(\d+)_(.+)$/.exec(name);
  return m ? `Dataset${m[1]!.padStart(3, '0')}_${m[2]}` : name;
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
  const ds = await loadDataset(taskFolder);
  checkListedFilesExist(ds);
  const tmp = `${out}.partial-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  try {
    await writeV2(ds, tmp, registry);
    mkdirSync(dirname(out), { recursive: true });
    moveIntoPlace(tmp, out);
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
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
