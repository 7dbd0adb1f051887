import { basename, join, resolve } from 'node:path';
import type { JobEvent, JobGraph, JobRunner, RunSpec } from '../contracts/jobs.js';
import type { ComputeBackend } from '../contracts/backend.js';
import type { DeviceBackend } from '../contracts/device.js';
import type { DatasetFingerprint, Plans, Splits } from '../contracts/plans.js';
import type { Registry } from '../registry/registry.js';
import { MAX_DATASET_ID, convertMsd, datasetIdOfFolderName, v2DatasetName } from '../dataset/convert.js';
import { loadDataset } from '../dataset/load.js';
import type { Dataset } from '../dataset/types.js';
import { formatValidationReport, validateDataset } from '../dataset/validate.js';
import type { EvaluationSummary } from '../evaluation/summary.js';
import { configurationPairs, type BestCandidate, type BestConfiguration } from '../postprocessing/best.js';
import { DataError, UsageError } from '../util/errors.js';
import { allPlanners } from '../planning/register.js';
import { checkRunDataset } from './dataset-record.js';
import { planOrReuse, runFingerprint } from './fingerprint-plan.js';
import { readJson, readJsonIfValid, writeJson } from './json-io.js';
import { runLayout, type RunLayout } from './layout.js';
import type { Budget } from './presets.js';
import type { Reporter } from './progress.js';
import { scoreEnsemble } from './ensemble-stage.js';
import { stage } from './stages.js';
import { applyTimeBudget, budgetOverrunLine, estimateRun, recordMeasured, reportEstimates, trainingDeadline } from './budget-stage.js';
import { ensureSplits, foldsToRun } from './train-stage.js';
import { createJobExecutor } from './jobs/execute.js';
import { decathlonJobGraph } from './jobs/graph.js';
import { InProcessRunner, JobsFailedError } from './jobs/in-process.js';
import { writeJobGraph } from './jobs/slurm.js';
import type { LeftOutFold } from './undertrained-folds.js';

/** Options of `runDecathlon`. */
export interface DecathlonOptions {
  /** MSD task folder or v2 dataset folder. */
  task: string;
  out: string;
  registry: Registry;
  budget: Budget;
  rep: Reporter;
  /** Compute backend name or `auto`. */
  backend?: string;
  /** Runs the jobs after planning (default: `InProcessRunner` in this process). */
  runner?: JobRunner;
  /** Per-job events of the runner (queued runs print them). */
  onJobEvent?: (e: JobEvent) => void;
  planner?: string;
  gpuMemoryGb?: number;
  /** Go on when every training label holds only background (`validateDataset`'s `allowEmptyLabels`; CLI `--allow-empty-labels`). */
  allowEmptyLabels?: boolean;
  /** Where `budget.configurations` came from when the user did not give them (`configurationsToRun`'s `requestedBy`). */
  configurationsFrom?: string;
}

/** What a decathlon run produced. */
export interface DecathlonResult {
  best: BestConfiguration;
  /** Test-set evaluation (when labelsTs exists). */
  summary?: EvaluationSummary;
  /** The test-set predictions folder; null when there were no test images (nothing written). */
  predictions: string | null;
  /** Folds the time budget's deadline stopped barely trained, left out of the test-set prediction (empty without a budget). */
  leftOutFolds: LeftOutFold[];
  seconds: number;
}

/**
 * Load and validate a dataset; convert an MSD task into `<out>/nnUNet_raw`. Training labels that all hold only
 * background are refused unless `opts.allowEmptyLabels`. With `opts.run`, the run folder must have been made from
 * this dataset with these files (`checkRunDataset`, checked before validation), and the dataset is recorded there
 * once it passed validation.
 * @throws DataError with every problem; `checkRunDataset`'s errors.
 */
