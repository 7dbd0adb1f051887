import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { ComputeBackend } from '../contracts/backend.js';
import type { DeviceBackend } from '../contracts/device.js';
import type { DatasetJson, Plans, Splits } from '../contracts/plans.js';
import type { Registry } from '../registry/registry.js';
import { foregroundClasses, ignoreLabelOf } from '../dataset/dataset-json.js';
import { readImage } from '../dataset/read.js';
import type { Dataset } from '../dataset/types.js';
import { computeMetrics } from '../evaluation/metrics.js';
import { summarize, type EvaluationSummary } from '../evaluation/summary.js';
import { readJsonIfValid, writeJson } from './json-io.js';
import { readModelFolder, siblingModelDir, trainedFolds, writePreviousStageInfo } from './model-folder.js';
import { closestCanonical, readerWriterReorients, restoreOrientation } from '../image/reorient.js';
import { loadModel, segmentPreprocessedFull, writeSegmentation } from './predict-stage.js';
import { labelManager } from '../dataset/label-manager.js';
import { readNpy, writeNpy } from '../interop/npy.js';
import { writeFileAtomicSync } from '../util/atomic.js';
import { dataConfiguration, runPreprocess } from './preprocess-stage.js';
import { DataError } from '../util/errors.js';
import { writeProbabilities } from './ensemble-stage.js';
import type { Budget } from './presets.js';
import type { Reporter } from './progress.js';
import { getConfiguration } from '../planning/plans-io.js';
import { stage } from './stages.js';
import { lateralizedMirrorExclusion } from './lateral.js';
import { foldDeadline, type TrainingDeadline } from '../training/deadline.js';
import { describeProgress, epochsLeft } from '../costmodel/estimate.js';
import { foldProgress, foldsProgress } from './fold-progress.js';

/** Splits from `file` when present (user-supplied splits override, RULES.md §1), else new KFold splits written there. */
export async function ensureSplits(file: string, caseIds: string[], nFolds: number, registry: Registry): Promise<Splits> {
  if (existsSync(file)) return stage(registry, 'readSplits')(file);
  if (caseIds.length < 2) {
    throw new DataError(`${caseIds.length} training case(s): cross-validation needs at least 2 labelled training cases`, {
      file: dirname(file),
      hint: 'add labelled training cases to the dataset, or write your own splits_final.json there',
    });
  }
  const splits = stage(registry, 'createSplits')(caseIds, Math.min(nFolds, caseIds.length));
  await stage(registry, 'writeSplits')(file, splits);
  return splits;
}

/**
 * The folds to train: `all` = every split; listed folds must exist in the splits (checked before any work).
 * @throws DataError naming the bad folds, the splits file and the valid folds
 */
export function foldsToRun(folds: number[] | 'all', splits: Splits, splitsFile: string): number[] {
  if (folds === 'all') return splits.map((_, i) => i);
  const bad = folds.filter((f) => !(f >= 0 && f < splits.length));
  if (bad.length) {
    throw new DataError(`fold ${bad.join(', ')} does not exist: the splits have ${splits.length} fold(s) (0-${splits.length - 1})`, {
      file: splitsFile,
      hint: `pass -f with folds in 0-${splits.length - 1} (or 'all')`,
    });
  }
  return folds;
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
  backend: ComputeBackend | DeviceBackend;
  preprocessedDir: string;
  modelDir: string;
  splits: Splits;
  folds: number[];
  budget: Budget;
  rep: Reporter;
  /** Also store each validation case's probabilities (`<id>.probs.*`) for scoring ensembles (RULES.md §20). */
  saveProbabilities?: boolean;
  /** Train only; the validation predictions are made later by `validateConfigurationFold` (job runners). */
  skipValidation?: boolean;
  /** Time budget: when every fold's training should end (`RunSpec.trainingEndsAt`, `Date.now()` ms). */
  trainingEndsAt?: number;
  /** The run's folds that share `trainingEndsAt` (default `folds`). */
  runFolds?: number[];
}

/** Progress label while training: the epoch being trained (0-based `epoch`), 1-based, and the last epoch's status. */
export function trainingLabel(epoch: number, epochs: number, status = ''): string {
  return `epoch ${Math.min(epoch + 1, epochs)}/${epochs}${status ? ` ${status}` : ''}`;
}

/**
 * A fold folder's `checkpoint_final` trained with another budget than the requested one is not silently reused.
 * @throws DataError naming the fold folder, both budgets and the fix
 */
