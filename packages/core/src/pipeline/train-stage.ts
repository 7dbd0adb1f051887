import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ComputeBackend } from '../contracts/backend.js';
import type { DatasetJson, Plans, Splits } from '../contracts/plans.js';
import type { Registry } from '../registry/registry.js';
import { foregroundClasses, ignoreLabelOf } from '../dataset/dataset-json.js';
import { readImage } from '../dataset/read.js';
import type { Dataset } from '../dataset/types.js';
import { computeMetrics } from '../evaluation/metrics.js';
import { summarize, type EvaluationSummary } from '../evaluation/summary.js';
import { readJsonIfValid, writeJson } from './json-io.js';
import { readModelFolder } from './model-folder.js';
import { loadModel, segmentPreprocessedFull, writeSegmentation } from './predict-stage.js';
import { writeProbabilities } from './ensemble-stage.js';
import type { Budget } from './presets.js';
import type { Reporter } from './progress.js';
import { stage } from './stages.js';

/** Splits from `file` when present (user-supplied splits override, spec 1.1), else new KFold splits written there. */
export async function ensureSplits(file: string, caseIds: string[], nFolds: number): Promise<Splits> {
  if (existsSync(file)) return stage('readSplits')(file);
  const splits = stage('createSplits')(caseIds, Math.min(nFolds, caseIds.length));
  await stage('writeSplits')(file, splits);
  return splits;
}

/** Write the files a model folder needs besides checkpoints (plans, dataset.json, fingerprint). */
export function writeModelFiles(modelDir: string, plans: Plans, json: DatasetJson, fingerprintFile: string): void {
  writeJson(join(modelDir, 'plans.json'), plans);
  writeJson(join(modelDir, 'dataset.json'), json);
  if (existsSync(fingerprintFile)) writeJson(join(modelDir, 'dataset_fingerprint.json'), JSON.parse(readFileSync(fingerprintFile, 'utf8')));
}

/** Inputs of `trainConfiguration`. */
export interface TrainStageInput {
  ds: Dataset;
  plans: Plans;
  configuration: string;
  registry: Registry;
  backend: ComputeBackend;
  preprocessedDir: string;
  modelDir: string;
  splits: Splits;
  folds: number[];
  budget: Budget;
  rep: Reporter;
  /** Also store each validation case's probabilities (`<id>.probs.*`) for scoring ensembles (spec 1.20). */
  saveProbabilities?: boolean;
}

/**
 * Train the requested folds of one configuration (resuming from `checkpoint_latest`; a fold with
 * `checkpoint_final` is skipped), then predict each fold's validation cases to `fold_x/validation/` in the original
 * geometry and write `fold_x/validation/summary.json`.
 */
export async function trainConfiguration(t: TrainStageInput): Promise<void> {
  for (const fold of t.folds) {
    const foldDir = join(t.modelDir, `fold_${fold}`);
    if (!existsSync(join(foldDir, 'checkpoint_final.json'))) {
      const iters = t.budget.iterationsPerEpoch;
      const total = t.budget.epochs * iters;
      let status = '';
      t.rep.start(`train ${t.configuration} fold ${fold}`, total);
      await stage('trainFold')({
        registry: t.registry,
        backend: t.backend,
        plans: t.plans,
        configuration: t.configuration,
        dataset: t.ds.json,
        preprocessedDir: t.preprocessedDir,
        splits: t.splits,
        fold,
        outputDir: t.modelDir,
        epochs: t.budget.epochs,
        iterationsPerEpoch: iters,
        validationIterations: t.budget.validationIterations,
        batchSize: t.budget.batchSize,
        augmentation: t.budget.augmentation,
        resume: true,
        log: (s) => t.rep.log(s),
        onProgress: (p) => {
          const epoch = Number(p.epoch ?? 0);
          const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v.toFixed(3) : '-');
          if (p.phase === 'epoch') status = `epoch ${epoch + 1}/${t.budget.epochs} loss ${num(p.loss)} ema dice ${num(p.emaFgDice)}`;
          else t.rep.update(Math.min(total, epoch * iters + Number(p.iteration ?? 0)), status || `epoch 1/${t.budget.epochs}`);
        },
      });
      t.rep.stop();
    } else t.rep.log(`train ${t.configuration} fold ${fold}: checkpoint_final present, skipped`);
    await validateFold(t, fold);
  }
}

/** Predict the validation cases of a fold (original grid) and evaluate them; reused when summary.json exists. */
export async function validateFold(t: TrainStageInput, fold: number): Promise<EvaluationSummary> {
  const dir = join(t.modelDir, `fold_${fold}`, 'validation');
  const summaryFile = join(dir, 'summary.json');
  const have = readJsonIfValid<EvaluationSummary>(summaryFile);
  if (have?.metric_per_case) return have;
  const folder = readModelFolder(t.modelDir, [fold]);
  const model = await loadModel(folder, t.registry, t.backend);
  const classes = foregroundClasses(t.ds.json);
  const ending = t.ds.json.file_ending;
  const val = t.splits[fold]!.val;
  const byId = new Map(t.ds.cases.map((c) => [c.id, c]));
  const perCase: EvaluationSummary['metric_per_case'] = [];
  t.rep.start(`validate ${t.configuration} fold ${fold}`, val.length);
  for (const [i, id] of val.entries()) {
    const c = byId.get(id)!;
    const ref = await readImage(t.registry, c.label!);
    const out = join(dir, `${id}${ending}`);
    let seg: ArrayLike<number>;
    if (existsSync(out)) seg = (await readImage(t.registry, out)).data;
    else {
      const pp = await stage('readPreprocessedCase')(t.preprocessedDir, id);
      const r = await segmentPreprocessedFull(model, pp, t.registry, { stepSize: t.budget.stepSize, mirror: t.budget.mirror, returnProbabilities: t.saveProbabilities });
      if (t.saveProbabilities && r.probabilities) writeProbabilities(join(dir, id), r.probabilities, [r.probabilities.length / r.seg.length, ...ref.shape.slice(1)]);
      await writeSegmentation(t.registry, out, r.seg, ref, ending);
      seg = r.seg;
    }
    perCase.push({ metrics: computeMetrics(seg, ref.data, classes, ignoreLabelOf(t.ds.json)), prediction_file: out, reference_file: c.label! });
    t.rep.update(i + 1, id);
  }
  t.rep.stop();
  const summary = summarize(perCase, classes);
  writeJson(summaryFile, summary);
  return summary;
}

/**
 * Cross-validation summary of a configuration: every trained fold's validation cases pooled (nnU-Net evaluates the
 * merged `crossval_results` folder); written to `<modelDir>/crossval_summary.json`.
 */
export function crossValidationSummary(modelDir: string, folds: number[], classes: (number | number[])[]): EvaluationSummary | undefined {
  const per: EvaluationSummary['metric_per_case'] = [];
  for (const f of folds) {
    const s = readJsonIfValid<EvaluationSummary>(join(modelDir, `fold_${f}`, 'validation', 'summary.json'));
    if (s) per.push(...s.metric_per_case);
  }
  if (!per.length) return undefined;
  const s = summarize(per, classes);
  writeJson(join(modelDir, 'crossval_summary.json'), s);
  return s;
}
