import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { MedicalImage } from '../image/image.js';
import type { Registry } from '../registry/registry.js';
import { foregroundClasses, ignoreLabelOf } from '../dataset/dataset-json.js';
import { readerWriterReorients, restoreOrientation } from '../image/reorient.js';
import { readCase, readImage } from '../dataset/read.js';
import type { Dataset, DatasetCase } from '../dataset/types.js';
import { computeMetrics } from '../evaluation/metrics.js';
import { summarize, writeFileAtomicSync, type EvaluationSummary } from '../evaluation/summary.js';
import { applyPostprocessing, type PostprocessingPlan } from '../postprocessing/determine.js';
import { ensembleProbabilities } from '../postprocessing/ensemble.js';
import { readJsonIfValid, writeJson } from './json-io.js';
import {
  forEachCase, modelChecksum, modelFoldersOf, preprocessForModel, PredictionResume, segmentPreprocessedFull, splitPredicted, writeSegmentation, type LoadedModel, type PipelinePredictOptions, type PredictedCases,
} from './predict-stage.js';
import type { Reporter } from './progress.js';
import { checkPredictChannelFiles, checkPredictInput } from './predict-inputs.js';

/** Probabilities `[K, z, y, x]` stored beside a validation prediction: `<id>.probs.bin` (float32 LE) + `.json` (shape). */
export function writeProbabilities(fileBase: string, probabilities: Float32Array, shape: number[]): void {
  const bytes = new Uint8Array(probabilities.buffer, probabilities.byteOffset, probabilities.byteLength);
  writeFileAtomicSync(`${fileBase}.probs.bin`, bytes);
  writeJson(`${fileBase}.probs.json`, { shape, dtype: 'float32' });
}

/** Read probabilities written by `writeProbabilities`; undefined when absent or inconsistent. */
export function readProbabilities(fileBase: string): { probabilities: Float32Array; shape: number[] } | undefined {
  const meta = readJsonIfValid<{ shape: number[] }>(`${fileBase}.probs.json`);
  if (!meta || !existsSync(`${fileBase}.probs.bin`)) return undefined;
  const buf = readFileSync(`${fileBase}.probs.bin`);
  const n = meta.shape.reduce((a, b) => a * b, 1);
  if (buf.byteLength !== 4 * n) return undefined;
  return { probabilities: new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength)), shape: meta.shape };
}

/** Label map from probabilities `[K, ...]` (argmax, first maximum wins as numpy), mapped to label values. */
export function argmaxProbabilities(probabilities: Float32Array, shape: number[], channelValues?: number[]): Int16Array {
  const K = shape[0]!;
  const n = probabilities.length / K;
  const out = new Int16Array(n);
  for (let i = 0; i < n; i++) {
    let best = 0;
    let bv = probabilities[i]!;
    for (let k = 1; k < K; k++) {
      const v = probabilities[k * n + i]!;
      if (v > bv) {
        bv = v;
        best = k;
      }
    }
    out[i] = channelValues ? channelValues[best]! : best;
  }
  return out;
}

/**
 * Score the ensemble of two configurations on cross-validation (RULES.md §20: average the exported probabilities of
 * each validation case): writes `<ensDir>/validation/<id><ending>` and `<ensDir>/validation/summary.json`.
 * Returns undefined when a member lacks validation probabilities.
 */
