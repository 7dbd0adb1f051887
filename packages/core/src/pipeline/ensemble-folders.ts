import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { DatasetJson } from '../contracts/plans.js';
import { readDatasetJson } from '../dataset/dataset-json.js';
import { labelManager, type LabelManager } from '../dataset/label-manager.js';
import { writeFileAtomicSync } from '../evaluation/summary.js';
import type { Registry } from '../registry/registry.js';
import { readNpz, writeNpz } from '../probabilities/npz.js';
import type { NpyArray } from '../interop/npy.js';
import { readNnunetPropertiesPkl } from '../probabilities/properties-read.js';
import { DataError } from '../util/errors.js';
import { writeJson } from './json-io.js';
import { writeSegmentation } from './predict-stage.js';
import type { Reporter } from './progress.js';

/** Options of {@link ensembleFolders}. */
export interface EnsembleFoldersOptions {
  /** dataset.json to use (default: the first input folder's, which nnU-Net's predictor and ours write there). */
  datasetJson?: string;
  /** Also write the averaged `<id>.npz` and the first folder's `<id>.pkl` (nnU-Net's `--save_npz`). */
  saveProbabilities?: boolean;
}

/**
 * Label map from averaged probabilities `[K, n]` (nnU-Net `LabelManager.convert_probabilities_to_segmentation`):
 * with regions, each region's label where its probability is > 0.5, later regions of `regions_class_order`
 * overwriting earlier ones; else the argmax channel's label (first channel on ties, as numpy's argmax).
 */
export function probabilitiesToSegmentation(p: Float32Array, K: number, lm: LabelManager): Int16Array {
  const n = p.length / K;
  const seg = new Int16Array(n);
  if (lm.regionsClassOrder) {
    lm.regionsClassOrder.forEach((lab, r) => {
      for (let i = 0; i < n; i++) if (p[r * n + i]! > 0.5) seg[i] = lab;
    });
    return seg;
  }
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let k = 1; k < K; k++) if (p[k * n + i]! > p[best * n + i]!) best = k;
    seg[i] = lm.allLabels[best]!;
  }
  return seg;
}

/**
 * Case ids with a `.npz` in the input folders (nnU-Net: the union over the folders, and every folder must hold
 * all of them). Beyond nnU-Net (which looks at the `.npz` files only), a folder holding segmentations
 * `<id><ending>` without their `<id>.npz`, or a first folder's `.npz` without its `<id>.pkl`, is refused up front:
 * such a folder is an incomplete `--save-probabilities` prediction (a full disk, a kill), and ensembling only the
 * cases that have probabilities would silently leave the others out.
 * @throws DataError naming the folder and the missing cases
 */
function commonCases(folders: string[], ending: string): string[] {
  const list = (n: number, xs: string[]): string => `${n} case(s): ${xs.slice(0, 5).join(', ')}${xs.length > 5 ? ', ...' : ''}`;
  for (const d of folders) {
    const names = readdirSync(d);
    const npz = new Set(names.filter((f) => f.endsWith('.npz')).map((f) => f.slice(0, -4)));
    const bare = names.filter((f) => f.endsWith(ending) && !f.startsWith('.')).map((f) => f.slice(0, -ending.length)).filter((id) => !npz.has(id)).sort();
    if (bare.length) {
      throw new DataError(`the folder holds segmentations without their .npz probabilities, ${list(bare.length, bare)}`, {
        file: d, hint: `predict these cases again with --save-probabilities (the same predict command with --continue writes only what is missing), then ensemble`,
      });
    }
  }
  const ids = (d: string) => readdirSync(d).filter((f) => f.endsWith('.npz')).map((f) => f.slice(0, -4));
  const per = folders.map((d) => new Set(ids(d)));
  const all = [...new Set(per.flatMap((s) => [...s]))].sort();
  if (!all.length) throw new DataError('no <case>.npz probabilities in the input folders', { file: folders[0], hint: 'predict with --save-probabilities (nnU-Net: --save_probabilities) first' });
  folders.forEach((d, i) => {
    const missing = all.filter((id) => !per[i]!.has(id));
    if (missing.length) {
      throw new DataError(`not all folders hold the same cases: ${missing.length} case(s) have no .npz here: ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', ...' : ''}`, {
        file: d, hint: 'ensemble only folders predicted from the same input images (nnU-Net refuses the same way)',
      });
    }
  });
  const noPkl = all.filter((id) => !existsSync(join(folders[0]!, `${id}.pkl`)));
  if (noPkl.length) {
    throw new DataError(`the folder holds .npz probabilities without their .pkl properties, ${list(noPkl.length, noPkl)}`, {
      file: folders[0], hint: 'nnU-Net and nnunet-ts write <case>.pkl with --save-probabilities; predict these cases again (with --continue) or copy the .pkl along with the .npz',
    });
  }
  return all;
}