export function checkFinalBudget(foldDir: string, epochs: number, iterationsPerEpoch: number): void {
  const meta = readJsonIfValid<{ num_epochs?: number; num_iterations_per_epoch?: number }>(join(foldDir, 'checkpoint_final.json'));
  if (!meta || (meta.num_epochs === epochs && meta.num_iterations_per_epoch === iterationsPerEpoch)) return;
  throw new DataError(
    `this fold was trained with ${meta.num_epochs} epochs x ${meta.num_iterations_per_epoch} iterations, but ${epochs} epochs x ${iterationsPerEpoch} iterations were requested`,
    { file: foldDir, hint: `use a new --out, or delete ${foldDir} to train it again with the new budget` },
  );
}

/**
 * Train the requested folds of one configuration (resuming from `checkpoint_latest`; a fold with
 * `checkpoint_final` is skipped), then predict each fold's validation cases to `fold_x/validation/` in the original
 * geometry and write `fold_x/validation/summary.json`.
 */
export async function trainConfiguration(t: TrainStageInput): Promise<void> {
  const prevName = getConfiguration(t.plans, t.configuration).previous_stage;
  const previous = prevName ? await previousStageSegmentations(t, prevName) : undefined;
  const cases = previous ? cascadeCaseSource(t, previous) : undefined;
  const excludedMirrorAxes = await lateralizedMirrorExclusion(t.ds, t.plans, t.configuration, t.registry);
  if (excludedMirrorAxes.length) t.rep.log(`train ${t.configuration}: lateralized labels declared; patch axis ${excludedMirrorAxes.join(', ')} (left-right) is never mirrored in training or at test time`);
  for (const fold of t.folds) {
    const foldDir = join(t.modelDir, `fold_${fold}`);
    checkFinalBudget(foldDir, t.budget.epochs, t.budget.iterationsPerEpoch);
    if (!existsSync(join(foldDir, 'checkpoint_final.json'))) {
      const iters = t.budget.iterationsPerEpoch;
      // a restarted run resumes at checkpoint_latest's epoch: the bar starts there and its pace counts this run's steps
      const resumed = foldProgress(foldDir, fold, t.budget.epochs);
      if (resumed.epochsDone > 0) t.rep.log(`train ${t.configuration}: ${describeProgress([resumed])}`);
      let total = resumed.epochs * iters;
      let status = '';
      let done = resumed.epochsDone * iters;
      t.rep.start(`train ${t.configuration} fold ${fold}`, total, done);
      await stage(t.registry, 'trainFold')({
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
        settings: t.budget.trainer,
        previousStage: prevName,
        cases,
        excludedMirrorAxes,
        resume: true,
        deadline: foldDeadlineOf(t, fold),
        log: (s) => t.rep.log(s),
        onProgress: (p) => {
          const epoch = Number(p.epoch ?? 0);
          // a time budget's deadline may shorten the schedule: the bar's total and label follow it
          const epochs = Number(p.epochs ?? t.budget.epochs);
          if (epochs * iters !== total) {
            total = epochs * iters;
            t.rep.setTotal?.(total);
          }
          const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v.toFixed(3) : '-');
          // 'epoch' reports the epoch just finished; the label names the epoch being trained, then the last finished one's loss
          if (p.phase === 'epoch') status = `last loss ${num(p.loss)} ema dice ${num(p.emaFgDice)}`;
          else if (p.phase === 'train') {
            done = Math.min(total, epoch * iters + Number(p.iteration ?? 0));
            t.rep.update(done, trainingLabel(epoch, epochs, status));
          } else t.rep.update(done, trainingLabel(epoch, epochs, `validation ${p.iteration}/${p.iterations}`));
        },
      });
      t.rep.stop();
    } else t.rep.log(`train ${t.configuration} fold ${fold}: checkpoint_final present, skipped`);
    if (!t.skipValidation) await validateFold(t, fold, previous);
  }
}

/**
 * Under a time budget, this fold's share of the training time left (`foldDeadline`: the folds of the run without
 * `checkpoint_final` split it in proportion to the epochs each has left, so a fold a restarted run resumes late in
 * its schedule does not take time a fresh fold needs), with the budget's `minIterations` as the floor (1 when the user
 * gave none: the deadline wins over the planning minimum).
 */
function foldDeadlineOf(t: TrainStageInput, fold: number): TrainingDeadline | undefined {
  if (!t.trainingEndsAt) return undefined;
  const left = foldsProgress(t.modelDir, t.runFolds ?? t.folds, t.budget.epochs).filter((p) => !p.finished);
  const mine = left.find((p) => p.fold === fold);
  const work = mine ? { fold: epochsLeft(mine), all: left.reduce((a, p) => a + epochsLeft(p), 0) } : undefined;
  return { endsAt: foldDeadline(t.trainingEndsAt, left.length, Date.now(), work), minIterations: Math.max(1, t.budget.minIterations ?? 1) };
}