export async function scoreEnsemble(ds: Dataset, memberDirs: [string, string], folds: number[], ensDir: string, registry: Registry, rep: Reporter): Promise<EvaluationSummary | undefined> {
  const summaryFile = join(ensDir, 'validation', 'summary.json');
  const have = readJsonIfValid<EvaluationSummary>(summaryFile);
  if (have?.metric_per_case) return have;
  const classes = foregroundClasses(ds.json);
  const ending = ds.json.file_ending;
  const byId = new Map(ds.cases.map((c) => [c.id, c]));
  const perCase: EvaluationSummary['metric_per_case'] = [];
  for (const f of folds) {
    const s = readJsonIfValid<EvaluationSummary>(join(memberDirs[0], `fold_${f}`, 'validation', 'summary.json'));
    for (const pc of s?.metric_per_case ?? []) {
      const id = pc.prediction_file.slice(pc.prediction_file.lastIndexOf('/') + 1, -ending.length);
      const members = memberDirs.map((d, i) => {
        const p = readProbabilities(join(d, `fold_${f}`, 'validation', id));
        return p && { name: `member${i}`, labels: ds.json.labels, ...p };
      });
      if (members.some((m) => !m)) {
        rep.log(`ensemble: no validation probabilities for ${id} in ${memberDirs.join(' / ')}; ensemble not scored`);
        return undefined;
      }
      const e = ensembleProbabilities(members as NonNullable<(typeof members)[number]>[]);
      const seg = argmaxProbabilities(e.probabilities, e.shape);
      const ref = await readImage(registry, byId.get(id)!.label!);
      const out = join(ensDir, 'validation', `${id}${ending}`);
      await writeSegmentation(registry, out, seg, ref, ending);
      perCase.push({ metrics: computeMetrics(seg, ref.data, classes, ignoreLabelOf(ds.json)), prediction_file: out, reference_file: byId.get(id)!.label! });
    }
  }
  const summary = summarize(perCase, classes);
  writeJson(summaryFile, summary);
  return summary;
}

/**
 * Predict cases with an ensemble of models (probabilities averaged per case, then argmax and the ensemble's
 * postprocessing), written as `<id><ending>` with the input's geometry; existing outputs per `opts.existing`.
 * Returns which cases were written and which kept.
 */
export async function predictCasesEnsemble(
  models: LoadedModel[],
  cases: DatasetCase[],
  outDir: string,
  registry: Registry,
  rep: Reporter,
  opts: PipelinePredictOptions & { postprocessingPlan?: PostprocessingPlan } = {},
): Promise<PredictedCases> {
  const ending = models[0]!.folder.dataset.file_ending;
  mkdirSync(outDir, { recursive: true });
  const resume = new PredictionResume(outDir, opts.existing ?? 'overwrite', opts.existing === 'manifest' ? modelChecksum(models.flatMap(modelFoldersOf), opts, JSON.stringify(opts.postprocessingPlan ?? null)) : '');
  const written = new Set<string>();
  // the members share one dataset: the first model's plans say how its images are read
  const reorient = readerWriterReorients(models[0]!.folder.plans.image_reader_writer, join(models[0]!.folder.dir, 'plans.json'), (s) => rep.log(s));
  await forEachCase(cases, outDir, rep, 'predict (ensemble)', async (c) => {
    const out = join(outDir, `${c.id}${ending}`);
    if (resume.keep(out, c.id, c.images)) return;
    checkPredictChannelFiles(c, models[0]!.folder);
    const { image, reoriented } = await readCase(registry, { id: c.id, images: c.images }, undefined, { reorient });
    await checkPredictInput(c, image, models[0]!.folder, registry, (s) => rep.log(s));
    const members = [];
    for (const [i, m] of models.entries()) {
      const r = await segmentPreprocessedFull(m, await preprocessForModel(m, image, registry, opts), registry, { ...opts, returnProbabilities: true });
      members.push({ name: `${m.folder.configuration}#${i}`, labels: m.folder.dataset.labels, probabilities: r.probabilities!, shape: [r.probabilities!.length / (image.shape[1] * image.shape[2] * image.shape[3]), ...image.shape.slice(1)] });
    }
    const e = ensembleProbabilities(members);
    let seg = argmaxProbabilities(e.probabilities, e.shape);
    const steps = opts.postprocessingPlan?.postprocessing_fns;
    if (opts.postprocessing !== false && steps?.length) seg = applyPostprocessing(seg, image.shape.slice(1), steps, registry);
    // NibabelIOWithReorient: back on the input's own grid, written with its header
    if (reoriented) seg = restoreOrientation(seg, reoriented.original.shape, reoriented.orientation);
    await writeSegmentation(registry, out, seg, reoriented?.original ?? (image as MedicalImage), ending);
    resume.written(c.id, c.images);
    written.add(c.id);
  });
  return splitPredicted(cases, written);
}
