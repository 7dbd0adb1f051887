import { copyFileSync, existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
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
 * @throws DataError when the input is not a loadable dataset or a 4D split has no reader/writer.
 */
export async function convertMsd(taskFolder: string, outFolder: string, registry?: Registry): Promise<Dataset> {
  const out = resolve(outFolder);
  if (existsSync(join(out, 'dataset.json'))) return loadDataset(out);
  const ds = await loadDataset(taskFolder);
  const ending = ds.json.file_ending;
  const nCh = Object.keys(ds.json.channel_names).length;
  const tmp = `${out}.partial-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  for (const d of ['imagesTr', 'labelsTr']) mkdirSync(join(tmp, d), { recursive: true });
  for (const c of ds.cases) {
    await convertImages(c, join(tmp, 'imagesTr'), nCh, ending, registry);
    if (c.label) copyFileSync(c.label, join(tmp, 'labelsTr', `${c.id}${ending}`));
  }
  if (ds.testCases.length) mkdirSync(join(tmp, 'imagesTs'));
  if (ds.testCases.some((c) => c.label)) mkdirSync(join(tmp, 'labelsTs'));
  for (const c of ds.testCases) {
    await convertImages(c, join(tmp, 'imagesTs'), nCh, ending, registry);
    if (c.label) copyFileSync(c.label, join(tmp, 'labelsTs', `${c.id}${ending}`));
  }
  const json = { ...ds.json, numTraining: ds.cases.length, converted_from: ds.root };
  writeFileSync(join(tmp, 'dataset.json'), JSON.stringify(json, null, 2) + '\n');
  mkdirSync(dirname(out), { recursive: true });
  renameSync(tmp, out);
  return loadDataset(out);
}