/**
 * `validateFold` for one trained fold on its own (a job of its own in queued runs): a cascade first gathers its
 * previous stage's segmentations as `trainConfiguration` does.
 */
export async function validateConfigurationFold(t: TrainStageInput, fold: number): Promise<EvaluationSummary> {
  const prevName = getConfiguration(t.plans, t.configuration).previous_stage;
  const previous = prevName ? await previousStageSegmentations(t, prevName) : undefined;
  return validateFold(t, fold, previous);
}

/**
 * The previous stage's segmentation of every training case on the cascade's preprocessed grid (RULES.md §10), made
 * as nnU-Net's previous-stage trainer makes it (`nnUNetTrainer.perform_actual_validation` ->
 * `export_prediction.resample_and_save`): the logits of the previous stage's fold where the case was validation, on
 * the previous stage's preprocessed grid, resampled ONCE onto the cascade's preprocessed grid and argmaxed
 * (`resampleLogitsForNextStage`); stored as int16 `.npy` in nnU-Net's folder
 * `<previous>/predicted_next_stage/<configuration>/<id>.npy` and reused from there. Cases whose fold of the previous
 * stage was not trained (a budget with fewer folds) are predicted by every trained fold, which saw them in training
 * (optimistic input; the log says so). Writes the cascade's `previous_stage.json`.
 * @returns case id -> its `.npy` file
 * @throws DataError naming the previous stage's folder and the command to run first when it has no trained fold
 */
export async function previousStageSegmentations(t: TrainStageInput, prevName: string): Promise<Map<string, string>> {
  const prevDir = siblingModelDir(t.modelDir, prevName);
  const trained = trainedFolds(prevDir).filter((f) => existsSync(join(prevDir, `fold_${f}`, 'checkpoint_final.json')));
  if (!trained.length) {
    const run = dirname(dirname(t.modelDir));
    throw new DataError(`configuration '${t.configuration}' (cascade) needs the '${prevName}' stage's cross-validation predictions, and its model folder has no trained fold`, {
      file: prevDir,
      hint: `run first: nnunet-ts train ${t.ds.root} -o ${run} -c ${prevName}${t.folds.length ? ` -f ${t.folds.join(',')}` : ''} (every fold, for nnU-Net's cross-validation predictions)`,
    });
  }
  const dir = join(prevDir, 'predicted_next_stage', t.configuration);
  const out = new Map<string, string>();
  const todo = new Map<string, string[]>();
  for (const c of t.ds.cases) {
    const file = join(dir, `${c.id}.npy`);
    out.set(c.id, file);
    if (existsSync(file)) continue;
    const k = t.splits.findIndex((s) => s.val.includes(c.id));
    const key = trained.includes(k) ? String(k) : 'all';
    todo.set(key, [...(todo.get(key) ?? []), c.id]);
  }
  const optimistic = todo.get('all')?.length ?? 0;
  if (optimistic) {
    t.rep.log(`${t.configuration}: ${optimistic} of ${t.ds.cases.length} case(s) have no trained ${prevName} fold that validated them; ` +
      `predicting them with ${prevName} fold(s) ${trained.join(', ')}, which saw them in training (optimistic input; nnU-Net trains every ${prevName} fold first) -> ${dir}`);
  }
  await predictForNextStage(t, prevName, prevDir, trained, todo, dir);
  writePreviousStageInfo(t.modelDir, prevName, prevDir, stage(t.registry, 'cascadeForegroundLabels')(t.ds.json));
  return out;
}

/**
 * Predict the previous stage's logits of the cases in `todo` (fold -> ids; `all` = every trained fold) on its
 * preprocessed data (preprocessed first when its folder is missing) and write each once-resampled segmentation to
 * `<dir>/<id>.npy` (atomic).
 */