export async function prepareDataset(task: string, rawDir: string, registry: Registry, rep: Reporter, opts: { allowEmptyLabels?: boolean; run?: RunLayout } = {}): Promise<Dataset> {
  let ds = await loadDataset(task);
  rep.log(`dataset: ${ds.root} (${ds.layout}, ${ds.cases.length} training, ${ds.testCases.length} test cases)`);
  const record = opts.run ? await checkRunDataset(ds, opts.run, rep) : undefined;
  const report = await validateDataset(ds, registry, { allowEmptyLabels: opts.allowEmptyLabels });
  if (!report.ok) throw new DataError(`dataset validation failed:\n${formatValidationReport(report)}`, { hint: 'fix the files listed above and run again' });
  for (const n of report.notes) rep.log(`note: ${n}`);
  // nnU-Net's cross-validation needs at least 2 training cases (sklearn KFold); say so before any work
  if (ds.cases.length < 2) {
    throw new DataError(`${ds.cases.length} training case(s): nnU-Net trains with cross-validation, which needs at least 2 labelled training cases`, {
      file: ds.root,
      hint: 'add labelled cases to imagesTr/labelsTr (and numTraining in dataset.json); nnU-Net itself needs 5 for its default 5 folds',
    });
  }
  record?.();
  if (ds.layout === 'msd') {
    // the run folder's own raw copy: a task folder without a TaskXX id keeps its name (convert-msd refuses it instead)
    const id = datasetIdOfFolderName(basename(resolve(task)))?.id;
    const dest = join(rawDir, id !== undefined && id <= MAX_DATASET_ID ? v2DatasetName(task) : basename(resolve(task)));
    ds = await convertMsd(task, dest, registry);
    rep.log(`converted to nnU-Net v2 layout: ${dest}`);
  }
  return ds;
}

/**
 * Configurations to train: the requested ones that the plans hold, each cascade after its previous stage when both
 * are requested (a cascade alone needs the previous stage's trained model folder; `trainConfiguration` checks).
 * `requestedBy` names where the request came from when the user did not give it (e.g. `the preset 'tiny'`): the
 * error then says so and which `-c` would use the plans' configurations.
 * @throws DataError when none of the requested configurations is in the plans (the hint lists those that are).
 */
export function configurationsToRun(plans: Plans, requested: Budget['configurations'], rep: Reporter, requestedBy?: string): string[] {
  const available = Object.keys(plans.configurations);
  const want = requested === 'all' ? available : requested;
  const out: string[] = [];
  for (const c of want) {
    if (!available.includes(c)) rep.log(`configuration '${c}' is not in the plans (available: ${available.join(', ')}); skipped`);
    else if (!out.includes(c)) out.push(c);
  }
  if (!out.length) {
    const use = available.length === 1 ? `the ${available[0]} configuration` : 'those configurations';
    const hint = requestedBy && available.length
      ? `${requestedBy} asks for ${want.join(', ')}, which the plans do not have; add -c ${available.join(',')} to use ${use}`
      : `available: ${available.join(', ')}`;
    throw new DataError(`none of the requested configurations (${want.join(', ')}) is in the plans`, { hint });
  }
  // a previous stage trains before its cascade (nnU-Net: 3d_lowres before 3d_cascade_fullres)
  const ordered: string[] = [];
  const visit = (c: string, depth = 0) => {
    if (ordered.includes(c) || depth > available.length) return;
    const prev = plans.configurations[c]!.previous_stage;
    if (prev && out.includes(prev)) visit(prev, depth + 1);
    ordered.push(c);
  };
  for (const c of out) visit(c);
  return ordered;
}

/** The configurations nnU-Net's planners (every built-in one) can write. */
export const NNUNET_CONFIGURATIONS = ['2d', '3d_fullres', '3d_lowres', '3d_cascade_fullres'];

/**
 * Check the requested planner, folds and configurations before any work (validation, fingerprint and planning take
 * minutes on a real dataset): folds against `<run>/splits_final.json` when it exists, else against 0..nFolds-1;
 * configuration names against those nnU-Net's planners write, when the planner is a built-in one. A planner plugin
 * may write other configurations: their names are checked after planning (said so at once).
 * @throws PluginError for an unknown planner, UsageError naming the bad fold or configuration and the valid values
 */
