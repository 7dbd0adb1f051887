/**
 * The cost model in the pipeline: time-budget planning (`Budget.timeBudgetSeconds`) after fingerprinting, and the
 * estimate table printed before the long stages (written to `<run>/estimates.json`, with the measured times added
 * as stages finish, so estimate and measurement can be compared).
 */
import { existsSync, readdirSync } from 'node:fs';
import type { ComputeBackend } from '../contracts/backend.js';
import type { DeviceBackend } from '../contracts/device.js';
import type { DatasetFingerprint, DatasetJson, Plans } from '../contracts/plans.js';
import type { ClassOrRegion } from '../dataset/label-manager.js';
import type { Registry } from '../registry/registry.js';
import type { Dataset } from '../dataset/types.js';
import { calibrate } from '../costmodel/calibrate.js';
import { calibrateHost, type HostCalibration } from '../costmodel/host-calibrate.js';
import { casesToPredict, costFrom, estimateStages, representativeCase, formatBytes, formatDuration, formatEstimates, mirrorFactor, predictCaseSeconds, type CaseGeometry, type RunShape, type StageEstimate } from '../costmodel/estimate.js';
import { foldsProgress } from './fold-progress.js';
import { readCaseGeometry } from '../dataset/read.js';
import type { DatasetCase } from '../dataset/types.js';
import { predictPreprocessed } from '../inference/sliding-window.js';
import type { LoadedModel } from './predict-stage.js';
import { getConfiguration } from '../planning/plans-io.js';
import { join } from 'node:path';
import { availableMemory, decisionRecord, planForTimeBudget } from '../costmodel/time-budget.js';
import { foldCases } from '../training/splits.js';
import type { Splits } from '../contracts/plans.js';
import { labelSetup } from '../training/configuration.js';
import { DataError } from '../util/errors.js';
import { readJsonIfValid, writeJson } from './json-io.js';
import type { RunLayout } from './layout.js';
import type { Budget } from './presets.js';
import { classLocationsOf, dataConfiguration } from './preprocess-stage.js';
import type { Reporter } from './progress.js';

/** What {@link applyTimeBudget} and {@link estimateRun} need of a run. */
export interface CostStageInput {
  ds: Dataset;
  fingerprint: DatasetFingerprint;
  plans: Plans;
  splits: Splits;
  folds: number[];
  L: RunLayout;
  registry: Registry;
  backend: ComputeBackend | DeviceBackend;
  budget: Budget;
  rep: Reporter;
  planner?: string;
  /** When the run started (`performance.now()`, ms): the time spent before planning is taken off a time budget. */
  startedAt?: number;
  /** Whether the run predicts the test images (`decathlon`: true, the default; `train`: false). */
  predictsTest?: boolean;
}

/**
 * Shapes and spacings of the images to predict from their headers (`readCaseGeometry`, no voxels read), for the
 * estimates; undefined when a reader cannot tell (the estimates then count the training cases' tiles).
 */
export async function imagesToPredict(registry: Registry, cases: readonly DatasetCase[]): Promise<CaseGeometry[] | undefined> {
  const out: CaseGeometry[] = [];
  for (const c of cases) {
    const g = await readCaseGeometry(registry, c);
    if (!g) return undefined;
    out.push(g);
  }
  return out;
}

/**
 * The fingerprint's entries (shape after cropping, spacing) of the validation cases of the folds run, for the
 * validation estimate; undefined when the fingerprint does not list the dataset's cases in order.
 */
export function validationImages(c: Pick<CostStageInput, 'ds' | 'fingerprint' | 'splits' | 'folds'>): CaseGeometry[] | undefined {
  const fp = c.fingerprint;
  if (fp.spacings.length !== c.ds.cases.length) return undefined;
  const index = new Map(c.ds.cases.map((x, i) => [x.id, i]));
  const out: CaseGeometry[] = [];
  for (const f of c.folds) {
    for (const id of foldCases(c.splits, f).val) {
      const i = index.get(id);
      if (i === undefined) return undefined;
      out.push({ shape: fp.shapes_after_crop[i]!, spacing: fp.spacings[i]! });
    }
  }
  return out;
}

/** The test cases a run predicts (none for `train`). */
function testCasesOf(c: CostStageInput): DatasetCase[] {
  return c.predictsTest === false ? [] : c.ds.testCases;
}

/** `<run>/estimates.json`: what was estimated before each stage and what was measured. */
export function estimatesFile(L: RunLayout): string {
  return `${L.root}/estimates.json`;
}

