import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { ComputeBackend } from '../contracts/backend.js';
import type { MedicalImage } from '../image/image.js';
import type { Registry } from '../registry/registry.js';
import { pickWriter } from '../dataset/convert.js';
import { readCase } from '../dataset/read.js';
import { listFiles, idOf, stripEnding } from '../dataset/files.js';
import { scanV2Folder } from '../dataset/load.js';
import type { DatasetCase } from '../dataset/types.js';
import { DataError } from '../util/errors.js';
import { applyPostprocessing } from '../postprocessing/determine.js';
import { previousStageDir, readModelFolder, trainedFolds, type ModelFolder } from './model-folder.js';
import type { Reporter } from './progress.js';
import { stage, type StageCascadeTransforms, type StagePreprocessedCase, type StageTrainedModel } from './stages.js';

/** Inference options (spec 1.18). */
export interface PipelinePredictOptions {
  stepSize?: number;
  mirror?: boolean;
  /** Apply the model's postprocessing.json when present (default true). */
  postprocessing?: boolean;
}

/** Loaded networks of a model folder (opaque, from `loadTrainedModel`). */
export interface LoadedModel {
  folder: ModelFolder;
  models: StageTrainedModel;
  /** Cascade: the previous stage's loaded model (every trained fold) and the one-hot transform. */
  previous?: { model: LoadedModel; cascade: StageCascadeTransforms };
}

/**
 * Load the folds' networks once for many predictions. A cascade model folder (`previous_stage` in its
 * configuration) also loads its previous stage's model folder (`previous_stage.json`, else the sibling folder).
 * @throws DataError naming the previous stage's folder when it is missing or untrained
 */
export async function loadModel(folder: ModelFolder, registry: Registry, backend: ComputeBackend, folds = folder.folds): Promise<LoadedModel> {
  const models = await stage('loadTrainedModel')(folder.dir, folds, registry, backend);
  const prevName = stage('getConfiguration')(folder.plans, folder.configuration).previous_stage;
  if (!prevName) return { folder, models };
  const dir = previousStageDir(folder, prevName);
  if (!trainedFolds(dir).length) {
    throw new DataError(`the cascade model needs its previous stage '${prevName}', which has no trained fold in ${dir}`, {
      file: folder.dir,
      hint: `keep the ${prevName} model folder next to the cascade's (or fix previous_stage.json), trained with: nnunet-ts train <dataset> -o <run> -c ${prevName}`,
    });
  }
  const model = await loadModel(readModelFolder(dir), registry, backend);
  const cascade = stage('cascadeTransformsFrom')(registry, folder.dataset, { patchSize: models.patchSize, dims: 3, mirrorAxes: [], doDummy2D: false });
  return { folder, models, previous: { model, cascade } };
}

/**
 * Append the previous stage's segmentation (ORIGINAL grid of the case, `[z, y, x]`) to a preprocessed case as one-hot
 * channels (cascade models; spec 1.10): resampled onto the case's preprocessed grid first.
 */
export function withPreviousStage(m: LoadedModel, pp: StagePreprocessedCase, seg: Int16Array, registry: Registry): StagePreprocessedCase {
  if (!m.previous) return pp;
  const grid = stage('previousStageToGrid')(seg, pp.properties, pp.shape.slice(1), m.folder.plans, m.folder.configuration, registry);
  const r = stage('appendPreviousStage')(m.previous.cascade, pp.data, pp.shape, grid);
  return { ...pp, data: r.data, shape: r.shape };
}

/**
 * Segment a preprocessed case and walk back to the original grid (spec 1.14 export): sliding window, resample,
 * argmax, paste into the crop box, transpose back. Returns the label map `[z, y, x]` of the original image and, with
 * `returnProbabilities`, the softmax probabilities `[K, z, y, x]` there (for ensembling).
 */
export async function segmentPreprocessedFull(
  m: LoadedModel,
  pp: StagePreprocessedCase,
  registry: Registry,
  opts: PipelinePredictOptions & { returnProbabilities?: boolean } = {},
): Promise<{ seg: Int16Array; probabilities?: Float32Array }> {
  const logits = await stage('predictPreprocessed')(m.models, pp.data, pp.shape, { stepSize: opts.stepSize ?? 0.5, mirror: opts.mirror ?? true });
  const n = pp.shape[1]! * pp.shape[2]! * pp.shape[3]!;
  const shape = [logits.length / n, pp.shape[1]!, pp.shape[2]!, pp.shape[3]!];
  return stage('exportPrediction')(logits, shape, pp.properties, m.folder.plans, m.folder.configuration, registry, {
    returnProbabilities: opts.returnProbabilities === true,
  });
}

/** `segmentPreprocessedFull` without probabilities: the label map `[z, y, x]` on the original grid. */
export async function segmentPreprocessed(m: LoadedModel, pp: StagePreprocessedCase, registry: Registry, opts: PipelinePredictOptions = {}): Promise<Int16Array> {
  return (await segmentPreprocessedFull(m, pp, registry, opts)).seg;
}