export function checkRunRequest(o: Pick<DecathlonOptions, 'out' | 'budget' | 'planner' | 'registry' | 'rep'>): void {
  const L = runLayout(o.out);
  const planner = o.registry.get('planner', o.planner ?? 'nnUNetPlanner');
  const splits = readJsonIfValid<Splits>(L.splits);
  if (o.budget.folds !== 'all') {
    if (Array.isArray(splits)) foldsToRun(o.budget.folds, splits, L.splits);
    const n = o.budget.nFolds;
    const bad = o.budget.folds.filter((f) => f >= n);
    if (!Array.isArray(splits) && bad.length) {
      throw new UsageError(`fold ${bad.join(', ')} does not exist: a run with ${n} folds has folds 0-${n - 1}`, { hint: `pass -f with folds in 0-${n - 1}, or 'all'` });
    }
  }
  const unknown = o.budget.configurations === 'all' ? [] : o.budget.configurations.filter((c) => !NNUNET_CONFIGURATIONS.includes(c));
  if (!unknown.length) return;
  const builtIn = allPlanners().some((p) => p.plan === planner.plan);
  const names = `'${unknown.join("', '")}'`;
  if (builtIn) {
    throw new UsageError(`unknown configuration ${names}: the planner ${planner.name} writes ${NNUNET_CONFIGURATIONS.join(', ')}`, {
      hint: `pass -c with some of ${NNUNET_CONFIGURATIONS.join(', ')} (comma-separated), or all`,
    });
  }
  o.rep.log(`note: configuration ${names} is not one of nnU-Net's (${NNUNET_CONFIGURATIONS.join(', ')}); the planner ${planner.name} may write it: checked after planning`);
}

/** A run prepared for its jobs: the dataset (converted), plans, and the job graph of the rest of the pipeline. */
export interface PreparedRun {
  ds: Dataset;
  plans: Plans;
  graph: JobGraph;
}

/**
 * The part of the decathlon every runner does in the submitting process, before any job: validate, convert (MSD),
 * fingerprint, plan, splits (`splits_final.json`), the time budget (`budget.timeBudgetSeconds`, calibrated on
 * `backend`), estimates (in-process runs, `estimate`), and the job graph of the rest (`decathlonJobGraph`). Writes
 * `run.json`, the v2 dataset.json and the job graph (`jobs.json`) into the run folder.
 */
export async function prepareRun(o: DecathlonOptions, backend?: ComputeBackend | DeviceBackend, estimate = false, startedAt = performance.now()): Promise<PreparedRun> {
  const L = runLayout(o.out);
  const { registry, rep } = o;
  let budget = o.budget;
  const ds = await prepareDataset(o.task, L.raw, registry, rep, { allowEmptyLabels: o.allowEmptyLabels, run: L });
  writeJson(L.datasetJson, ds.json);
  writeJson(L.runInfo, { task: o.task, dataset: ds.root });
  const fp: DatasetFingerprint = await runFingerprint(ds, registry, L.fingerprint, rep);
  let plans = planOrReuse(fp, ds.json, registry, L.plans, rep, { planner: o.planner, gpuMemoryGb: o.gpuMemoryGb, datasetName: ds.json.name });
  const splits = await ensureSplits(L.splits, ds.cases.map((c) => c.id), budget.nFolds, registry);
  const folds = foldsToRun(budget.folds, splits, L.splits);
  const cost = backend ? { ds, fingerprint: fp, plans, splits, folds, L, registry, backend, budget, rep, planner: o.planner, startedAt } : undefined;
  if (cost) ({ plans, budget } = await applyTimeBudget(cost));
  const configurations = configurationsToRun(plans, budget.configurations, rep, o.configurationsFrom);
  if (cost && estimate) await estimateRun({ ...cost, plans, budget }, configurations);
  const run: RunSpec = { out: L.root, dataset: ds.root, budget, backend: o.backend ?? 'auto', configurations, folds };
  const endsAt = budget.timeBudgetSeconds ? trainingDeadline(plans.time_budget as Record<string, unknown> | undefined, Date.now() - (performance.now() - startedAt)) : null;
  if (endsAt !== null) run.trainingEndsAt = endsAt;
  const graph = decathlonJobGraph(run, ds, plans);
  writeJobGraph(graph);
  return { ds, plans, graph };
}