/**
 * With `budget.timeBudgetSeconds`, choose configuration, spacing, patch, batch, mirroring and iterations that fit
 * (see `planForTimeBudget`), write the plans (with a `time_budget` record) and run.json, and return the adjusted
 * plans and budget. A run folder whose plans already hold a `time_budget` record keeps its decisions (resume).
 * Without a time budget, returns its inputs unchanged (nnU-Net's plans and budget).
 * @throws DataError when the budget cannot fit, before any preprocessing or training.
 */
export async function applyTimeBudget(c: CostStageInput): Promise<{ plans: Plans; budget: Budget }> {
  const b = c.budget;
  if (!b.timeBudgetSeconds) return { plans: c.plans, budget: b };
  const existing = c.plans.time_budget as Record<string, unknown> | undefined;
  if (existing && typeof existing.configuration === 'string') {
    if (existing.budget_seconds !== b.timeBudgetSeconds) {
      c.rep.log(`time budget: keeping the decisions made for ${formatDuration(Number(existing.budget_seconds))} in ${c.L.plans} (delete the run folder to plan for ${formatDuration(b.timeBudgetSeconds)})`);
    } else c.rep.log(`time budget: reusing the decisions in ${c.L.plans}`);
    writeJson(c.L.runInfo, { ...(readJsonIfValid<Record<string, unknown>>(c.L.runInfo) ?? {}), time_budget: existing });
    return { plans: c.plans, budget: budgetFrom(b, existing) };
  }
  const val = c.folds.length ? foldCases(c.splits, c.folds[0]!).val.length : 0;
  const d = await planForTimeBudget({
    registry: c.registry, backend: c.backend, fingerprint: c.fingerprint, dataset: c.ds.json, planner: c.planner, budgetSeconds: b.timeBudgetSeconds,
    elapsedSeconds: c.startedAt === undefined ? 0 : (performance.now() - c.startedAt) / 1000,
    configurations: b.configurations === 'all' ? undefined : b.configurations, folds: c.folds.length, iterationsPerEpoch: b.iterationsPerEpoch,
    validationIterations: b.validationIterations, maxIterations: b.maxIterations, minIterations: b.minIterations, mirror: b.mirror, stepSize: b.stepSize,
    augmentation: b.augmentation, validationCases: val, testCases: testCasesOf(c).length, testImages: await imagesToPredict(c.registry, testCasesOf(c)),
    validationImages: validationImages(c), log: (s) => c.rep.log(s),
  });
  checkPreprocessedSpacing(c.L, c.plans, d.plans, d.configuration);
  const record = decisionRecord(d);
  const plans: Plans = { ...d.plans, time_budget: record };
  writeJson(c.L.plans, plans);
  writeJson(c.L.runInfo, { ...(readJsonIfValid<Record<string, unknown>>(c.L.runInfo) ?? {}), time_budget: record });
  return { plans, budget: budgetFrom(b, record) };
}

/**
 * Refuse a time-budget plan (`plans`) whose target spacing for `configuration` differs from that of the data already
 * preprocessed in the run folder `L` with the plans it replaces (`current`; e.g. `preprocess` before
 * `train --time-budget`, or a run folder first run without a budget): training would read cases at the old spacing.
 * @throws DataError naming the data folder and both spacings, with the fix
 */
export function checkPreprocessedSpacing(L: RunLayout, current: Plans, plans: Plans, configuration: string): void {
  const dir = L.configurationData(dataConfiguration(plans, configuration));
  if (!existsSync(dir) || !readdirSync(dir).length || !current.configurations[configuration]) return;
  const was = getConfiguration(current, configuration).spacing ?? [];
  const now = getConfiguration(plans, configuration).spacing ?? [];
  if (was.length === now.length && was.every((v, i) => Math.abs(v - now[i]!) <= 1e-6 * Math.max(1, Math.abs(v)))) return;
  throw new DataError(`the time budget plans ${configuration} at spacing [${now.join(', ')}], but ${dir} holds cases preprocessed at [${was.join(', ')}]`, {
    file: dir,
    hint: 'delete that folder (preprocessing then runs again at the new spacing), or run without --time-budget to keep the plans it was made with',
  });
}

/** Share of the budget kept after the estimated validation and test prediction (find-best, evaluation, writing). */
const RESERVE_SHARE = 0.04;
/** Factor on the estimated validation and test prediction times kept free after training (their estimates run low under load). */
const RESERVE_FACTOR = 1.5;