async function predictForNextStage(t: TrainStageInput, prevName: string, prevDir: string, trained: number[], todo: Map<string, string[]>, dir: string): Promise<void> {
  const total = [...todo.values()].reduce((a, ids) => a + ids.length, 0);
  if (!total) return;
  const prevConfig = dataConfiguration(t.plans, prevName);
  const prevData = join(dirname(t.preprocessedDir), prevConfig);
  if (!existsSync(prevData)) await runPreprocess(t.ds, t.plans, prevConfig, t.registry, prevData, t.rep);
  mkdirSync(dir, { recursive: true });
  t.rep.start(`predict ${prevName} for ${t.configuration}`, total);
  let done = 0;
  for (const [key, ids] of todo) {
    const model = await loadModel(readModelFolder(prevDir, key === 'all' ? trained : [Number(key)]), t.registry, t.backend);
    const regions = labelManager(model.folder.dataset, join(prevDir, 'dataset.json')).regionsClassOrder ?? undefined;
    for (const id of ids) {
      const low = await stage(t.registry, 'readPreprocessedCase')(prevData, id);
      const logits = await stage(t.registry, 'predictPreprocessed')(model.models, low.data, low.shape, { stepSize: t.budget.stepSize, mirror: t.budget.mirror });
      const sp = low.shape.slice(1);
      const target = (await stage(t.registry, 'readPreprocessedCase')(t.preprocessedDir, id)).shape.slice(1);
      const seg = stage(t.registry, 'resampleLogitsForNextStage')(logits, [logits.length / (sp[0]! * sp[1]! * sp[2]!), ...sp], target, low.properties, t.plans, prevName, t.registry, regions);
      writeFileAtomicSync(join(dir, `${id}.npy`), writeNpy({ descr: '<i2', shape: target, data: seg }));
      t.rep.update(++done, id);
    }
  }
  t.rep.stop();
}

/**
 * Read a previous stage's segmentation on the cascade's preprocessed grid (`previousStageSegmentations`).
 * @throws DataError naming the file when it is not int16 of the case's preprocessed `[z, y, x]` (a stale file)
 */
function readNextStageSeg(file: string, spatialShape: number[]): Int16Array {
  const a = readNpy(readFileSync(file), file);
  if (!(a.data instanceof Int16Array) || a.shape.join() !== spatialShape.join()) {
    throw new DataError(`previous-stage segmentation is ${a.descr} [${a.shape}], the case's preprocessed grid is [${spatialShape}]`, {
      file,
      hint: `delete ${dirname(file)}; the next train run predicts it again`,
    });
  }
  return a.data;
}

/** Preprocessed cases of the cascade with the previous stage's segmentation on their grid. */
function cascadeCaseSource(t: TrainStageInput, previous: Map<string, string>) {
  return {
    async load(id: string) {
      const pp = await stage(t.registry, 'readPreprocessedCase')(t.preprocessedDir, id);
      const file = previous.get(id);
      if (!file) throw new DataError(`no previous-stage segmentation for case '${id}'`, { file: t.modelDir });
      return { ...pp, previousStageSeg: readNextStageSeg(file, pp.shape.slice(1)) };
    },
  };
}

/** Predict the validation cases of a fold (original grid) and evaluate them; reused when summary.json exists. */
export async function validateFold(t: TrainStageInput, fold: number, previous?: Map<string, string>): Promise<EvaluationSummary> {
  const dir = join(t.modelDir, `fold_${fold}`, 'validation');
  const summaryFile = join(dir, 'summary.json');
  const have = readJsonIfValid<EvaluationSummary>(summaryFile);
  if (have?.metric_per_case) return have;
  const folder = readModelFolder(t.modelDir, [fold]);
  const model = await loadModel(folder, t.registry, t.backend);
  const classes = foregroundClasses(t.ds.json);
  const ending = t.ds.json.file_ending;
  const val = t.splits[fold]!.val;
  const reorient = readerWriterReorients(folder.plans.image_reader_writer, 'plans');
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
      let pp = await stage(t.registry, 'readPreprocessedCase')(t.preprocessedDir, id);
      const prev = previous?.get(id);
      if (model.previous) {
        if (!prev) throw new DataError(`no previous-stage segmentation for validation case '${id}'`, { file: t.modelDir });
        const r = stage(t.registry, 'appendPreviousStage')(model.previous.cascade, pp.data, pp.shape, readNextStageSeg(prev, pp.shape.slice(1)));
        pp = { ...pp, data: r.data, shape: r.shape };
      }
      const r = await segmentPreprocessedFull(model, pp, t.registry, { stepSize: t.budget.stepSize, mirror: t.budget.mirror, returnProbabilities: t.saveProbabilities });
      // NibabelIOWithReorient: the case was preprocessed reoriented; back onto the label's own grid
      const o = reorient ? closestCanonical(ref.direction) : undefined;
      const back = <T extends Int16Array | Float32Array>(a: T): T => (o ? restoreOrientation(a, ref.shape, o) : a);
      if (t.saveProbabilities && r.probabilities) writeProbabilities(join(dir, id), back(r.probabilities), [r.probabilities.length / r.seg.length, ...ref.shape.slice(1)]);
      const restored = back(r.seg);
      await writeSegmentation(t.registry, out, restored, ref, ending);
      seg = restored;
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