/** Stage names of `<run>/estimates.json` ("measured") for a job: as the estimates name them. */
function measuredStage(e: JobEvent): string | undefined {
  const j = e.job;
  if (j.kind === 'run') return undefined;
  if (j.kind === 'preprocess') return `preprocess ${j.configuration}`;
  if (j.kind === 'train') return `train ${j.configuration}`;
  if (j.kind === 'validate') return `validation ${j.configuration}`;
  return j.kind === 'predict' || j.kind === 'evaluate' ? 'predict test' : undefined;
}

/** Wrap a job-event listener to record each stage's wall time (first job started .. last job done) afterwards. */
function stageTimer(L: RunLayout, onEvent?: (e: JobEvent) => void) {
  const spans = new Map<string, [number, number]>();
  return {
    onEvent(e: JobEvent) {
      const k = measuredStage(e);
      const now = performance.now();
      if (k && e.state === 'active' && !spans.has(k)) spans.set(k, [now, now]);
      if (k && e.state === 'completed' && spans.has(k)) spans.get(k)![1] = now;
      onEvent?.(e);
    },
    record: () => spans.forEach(([a, b], k) => recordMeasured(L, k, (b - a) / 1000)),
  };
}

/**
 * The whole nnU-Net pipeline on one task: validate -> convert (MSD) -> fingerprint -> plan -> preprocess ->
 * train (each configuration x fold, with validation predictions) -> find best (RULES.md §20) -> determine
 * postprocessing (RULES.md §19) -> predict the test images -> evaluate against labelsTs when present.
 * The steps after planning are jobs (`decathlonJobGraph`) run by `o.runner`: by default in this process
 * (`InProcessRunner`), or spread over workers by a job-queue plugin. Every job reuses valid outputs of an earlier
 * (killed) run in `out`.
 */
export async function runDecathlon(o: DecathlonOptions): Promise<DecathlonResult> {
  const t0 = Date.now();
  const started = performance.now();
  const L = runLayout(o.out);
  // one child container per run: providers a run registers (stages, services) stay out of the caller's registry
  const registry = o.registry.child();
  checkRunRequest({ ...o, registry });
  // a queue that cannot be reached is refused before the minutes of validation, fingerprint and planning
  await o.runner?.connect?.();
  let runner = o.runner;
  // a queued run selects a backend here only to plan a time budget; its workers select their own
  const needBackend = !runner || !!o.budget.timeBudgetSeconds;
  const backend = needBackend ? await stage(registry, 'selectDevice')(registry, o.backend ?? 'auto', (s) => o.rep.log(s)) : undefined;
  if (!runner) runner = new InProcessRunner(createJobExecutor({ registry, backend }), o.rep);
  const { ds, graph } = await prepareRun({ ...o, registry }, backend, !o.runner, started);
  const timer = stageTimer(L, o.onJobEvent);
  // test cases that could not be predicted fail the run after their evaluation (the other cases are evaluated)
  const failure = await runner.run(graph, (e) => timer.onEvent(e)).then(
    () => undefined,
    (e: unknown) => {
      if (e instanceof JobsFailedError && e.failed.every((f) => f.job.kind === 'predict')) return e;
      throw e;
    },
  );
  timer.record();
  reportEstimates(L, o.rep);
  const overrun = o.budget.timeBudgetSeconds ? budgetOverrunLine(L, o.budget.timeBudgetSeconds, (performance.now() - started) / 1000, o.budget.minIterations) : null;
  if (overrun) o.rep.log(overrun);
  const evaluated = graph.waves.some((w) => w[0]?.kind === 'evaluate');
  const summary = evaluated ? readJsonIfValid<EvaluationSummary>(L.summary) : undefined;
  if (failure) throw testPredictionFailure(failure, ds, summary, L);
  const info = readJson<{ best: BestCandidate; ranking: BestCandidate[]; left_out_folds?: LeftOutFold[] }>(L.bestModel);
  if (!ds.testCases.length) o.rep.log('no test images (imagesTs): nothing to predict');
  const leftOutFolds = info.left_out_folds ?? [];
  return { best: { best: info.best, ranking: info.ranking }, summary, predictions: ds.testCases.length ? L.predictions : null, seconds: (Date.now() - t0) / 1000, leftOutFolds };
}