/**
 * When every fold's training should end (`Date.now()` ms) for a run under a time budget to end within it: the
 * budget counted from the run's start, less 1.5x the estimated validation and test prediction (the `time_budget`
 * record's estimates) and 4% of the budget. Null without a time budget record.
 * @param record the plans' `time_budget` record (`decisionRecord`)
 * @param runStartedAt the run's start (`Date.now()` ms)
 */
export function trainingDeadline(record: Record<string, unknown> | undefined, runStartedAt: number): number | null {
  const budget = Number(record?.budget_seconds);
  if (!record || !Number.isFinite(budget) || budget <= 0) return null;
  return runStartedAt + 1000 * (budget * (1 - RESERVE_SHARE) - RESERVE_FACTOR * estimatedSeconds(record, /^(validation|predict test)\b/));
}

/** Sum of the `time_budget` record's stage estimates whose stage name matches `stage`, seconds. */
function estimatedSeconds(record: Record<string, unknown>, stage: RegExp): number {
  const estimates = Array.isArray(record.estimates) ? (record.estimates as { stage: string; seconds: number }[]) : [];
  return estimates.filter((e) => stage.test(e.stage)).reduce((a, e) => a + (Number(e.seconds) || 0), 0);
}

/**
 * A cluster training task's share of a time budget: seconds of training counted from the task's own start
 * (`nnunet-ts slurm`: the array's tasks train the folds side by side after queue waits of unknown length, so the
 * wall-clock `trainingDeadline` of a run on one machine cannot apply). The budget is planned for the whole run on the
 * machine that planned it, folds one after another; each task gets the training time one fold has in that plan: the
 * budget less the time spent before the stages (`seconds_before_stages`: validation, fingerprint, planning,
 * calibration), the estimated preprocessing, 1.5x the estimated validation and test prediction and 4% of the budget
 * (the reserve `trainingDeadline` keeps), divided by `folds`. 0 when nothing is left (the trainer's `minIterations`
 * floor still applies); null without a time budget record.
 * @param record the plans' `time_budget` record (`decisionRecord`)
 * @param folds folds trained per configuration (one array task each)
 */
export function trainingSecondsPerTask(record: Record<string, unknown> | undefined, folds: number): number | null {
  const budget = Number(record?.budget_seconds);
  if (!record || !Number.isFinite(budget) || budget <= 0) return null;
  const before = Number(record.seconds_before_stages) || 0;
  const left = budget * (1 - RESERVE_SHARE) - RESERVE_FACTOR * estimatedSeconds(record, /^(validation|predict test)\b/) - before - estimatedSeconds(record, /^preprocess\b/);
  return Math.max(0, left) / Math.max(1, folds);
}

function budgetFrom(b: Budget, r: Record<string, unknown>): Budget {
  // records written before validation_iterations_per_epoch existed keep the budget's
  const validationIterations = Number.isInteger(r.validation_iterations_per_epoch) ? Number(r.validation_iterations_per_epoch) : b.validationIterations;
  return { ...b, configurations: [String(r.configuration)], epochs: Number(r.epochs), iterationsPerEpoch: Number(r.iterations_per_epoch), validationIterations, mirror: Boolean(r.mirror) };
}

/**
 * The work of `configuration` a run folder already holds from an earlier (killed or finished) run: each fold's
 * training progress (`foldProgress`: `checkpoint_final`, else the epochs `checkpoint_latest` completed), the folds
 * validated (`validation/summary.json`) and the test cases predicted (a segmentation in `predictions/`).
 */
function workDone(c: CostStageInput, configuration: string): Pick<RunShape, 'progress' | 'validatedFolds' | 'testCasesWritten'> {
  const dir = c.L.modelDir(configuration);
  const progress = foldsProgress(dir, c.folds, c.budget.epochs);
  const validatedFolds = c.folds.filter((f) => existsSync(join(dir, `fold_${f}`, 'validation', 'summary.json'))).length;
  const testCasesWritten = testCasesOf(c).filter((t) => existsSync(join(c.L.predictions, `${t.id}${c.ds.json.file_ending}`))).length;
  return { progress, validatedFolds, testCasesWritten };
}

/**
 * Print the expected time and peak memory of each remaining stage of each configuration (a short calibration at the
 * planned patch, cached per machine and backend) and write them to `<run>/estimates.json`.
 * @throws DataError when the estimated peak memory exceeds what the machine has, before any work, with the fix.
 */
