import { cp, mkdir, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  DataError,
  getConfiguration,
  loadTrainedModel,
  previousStageDir,
  readModelFolder,
  hasFoldAll,
  availableFolds,
  checkpointKind,
  trainedFolds,
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
 * folder `nnunet-ts predict -m` reads (ours, or nnU-Net v2's with `.pth` checkpoints) exports. A cascade stage
 * (`3d_cascade_fullres`) brings its previous stage (`previous_stage.json`, else the sibling `3d_lowres` folder, as
 * `predict` finds it) into `model/previous/`, every trained fold of it.
 * Written to a temporary sibling folder first, then renamed (a killed export leaves no half site).
 * @throws DataError naming the folder: not a model folder, a cascade whose previous stage is missing or untrained,
 * an output folder that holds something other than an earlier export, or a missing app build.
 */
export async function exportWeb(opts: ExportWebOptions): Promise<ExportWebResult> {
  const siteDir = opts.siteDir ?? defaultSiteDir();
  if (!existsSync(join(siteDir, 'index.html'))) {
    throw new DataError('the web app is not built', { file: siteDir, hint: 'run `npm run build` (it bundles packages/web/dist/site)' });
  }
  // -f as predict reads it: 'all' is fold_all/ (nnU-Net's model trained on every case), the default every fold_<k>
  const folder = readModelFolder(opts.modelDir, opts.folds?.length ? opts.folds : undefined);
  const previous = getConfiguration(folder.plans, folder.configuration).previous_stage;
  const previousDir = previous ? previousStageDir(folder, previous) : undefined;
  // the previous stage's trained fold_<k>, else its fold_all (as `loadModel` in Node)
  const previousFolds: 'all'[] | undefined = previousDir && !trainedFolds(previousDir).length && hasFoldAll(previousDir) ? ['all'] : undefined;
  if (previous && previousDir && !trainedFolds(previousDir).length && !previousFolds) {
    throw new DataError(`the cascade stage '${folder.configuration}' needs its previous stage '${previous}', which has no trained fold in ${previousDir}`, {
      file: opts.modelDir,
      hint: `keep the ${previous} model folder next to the cascade's (or fix previous_stage.json), trained with: nnunet-ts train <dataset> -o <run> -c ${previous}`,
    });
  }
  await checkOutDir(opts.outDir);
  const tmp = join(dirname(resolve(opts.outDir)), `.${basename(opts.outDir)}.${process.pid}.tmp`);
  await rm(tmp, { recursive: true, force: true });
  await cp(siteDir, tmp, { recursive: true });
  const modelDir = join(tmp, WEB_MODEL_DIR);
  let written: Awaited<ReturnType<typeof writeWebModel>>;
  let modelBytes: number;
  try {
    written = await writeWebModel(modelDir, opts.modelDir, folder, opts, opts.folds, opts.checkpoint);
    modelBytes = written.modelBytes;
    if (previous && previousDir) {
      // nnU-Net predicts the previous stage with every trained fold of its folder (as `loadModel` in Node)
      const prev = await writeWebModel(join(modelDir, PREVIOUS_STAGE_DIR), previousDir, readModelFolder(previousDir, previousFolds), opts, previousFolds, undefined);
      modelBytes += prev.modelBytes;
      written.manifest.previousStage = { configuration: prev.manifest.configuration, dir: `${PREVIOUS_STAGE_DIR}/` };
      await writeFile(join(modelDir, 'manifest.json'), JSON.stringify(written.manifest, null, 1));
    }
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    throw e;
  }
  await rm(opts.outDir, { recursive: true, force: true });
  await rename(tmp, opts.outDir);
  return { outDir: opts.outDir, manifest: written.manifest, modelBytes };
}

/** Folder of a cascade's previous stage inside the site's `model/`. */
const PREVIOUS_STAGE_DIR = 'previous';

/**
 * Writes one model folder's web model into `dir`: `fold_<k>.params` per fold (core's parameter file), `manifest.json`,
 * and copies of plans.json, dataset.json and postprocessing.json. Returns the manifest and the bytes written.
 */
async function writeWebModel(
  dir: string, modelDir: string, folder: ReturnType<typeof readModelFolder>, opts: ExportWebOptions, folds: ExportWebOptions['folds'], checkpoint: string | undefined,
): Promise<{ manifest: WebModelManifest; modelBytes: number }> {
  // default: every fold_<k> holding the checkpoint, without fold_all (as predict and nnU-Net's fold auto-detection)
  const numeric = folds?.length ? folds : (await availableFolds(modelDir, checkpointKind(checkpoint))).filter((f) => f !== 'all');
  const model = await loadTrainedModel(modelDir, numeric.length ? numeric : undefined, opts.registry, opts.backend, { checkpoint });
  await mkdir(dir, { recursive: true });
  let modelBytes = 0;
  const weights = [];
  for (const [i, fold] of model.folds.entries()) {
    const bytes = saveParameters(model.networks[i]!.parameters);
    await writeFile(join(dir, `fold_${fold}.params`), bytes);
    weights.push({ fold, file: `fold_${fold}.params`, bytes: bytes.length });
    modelBytes += bytes.length;
  }
  const manifest: WebModelManifest = {
    format: WEB_MODEL_FORMAT,
    version: 1,
    name: basename(resolve(modelDir)),
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
    await writeFile(join(dir, name), text);
    modelBytes += text.length;
  }
  return { manifest, modelBytes };
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
