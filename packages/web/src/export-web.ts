import { cp, mkdir, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  DataError,
  getConfiguration,
  loadTrainedModel,
  readModelFolder,
  saveParameters,
  type ComputeBackend,
  type Registry,
} from '@nnunet-ts/core';
import { DEFAULT_MAX_VOXELS, WEB_MODEL_DIR, WEB_MODEL_FORMAT, type WebModelManifest } from './model-format.js';

/** Options of {@link exportWeb}. */
export interface ExportWebOptions {
  /** Trained model folder (`nnUNet_results/<trainer>__<plans>__<configuration>`, ours or nnU-Net v2's). */
  modelDir: string;
  /** Site folder to write. Must not exist, be empty, or hold an earlier export (then it is replaced). */
  outDir: string;
  /** Folds to export (default: every trained fold). */
  folds?: (number | 'all')[];
  /** Checkpoint kind (`final` default, `best`, `latest`, or nnU-Net's `checkpoint_best.pth`). */
  checkpoint?: string;
  /** Registry with the network plugins (the CLI's default registry). */
  registry: Registry;
  /** Backend the networks are built on while their weights are read (any; `cpu-js` is enough). */
  backend: ComputeBackend;
  /** Largest image the page accepts, voxels per channel (default {@link DEFAULT_MAX_VOXELS}). */
  maxVoxels?: number;
  /** Prebuilt app to copy (default: this package's `dist/site`, made by its build). */
  siteDir?: string;
}

/** What {@link exportWeb} wrote. */
export interface ExportWebResult {
  outDir: string;
  manifest: WebModelManifest;
  /** Bytes of the model files (weights, manifest and the copied JSON files). */
  modelBytes: number;
}

/** This package's prebuilt app (`dist/site`: index.html, app.js, worker.js, tfjs wasm files). */
export function defaultSiteDir(): string {
  return fileURLToPath(new URL('../dist/site/', import.meta.url));
}

/**
 * `nnunet-ts export-web`: a static site that segments images in the browser with a trained model. The site is this
 * package's prebuilt app (bundled by esbuild at build time) plus `model/`: `manifest.json` (plans, dataset.json,
 * postprocessing, shapes), one `fold_<k>.params` per fold (core's parameter file), and copies of the model folder's
 * plans.json, dataset.json and postprocessing.json. The networks are rebuilt from the plans in the page, so any
 * folder `nnunet-ts predict -m` reads (ours, or nnU-Net v2's with `.pth` checkpoints) exports.
 * Written to a temporary sibling folder first, then renamed (a killed export leaves no half site).
 * @throws DataError naming the folder: not a model folder, a cascade model (not supported in the page), an output
 * folder that holds something other than an earlier export, or a missing app build.
 */
export async function exportWeb(opts: ExportWebOptions): Promise<ExportWebResult> {
  const siteDir = opts.siteDir ?? defaultSiteDir();
  if (!existsSync(join(siteDir, 'index.html'))) {
    throw new DataError('the web app is not built', { file: siteDir, hint: 'run `npm run build` (it bundles packages/web/dist/site)' });
  }
  const folder = readModelFolder(opts.modelDir);
  if (getConfiguration(folder.plans, folder.configuration).previous_stage) {
    throw new DataError(`configuration '${folder.configuration}' is a cascade stage: export-web supports single-stage models (2d, 3d_fullres, 3d_lowres)`, {
      file: opts.modelDir,
      hint: 'export the 3d_fullres or 2d model folder instead',
    });
  }
  await checkOutDir(opts.outDir);
  const model = await loadTrainedModel(opts.modelDir, opts.folds, opts.registry, opts.backend, { checkpoint: opts.checkpoint });
  const tmp = join(dirname(resolve(opts.outDir)), `.${basename(opts.outDir)}.${process.pid}.tmp`);
  await rm(tmp, { recursive: true, force: true });
  await cp(siteDir, tmp, { recursive: true });
  const modelDir = join(tmp, WEB_MODEL_DIR);
  await mkdir(modelDir, { recursive: true });
  let modelBytes = 0;
  const weights = [];
  for (const [i, fold] of model.folds.entries()) {
    const bytes = saveParameters(model.networks[i]!.parameters);
    await writeFile(join(modelDir, `fold_${fold}.params`), bytes);
    weights.push({ fold, file: `fold_${fold}.params`, bytes: bytes.length });
    modelBytes += bytes.length;
  }
  const manifest: WebModelManifest = {
    format: WEB_MODEL_FORMAT,
    version: 1,
    name: basename(resolve(opts.modelDir)),
    configuration: model.configuration,
    dims: model.dims,
    inputChannels: model.inputChannels,
    numClasses: model.numClasses,
    patchSize: model.patchSize,
    mirrorAxes: model.mirrorAxes,
    plans: model.plans,
    dataset: model.dataset,
    postprocessing: folder.postprocessing?.postprocessing_fns ?? null,
    weights,
    maxVoxels: opts.maxVoxels ?? DEFAULT_MAX_VOXELS,
    exported: { by: '@nnunet-ts/web export-web', at: new Date().toISOString() },
  };
  const files: [string, unknown][] = [['manifest.json', manifest], ['plans.json', model.plans], ['dataset.json', model.dataset]];
  if (folder.postprocessing) files.push(['postprocessing.json', folder.postprocessing]);
  for (const [name, value] of files) {
    const text = JSON.stringify(value, null, 1);
    await writeFile(join(modelDir, name), text);
    modelBytes += text.length;
  }
  await rm(opts.outDir, { recursive: true, force: true });
  await rename(tmp, opts.outDir);
  return { outDir: opts.outDir, manifest, modelBytes };
}

/** The output folder may be absent, empty, or an earlier export (index.html + model/manifest.json). */
async function checkOutDir(outDir: string): Promise<void> {
  const st = await stat(outDir).catch(() => null);
  if (!st) return;
  if (!st.isDirectory()) throw new DataError('the output path exists and is not a folder', { file: outDir, hint: 'pass a new folder to -o' });
  const entries = await readdir(outDir);
  if (!entries.length || (existsSync(join(outDir, 'index.html')) && existsSync(join(outDir, WEB_MODEL_DIR, 'manifest.json')))) return;
  throw new DataError('the output folder is not empty and is not an earlier export-web site', {
    file: outDir,
    hint: 'pass a new or empty folder to -o (an earlier export there is replaced)',
  });
}