export async function estimateRun(c: CostStageInput, configurations: string[]): Promise<StageEstimate[]> {
  if (c.budget.estimate === false) return [];
  const all: StageEstimate[] = [];
  const { numClasses } = labelSetup(c.ds.json);
  const channels = Object.keys(c.ds.json.channel_names ?? {}).length || 1;
  const memory = availableMemory(c.backend);
  const tests = testCasesOf(c);
  const testImages = await imagesToPredict(c.registry, tests);
  for (const configuration of configurations) {
    const cfg = c.plans.configurations[configuration];
    if (!cfg?.patch_size && !cfg?.inherits_from) continue;
    const cal = await calibrate({ registry: c.registry, backend: c.backend, plans: c.plans, configuration, dataset: c.ds.json, batchSize: c.budget.batchSize, augmentation: c.budget.augmentation });
    const host = await hostCost(c.registry, c.plans, configuration, c.ds.json, representativeCase(c.fingerprint, testImages), c.rep, classLocationsOf(c.ds));
    const resolved = { ...c.plans.configurations[cfg.inherits_from ?? configuration], ...cfg, patch_size: cal.patchSize, batch_size: cal.batchSize };
    const est = estimateStages({
      plans: c.plans, configuration, fingerprint: c.fingerprint, channels, numClasses, folds: c.folds.length, epochs: c.budget.epochs,
      iterationsPerEpoch: c.budget.iterationsPerEpoch, validationIterations: c.budget.validationIterations, batchSize: cal.batchSize, mirror: c.budget.mirror,
      stepSize: c.budget.stepSize, validationCases: c.folds.length ? foldCases(c.splits, c.folds[0]!).val.length : 0, testCases: tests.length, testImages, validationImages: validationImages(c),
      preprocess: !existsSync(c.L.configurationData(dataConfiguration(c.plans, configuration))), host, ...workDone(c, configuration),
    }, resolved, costFrom([cal], resolved, cal.batchSize, channels, numClasses));
    const peak = Math.max(...est.map((e) => e.peakBytes ?? 0));
    if (peak > memory) {
      throw new DataError(`training ${configuration} needs about ${formatBytes(peak)} of memory (patch ${cal.patchSize.join('x')}, batch ${cal.batchSize}), ${formatBytes(memory)} are available`, {
        hint: 'give a --time-budget (it plans a smaller patch for this machine), lower --gpu-memory-gb when planning, set nnUNet_n_proc_DA=0 (the cases held once, not again by each data-loading worker), or free memory',
      });
    }
    // a restarted run: only the work left is estimated (finished folds, epochs done, validations and test cases written)
    for (const e of est) all.push({ ...e, stage: e.stage.startsWith('train') ? e.stage : `${e.stage} ${configuration}` });
  }
  c.rep.log(`estimates on ${c.backend.info.name} (calibrated on this machine):\n${formatEstimates(all)}`);
  const late = overBudget(c, all);
  if (late) c.rep.log(late);
  // stages an earlier (killed or finished) run measured keep their measurement until this run measures them again
  const measured = readJsonIfValid<{ measured?: Record<string, number> }>(estimatesFile(c.L))?.measured ?? {};
  writeJson(estimatesFile(c.L), { estimated: all.map((e) => ({ stage: e.stage, seconds: e.seconds, peak_bytes: e.peakBytes ?? null, detail: e.detail })), measured });
  return all;
}

/**
 * Under a time budget, the warning when the estimates printed total more than what is left of it (the budget less the
 * time since the run started, `c.startedAt`): the time-budget planner picks a plan that fits with these estimates, so
 * this says that a measurement taken again here (the load changed since planning) or a resumed run's fixed costs no
 * longer fit, and that the run is expected to end late (the trainer never trains fewer than the budget's
 * `minIterations`). Null without a time budget or when they fit.
 */
export function overBudget(c: Pick<CostStageInput, 'budget' | 'startedAt'>, estimates: readonly StageEstimate[], now = performance.now()): string | null {
  const budget = c.budget.timeBudgetSeconds;
  if (!budget) return null;
  const left = budget - (c.startedAt === undefined ? 0 : (now - c.startedAt) / 1000);
  const total = estimates.reduce((a, e) => a + e.seconds, 0);
  if (total <= left) return null;
  const floor = c.budget.minIterations ? ` (training never stops before ${c.budget.minIterations} iterations per fold)` : '';
  return `warning: these estimates total ${formatDuration(total)}, more than the ${formatDuration(left)} left of the ${formatDuration(budget)} time budget: ` +
    `expect the run to end about ${formatDuration(total - left)} late${floor}; give a larger --time-budget, train fewer folds (-f 0) or predict fewer test cases`;
}