/**
 * The error of a decathlon whose test predictions partly failed: the failed cases (file, reason, fix) and, when the
 * test set was evaluated, on how many of the test cases and which were left out.
 */
function testPredictionFailure(e: JobsFailedError, ds: Dataset, summary: EvaluationSummary | undefined, L: RunLayout): DataError {
  const missing = e.failed.map((f) => f.job.caseId ?? f.job.id);
  const evaluation = summary
    ? `\nthe test-set evaluation (${L.summary}) covers ${summary.metric_per_case.length} of ${ds.testCases.length} test cases (foreground Dice ${summary.foreground_mean.Dice!.toFixed(4)}); not evaluated, no prediction: ${missing.join(', ')}`
    : '';
  return new DataError(`${e.message}${evaluation}`, { hint: 'fix or replace the test images named above and run the same command again: finished outputs are kept, only the missing test cases are predicted, and the test set is evaluated again' });
}

/** Folder of an ensemble of two configurations: `<results>/ensembles/ensemble__<a>__<b>`. */
export function ensembleDir(L: RunLayout, members: string[]): string {
  return join(L.results, 'ensembles', `ensemble__${members.join('__')}`);
}

/** Score every pair of trained configurations as an ensemble (RULES.md §20). */
export async function scoreEnsembles(ds: Dataset, configs: string[], folds: number[], L: RunLayout, registry: Registry, rep: Reporter): Promise<BestCandidate[]> {
  const out: BestCandidate[] = [];
  for (const [a, b] of configurationPairs(configs)) {
    const s = await scoreEnsemble(ds, [L.modelDir(a), L.modelDir(b)], folds, ensembleDir(L, [a, b]), registry, rep);
    if (!s) continue;
    rep.log(`ensemble(${a}, ${b}): cross-validation foreground Dice ${s.foreground_mean.Dice!.toFixed(4)}`);
    out.push({ name: `ensemble(${a}, ${b})`, members: [a, b], foregroundDice: s.foreground_mean.Dice! });
  }
  return out;
}

/** Per-class Dice lines for printing (`name (value): dice`). */
export function formatDice(summary: EvaluationSummary, ds: { labels: Record<string, number | number[]> }): string {
  const names = new Map(Object.entries(ds.labels).map(([n, v]) => [Array.isArray(v) ? `(${v.join(', ')})` : String(v), n]));
  const lines = Object.entries(summary.mean).map(([k, m]) => {
    const excluded = summary.metric_per_case.filter((c) => Number.isNaN(c.metrics[k]?.Dice)).length;
    const note = excluded ? `  (${excluded} case(s) excluded from the mean: empty reference and empty prediction)` : '';
    return `  ${names.get(k) ?? k} (${k}): Dice ${m.Dice!.toFixed(4)}  IoU ${m.IoU!.toFixed(4)}${note}`;
  });
  lines.push(`  foreground mean: Dice ${summary.foreground_mean.Dice!.toFixed(4)} over ${summary.metric_per_case.length} cases`);
  return lines.join('\n');
}