/**
 * Preprocess an image `[c, z, y, x]` for a model's configuration (no label). Cascade models first segment the image
 * with the previous stage (no postprocessing, as nnU-Net's predictor) and append that segmentation, resampled to the
 * preprocessed grid, as one-hot channels.
 */
export async function preprocessForModel(m: LoadedModel, image: MedicalImage, registry: Registry, opts: PipelinePredictOptions = {}): Promise<StagePreprocessedCase> {
  const prevSeg = m.previous ? await segmentImage(m.previous.model, image, registry, { ...opts, postprocessing: false }) : null;
  const pp = stage('preprocessCase')(
    { image: Float32Array.from(image.data), shape: [...image.shape], spacing: [...image.spacing], seg: null },
    m.folder.plans,
    m.folder.configuration,
    registry,
    { consumeInput: true },
  );
  return prevSeg ? withPreviousStage(m, pp, prevSeg, registry) : pp;
}

/** Segment one image (all channels stacked `[c, z, y, x]`) with a loaded model; postprocessing applied if set. */
export async function segmentImage(m: LoadedModel, image: MedicalImage, registry: Registry, opts: PipelinePredictOptions = {}): Promise<Int16Array> {
  let seg = await segmentPreprocessed(m, await preprocessForModel(m, image, registry, opts), registry, opts);
  const steps = m.folder.postprocessing?.postprocessing_fns;
  if (opts.postprocessing !== false && steps?.length) seg = applyPostprocessing(seg, image.shape.slice(1), steps, registry);
  return seg;
}

/**
 * Write a label map with the geometry and header of `like` (the input image), so shape, spacing, origin and
 * direction equal the input's. uint8 when labels fit, else int16. Atomic (the writer's temp + rename).
 */
export async function writeSegmentation(registry: Registry, path: string, seg: Int16Array, like: MedicalImage, ending: string): Promise<void> {
  let max = 0;
  for (let i = 0; i < seg.length; i++) if (seg[i]! > max) max = seg[i]!;
  mkdirSync(dirname(path), { recursive: true });
  await pickWriter(registry, ending).write(
    path,
    { data: seg, shape: [1, like.shape[1], like.shape[2], like.shape[3]], spacing: [...like.spacing], origin: [...like.origin], direction: [...like.direction] },
    { dtype: max < 256 ? 'uint8' : 'int16', template: like.header },
  );
}

/** Cases of an input folder: v2 names (`CASE_0000`), or for single-channel models any image file (MSD names). */
export function casesOfFolder(dir: string, ending: string, nChannels: number): DatasetCase[] {
  if (!existsSync(dir)) throw new DataError('input folder not found', { file: dir });
  const v2 = scanV2Folder(dir, null, ending);
  if (v2.cases.length && !v2.problems.length) return v2.cases;
  if (nChannels === 1) {
    const files = listFiles(dir).filter((n) => !n.startsWith('.') && stripEnding(n, ending));
    if (files.length) return files.map((n) => ({ id: idOf(n, ending), images: [join(dir, n)] }));
  }
  throw new DataError(`no input images found (expected CASE_0000${ending} ... for ${nChannels} channel(s))`, {
    file: dir,
    hint: `found: ${listFiles(dir).slice(0, 10).join(', ') || 'nothing'}`,
  });
}

/**
 * Predict every case of `inDir` into `outDir` as `<id><file_ending>`; existing outputs are skipped (resume).
 * Returns the ids predicted or found.
 */
export async function predictFolder(
  m: LoadedModel,
  inDir: string,
  outDir: string,
  registry: Registry,
  rep: Reporter,
  opts: PipelinePredictOptions = {},
): Promise<string[]> {
  const ending = m.folder.dataset.file_ending;
  const cases = casesOfFolder(inDir, ending, Object.keys(m.folder.dataset.channel_names).length);
  return predictCases(m, cases, outDir, registry, rep, opts);
}

/** Predict the given cases into `outDir` as `<id><file_ending>` (existing outputs skipped). */
export async function predictCases(
  m: LoadedModel,
  cases: DatasetCase[],
  outDir: string,
  registry: Registry,
  rep: Reporter,
  opts: PipelinePredictOptions = {},
): Promise<string[]> {
  const ending = m.folder.dataset.file_ending;
  mkdirSync(outDir, { recursive: true });
  rep.start('predict', cases.length);
  let n = 0;
  for (const c of cases) {
    const out = join(outDir, `${c.id}${ending}`);
    if (!existsSync(out)) {
      const { image } = await readCase(registry, { id: c.id, images: c.images });
      const seg = await segmentImage(m, image, registry, opts);
      await writeSegmentation(registry, out, seg, image, ending);
    }
    rep.update(++n, c.id);
  }
  rep.stop();
  return cases.map((c) => c.id);
}