/**
 * The host work per case of `configuration` measured on this machine ({@link calibrateHost}) on a case like `sample`;
 * null (the estimates then use a constant voxel rate) without a sample or when it cannot be measured (logged).
 */
export async function hostCost(registry: Registry, plans: Plans, configuration: string, dataset: DatasetJson, sample: CaseGeometry | undefined, rep: Reporter, labels?: ClassOrRegion[]): Promise<HostCalibration | null> {
  if (!sample) return null;
  try {
    return await calibrateHost({ registry, plans, configuration, dataset, sample, labels });
  } catch (e) {
    rep.log(`estimate: host work not measured (${(e as Error).message}); a constant voxel rate is used`);
    return null;
  }
}

/**
 * Print the expected time of predicting `cases` with a loaded model: one tile timed on the model's networks (after a
 * warm-up), the tiles of the cases' own shapes (their headers, {@link imagesToPredict}; else of the training cases at
 * the model's spacing from the model folder's `dataset_fingerprint.json`; else one tile per case), mirroring and folds
 * as requested. Returns seconds per case.
 */
export async function estimatePrediction(m: LoadedModel, cases: readonly DatasetCase[], opts: { mirror?: boolean; stepSize?: number }, rep: Reporter, registry: Registry): Promise<number> {
  const pm = m.models;
  const net = pm.networks[0];
  const nCases = cases.length;
  if (!net || !nCases) return 0;
  // cascade networks take the previous stage's one-hot labels as extra channels
  const channels = (Object.keys(m.folder.dataset.channel_names ?? {}).length || 1) + (m.previous ? m.previous.cascade.labels.length : 0);
  const p3 = pm.patchSize.length === 2 ? [1, ...pm.patchSize] : pm.patchSize;
  const shape = [channels, ...p3];
  const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
  const one = { ...pm, networks: [net], mirrorAxes: [] };
  const times: number[] = [];
  for (let r = 0; r < 3; r++) {
    const t0 = performance.now();
    await predictPreprocessed(one, data, shape, { mirror: false });
    times.push((performance.now() - t0) / 1000);
  }
  const tile = Math.min(...times.slice(1));
  const fp = readJsonIfValid<DatasetFingerprint>(join(m.folder.dir, 'dataset_fingerprint.json'));
  const images = await imagesToPredict(registry, cases);
  const cfg = { ...m.folder.plans.configurations[m.folder.configuration], patch_size: pm.patchSize, spacing: getConfiguration(m.folder.plans, m.folder.configuration).spacing };
  const mirror = opts.mirror ?? true;
  const host = m.previous ? null : await hostCost(registry, m.folder.plans, m.folder.configuration, m.folder.dataset, representativeCase(fp ?? noFingerprint, images), rep);
  const perCase = fp?.spacings?.length || images
    ? predictCaseSeconds({ plans: m.folder.plans, configuration: m.folder.configuration, fingerprint: fp ?? noFingerprint, channels, numClasses: pm.numClasses, folds: 1, epochs: 0, iterationsPerEpoch: 0, validationIterations: 0, batchSize: 1, mirror, stepSize: opts.stepSize ?? 0.5, validationCases: 0, testCases: 0, preprocess: false, host }, cfg, tile, pm.networks.length, casesToPredict(fp ?? noFingerprint, images))
    : tile * mirrorFactor(pm.patchSize, mirror, pm.mirrorAxes) * pm.networks.length;
  rep.log(`estimate: predicting ${nCases} case(s) takes about ${formatDuration(perCase)} each, ${formatDuration(perCase * nCases)} in all (${pm.networks.length} fold(s), mirroring ${mirror ? 'on' : 'off'}, ${tile < 0.1 ? `${(tile * 1000).toFixed(1)} ms` : `${tile.toFixed(2)} s`} per tile)`);
  return perCase;
}

/** A fingerprint without cases (a model folder without `dataset_fingerprint.json`): nothing cropped. */
const noFingerprint: DatasetFingerprint = { foreground_intensity_properties_per_channel: {}, median_relative_size_after_cropping: 1, shapes_after_crop: [], spacings: [] };

