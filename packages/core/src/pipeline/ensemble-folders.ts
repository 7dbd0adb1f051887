import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DatasetJson } from '../contracts/plans.js';
import { readDatasetJson } from '../dataset/dataset-json.js';
import { labelManager, type LabelManager } from '../dataset/label-manager.js';
import type { Registry } from '../registry/registry.js';
import { readNpz, writeNpz } from '../probabilities/npz.js';
import { readNnunetPropertiesPkl } from '../probabilities/properties-read.js';
import { DataError } from '../util/errors.js';
import { writeSegmentation } from './predict-stage.js';
import type { Reporter } from './progress.js';

/** Options of {@link ensembleFolders}. */
export interface EnsembleFoldersOptions {
  /** dataset.json to use (default: the first input folder's, which nnU-Net's predictor writes there). */
  datasetJson?: string;
  /** Also write the averaged `<id>.npz` and a copy of the first folder's `<id>.pkl` (nnU-Net `--save_npz`). */
  saveProbabilities?: boolean;
}

/** Label map from averaged probabilities `[K, n]`: regions by `regions_class_order` (> 0.5), else argmax -> label. */
function toSegmentation(p: Float32Array, K: number, lm: LabelManager): Int16Array {
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

/** Case ids with a `.npz` in every folder; throws naming the folder that lacks cases of the first. */
function commonCases(folders: string[]): string[] {
  const ids = (d: string) => readdirSync(d).filter((f) => f.endsWith('.npz')).map((f) => f.slice(0, -4)).sort();
  const first = ids(folders[0]!);
  if (!first.length) throw new DataError('no <case>.npz probabilities in the first input folder', { file: folders[0], hint: 'predict with --save-probabilities (nnU-Net: --save_probabilities) first' });
  for (const d of folders.slice(1)) {
    const have = new Set(ids(d));
    const missing = first.filter((id) => !have.has(id));
    if (missing.length) throw new DataError(`${missing.length} case(s) of ${folders[0]} have no .npz here: ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', ...' : ''}`, { file: d });
  }
  return first;
}

/**
 * nnU-Net's `nnUNetv2_ensemble` (`ensemble_folders`): for every case with `<id>.npz` in all input folders (ours
 * or nnU-Net's), average the `probabilities` (float32), turn them into a segmentation with the dataset's label
 * manager (argmax, or regions with `regions_class_order`), and write `<id><file_ending>` with the geometry of the
 * first folder's `<id>.pkl`. Returns the case ids written.
 * @throws DataError naming the folder or file that is missing, inconsistent (shapes) or unreadable
 */
export async function ensembleFolders(folders: string[], outDir: string, registry: Registry, rep: Reporter, opts: EnsembleFoldersOptions = {}): Promise<string[]> {
  if (folders.length < 1) throw new DataError('ensemble needs at least one input folder', { hint: 'nnunet-ts ensemble -i <folder> <folder> ... -o <out>' });
  for (const d of folders) if (!existsSync(d)) throw new DataError('input folder not found', { file: d });
  const dsFile = opts.datasetJson ?? join(folders[0]!, 'dataset.json');
  if (!existsSync(dsFile)) throw new DataError('dataset.json not found', { file: dsFile, hint: "nnU-Net's predictor writes it into its output folder; else pass --dataset-json" });
  const ds: DatasetJson = readDatasetJson(dsFile).json;
  const lm = labelManager(ds, dsFile);
  const ids = commonCases(folders);
  mkdirSync(outDir, { recursive: true });
  rep.start('ensemble', ids.length);
  for (const [i, id] of ids.entries()) {
    const first = readNpz(join(folders[0]!, `${id}.npz`), 'probabilities');
    const acc = Float32Array.from(first.data as Float32Array);
    for (const d of folders.slice(1)) {
      const p = readNpz(join(d, `${id}.npz`), 'probabilities');
      if (p.shape.join() !== first.shape.join()) throw new DataError(`probabilities of ${id} have shape [${p.shape}] here, [${first.shape}] in ${folders[0]}`, { file: join(d, `${id}.npz`) });
      for (let k = 0; k < acc.length; k++) acc[k]! += p.data[k] as number;
    }
    for (let k = 0; k < acc.length; k++) acc[k]! /= folders.length;
    const pkl = join(folders[0]!, `${id}.pkl`);
    const { geometry } = readNnunetPropertiesPkl(readFileSync(pkl), pkl);
    const [K, z, y, x] = first.shape as [number, number, number, number];
    const seg = toSegmentation(acc, K, lm);
    await writeSegmentation(registry, join(outDir, `${id}${ds.file_ending}`), seg, { ...geometry, data: seg, shape: [1, z, y, x] }, ds.file_ending);
    if (opts.saveProbabilities) {
      writeNpz(join(outDir, `${id}.npz`), { probabilities: { descr: '<f4', data: acc, shape: first.shape } });
      copyFileSync(pkl, join(outDir, `${id}.pkl`));
    }
    rep.update(i + 1, id);
  }
  rep.stop();
  return ids;
}