/** The dataset.json of an ensemble: `file` (normalised) or an error saying where nnU-Net expects it. */
function ensembleDataset(file: string): DatasetJson {
  if (!existsSync(file)) throw new DataError('dataset.json not found', { file, hint: "nnU-Net's predictor (and ours with --save-probabilities) writes it into its output folder; else pass --dataset-json <model folder>/dataset.json" });
  return readDatasetJson(file, '.nii.gz').json;
}

/** Sum of the `probabilities` of `id` over the folders, divided by their count (float32, as nnU-Net's `average_probabilities`). */
function averageProbabilities(folders: string[], id: string): NpyArray & { data: Float32Array } {
  const first = readNpz(join(folders[0]!, `${id}.npz`), 'probabilities');
  const acc = Float32Array.from(first.data as ArrayLike<number>);
  for (const d of folders.slice(1)) {
    const file = join(d, `${id}.npz`);
    const p = readNpz(file, 'probabilities');
    if (p.shape.join() !== first.shape.join()) throw new DataError(`probabilities of ${id} have shape [${p.shape}] here but [${first.shape}] in ${folders[0]}`, { file, hint: 'ensemble predictions of the same images and label set' });
    for (let k = 0; k < acc.length; k++) acc[k]! += p.data[k] as number;
  }
  for (let k = 0; k < acc.length; k++) acc[k]! /= folders.length;
  return { descr: '<f4', shape: first.shape, data: acc };
}

/**
 * nnU-Net's `nnUNetv2_ensemble` (nnunetv2/ensembling/ensemble.py, `ensemble_folders` / `merge_files`): for every
 * case with `<id>.npz` in the input folders (ours or nnU-Net's; all must hold the same cases), average the
 * `probabilities` (float32 `[K, z, y, x]`), turn them into a label map with the dataset's label manager (argmax,
 * or regions > 0.5 by `regions_class_order`), and write `<id><file_ending>` with the geometry stored in the first
 * folder's `<id>.pkl` (`sitk_stuff`, else `nibabel_stuff`; 2D when `sitk_stuff` is a 2D image's, as nnU-Net writes it). dataset.json is written to `outDir` as nnU-Net does.
 * Returns the case ids written.
 * @throws DataError naming the folder or file that is missing, inconsistent (cases, shapes, channel count) or unreadable
 */
export async function ensembleFolders(folders: string[], outDir: string, registry: Registry, rep: Reporter, opts: EnsembleFoldersOptions = {}): Promise<string[]> {
  if (folders.length < 1) throw new DataError('ensemble needs at least one input folder', { hint: 'nnunet-ts ensemble -i <folder> <folder> ... -o <out>' });
  for (const d of folders) if (!existsSync(d) || !statSync(d).isDirectory()) throw new DataError('input folder not found', { file: d });
  const dsFile = opts.datasetJson ?? join(folders[0]!, 'dataset.json');
  const ds = ensembleDataset(dsFile);
  const lm = labelManager(ds, dsFile);
  const ids = commonCases(folders, ds.file_ending);
  mkdirSync(outDir, { recursive: true });
  writeJson(join(outDir, 'dataset.json'), ds);
  rep.start('ensemble', ids.length);
  for (const [i, id] of ids.entries()) {
    const avg = averageProbabilities(folders, id);
    const [K, z, y, x] = avg.shape as [number, number, number, number];
    if (K !== lm.numSegmentationHeads) throw new DataError(`probabilities of ${id} have ${K} channels, but ${dsFile} defines ${lm.numSegmentationHeads} output(s)`, { file: join(folders[0]!, `${id}.npz`), hint: 'pass the dataset.json of the model that made these predictions (--dataset-json)' });
    const pkl = join(folders[0]!, `${id}.pkl`);
    if (!existsSync(pkl)) throw new DataError(`no properties file beside ${id}.npz`, { file: pkl, hint: 'nnU-Net and nnunet-ts write <case>.pkl with --save-probabilities; copy it along with the .npz' });
    const pklBytes = readFileSync(pkl);
    const { geometry, dimensions } = readNnunetPropertiesPkl(pklBytes, pkl);
    const seg = probabilitiesToSegmentation(avg.data, K, lm);
    // a 2D sitk_stuff (a 2D input file): written 2D, as nnU-Net's write_seg does (the writers' 2D header marker)
    const header = dimensions === 2 ? { itkDimension: 2 } : undefined;
    await writeSegmentation(registry, join(outDir, `${id}${ds.file_ending}`), seg, { ...geometry, data: seg, shape: [1, z, y, x], header }, ds.file_ending);
    if (opts.saveProbabilities) {
      writeNpz(join(outDir, `${id}.npz`), { probabilities: avg });
      writeFileAtomicSync(join(outDir, `${id}.pkl`), pklBytes);
    }
    rep.update(i + 1, id);
  }
  rep.stop();
  return ids;
}