/** Add a measured stage time to `<run>/estimates.json` (no-op when the file is absent). */
export function recordMeasured(L: RunLayout, stage: string, seconds: number): void {
  const f = readJsonIfValid<{ estimated: { stage: string }[]; measured: Record<string, number> }>(estimatesFile(L));
  // a stage this run found done (resumed) was not estimated: its few seconds of checks are not a measurement
  if (!f || !f.estimated.some((e) => e.stage === stage || (stage === 'predict test' && e.stage.startsWith('predict test')))) return;
  f.measured[stage] = seconds;
  writeJson(estimatesFile(L), f);
}

/**
 * Print, after a run, each stage's estimate next to its measured wall time (`<run>/estimates.json`; stages measured
 * only, e.g. not those a resumed run skipped), and write them into run.json (`estimates_against_measurement`: stage,
 * estimated and measured seconds, measured/estimated). Test prediction is compared with the estimate of the
 * configuration that won.
 */
export function reportEstimates(L: RunLayout, rep: Reporter): void {
  const f = readJsonIfValid<{ estimated: { stage: string; seconds: number }[]; measured: Record<string, number> }>(estimatesFile(L));
  if (!f || !Object.keys(f.measured).length) return;
  const estimateOf = (stage: string) => f.estimated.find((x) => x.stage === stage || (stage === 'predict test' && x.stage.startsWith('predict test')));
  // stages this run estimated (the work it found left), each against its measurement
  const measuredHere = Object.entries(f.measured).filter(([stage]) => estimateOf(stage));
  if (!measuredHere.length) return;
  const rows = measuredHere.map(([stage, measured]) => {
    const e = estimateOf(stage);
    return { stage, estimated_seconds: e ? Math.round(e.seconds * 10) / 10 : null, measured_seconds: Math.round(measured * 10) / 10, ratio: e && e.seconds > 0 ? Math.round((measured / e.seconds) * 100) / 100 : null };
  });
  writeJson(L.runInfo, { ...(readJsonIfValid<Record<string, unknown>>(L.runInfo) ?? {}), estimates_against_measurement: rows });
  const lines = measuredHere.map(([stage, measured]) => {
    const e = estimateOf(stage);
    const ratio = e && e.seconds > 0 ? ` (measured/estimated ${(measured / e.seconds).toFixed(2)})` : '';
    return `  ${stage.padEnd(22)} estimated ${e ? formatDuration(e.seconds).padStart(8) : '       -'}  measured ${formatDuration(measured).padStart(8)}${ratio}`;
  });
  rep.log(`estimates against measurement:\n${lines.join('\n')}`);
}

/**
 * After a run with a time budget: one line when its wall time exceeded the budget (`wallSeconds` > `budgetSeconds`),
 * saying by how much and, from `<run>/estimates.json`, the stage that ran longest past its estimate (a machine slower
 * than calibrated; for training, the floor of `minIterations` iterations per fold outranks the deadline). Null when
 * the run kept its budget.
 */
export function budgetOverrunLine(L: RunLayout, budgetSeconds: number, wallSeconds: number, minIterations?: number): string | null {
  if (!(wallSeconds > budgetSeconds)) return null;
  const head = `time budget exceeded: the run took ${formatDuration(wallSeconds)} of its ${formatDuration(budgetSeconds)}, ${formatDuration(wallSeconds - budgetSeconds)} over`;
  const f = readJsonIfValid<{ estimated: { stage: string; seconds: number }[]; measured: Record<string, number> }>(estimatesFile(L));
  const over = Object.entries(f?.measured ?? {})
    .map(([stage, measured]) => ({ stage, measured, estimated: f!.estimated.find((x) => x.stage === stage || (stage === 'predict test' && x.stage.startsWith('predict test')))?.seconds }))
    .filter((x): x is { stage: string; measured: number; estimated: number } => x.estimated !== undefined && x.measured > x.estimated)
    .sort((a, b) => b.measured - b.estimated - (a.measured - a.estimated))[0];
  if (!over) return head;
  const floor = over.stage.startsWith('train') && minIterations ? ` (a fold stops at its deadline only after the budget's floor of ${minIterations} training iterations, minIterations)` : '';
  return `${head}: ${over.stage} took ${formatDuration(over.measured)} against ${formatDuration(over.estimated)} estimated: this machine ran slower than calibrated${floor}`;
}
