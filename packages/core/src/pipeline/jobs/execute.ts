import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { ComputeBackend } from '../../contracts/backend.js';
import type { DeviceBackend } from '../../contracts/device.js';
import type { JobExecutor, JobOutcome, JobSpec, RunSpec } from '../../contracts/jobs.js';
import type { Plans, Splits } from '../../contracts/plans.js';
import type { Registry } from '../../registry/registry.js';
import { foregroundClasses, ignoreLabelOf } from '../../dataset/dataset-json.js';
import { loadDataset } from '../../dataset/load.js';
import type { Dataset, DatasetCase } from '../../dataset/types.js';
import { evaluateFolder } from '../../evaluation/summary.js';
import { compiledPlansValidators, loadPlans } from '../../planning/load-plans.js';
import { findBestConfiguration, type BestCandidate } from '../../postprocessing/best.js';
import type { PostprocessingPlan } from '../../postprocessing/determine.js';
import { DataError, NnunetError } from '../../util/errors.js';
import { ensembleDir, scoreEnsembles } from '../decathlon.js';
import { predictCasesEnsemble } from '../ensemble-stage.js';
import { readJson, readJsonIfValid, writeJson } from '../json-io.js';
import { runLayout, type RunLayout } from '../layout.js';
import { readModelFolder } from '../model-folder.js';
import { foldsForTestPrediction } from '../undertrained-folds.js';
import { foldSummaryFiles, runDeterminePostprocessing } from '../postprocess-stage.js';
import { loadModel, predictCases, type LoadedModel, type PredictedCases } from '../predict-stage.js';
import { classLocationsOf, dataConfiguration, preprocessedCaseIntact, preprocessMemoryLimit, preprocessOneCase } from '../preprocess-stage.js';
import type { Reporter } from '../progress.js';
import { stage } from '../stages.js';
import { crossValidationSummary, trainConfiguration, validateConfigurationFold, writeModelFiles, type TrainStageInput } from '../train-stage.js';

/**
 * A worker cannot see the run folder (it is not on a file system shared with the submitter). Not a data error: the
 * job may succeed on another worker, so queues retry it.
 */
export class RunFolderNotVisibleError extends NnunetError {
  constructor(out: string, what: string) {
    super(`this worker cannot see the run folder (${what}): submitter and workers must share the run folder at the same path`, {
      file: out,
      hint: 'mount the run folder on this machine at the same path (a shared file system, as on clusters), or start the worker where it is visible',
    });
    this.name = 'RunFolderNotVisibleError';
  }
}

/** What jobs of one run share in a worker process (read once, reused by its jobs). */
interface RunState {
  L: RunLayout;
  ds: Dataset;
  plans: Plans;
  splits: Splits;
}

/** The job's environment: plugins, compute backend (an instance, or a name to select; default: the run's). */
export interface JobEnvironment {
  registry: Registry;
  backend?: ComputeBackend | DeviceBackend | string;
  log?: (s: string) => void;
}


const mtime = (f: string) => (existsSync(f) ? statSync(f).mtimeMs : 0);

/**
 * Refuse a run folder this process cannot see: `<out>/run.json` must exist and name the run's dataset.
 * @throws RunFolderNotVisibleError
 */
export function checkRunFolderVisible(run: RunSpec): void {
  const L = runLayout(run.out);
  if (!existsSync(L.root)) throw new RunFolderNotVisibleError(run.out, 'it does not exist here');
  const info = readJsonIfValid<{ dataset?: string }>(L.runInfo);
  if (!info) throw new RunFolderNotVisibleError(run.out, `no ${L.runInfo}: another folder of the same name?`);
  if (info.dataset !== run.dataset) throw new RunFolderNotVisibleError(run.out, `its run.json names the dataset ${info.dataset}, the job ${run.dataset}`);
  if (!existsSync(run.dataset)) throw new RunFolderNotVisibleError(run.dataset, 'the dataset folder does not exist here');
}

/**
 * An executor of `JobSpec`s (core/src/contracts/jobs.ts) for any runner: every job calls the pipeline's stage
 * functions and skips outputs that exist and are valid, so running a job again (after a crash, a lost worker or a
 * lost queue) redoes only what is missing. The dataset, plans, splits, backend and the loaded prediction model are
 * cached between jobs of the same run.
 */
export function createJobExecutor(env: JobEnvironment): JobExecutor {
  const runs = new Map<string, Promise<RunState>>();
  const backends = new Map<string, Promise<DeviceBackend>>();
  const models = new Map<string, Promise<LoadedModel[]>>();
  const runState = (run: RunSpec): Promise<RunState> => {
    const L = runLayout(run.out);
    const key = JSON.stringify([run.out, run.dataset, mtime(L.plans), mtime(L.splits)]);
    if (!runs.has(key)) runs.set(key, loadRunState(run, L, env.registry));
    return runs.get(key)!;
  };
  const backendFor = (run: RunSpec): Promise<ComputeBackend | DeviceBackend> => {
    if (env.backend && typeof env.backend !== 'string') return Promise.resolve(env.backend);
    const name = env.backend ?? run.backend;
    if (!backends.has(name)) backends.set(name, stage(env.registry, 'selectDevice')(env.registry, name, env.log ?? (() => {})));
    return backends.get(name)!;
  };
  return async (job, run, rep) => {
    checkRunFolderVisible(run);
    const s = await runState(run);
    const ctx: JobContext = { job, run, rep, s, registry: env.registry, backend: () => backendFor(run), models };
    return HANDLERS[job.kind](ctx);
  };
}

/**
 * One-time work of a process that will run jobs (a queue worker's job process), done before it takes its first job
 * so that no job pays it: the plans schema is compiled (every job reads the run's plans). Run-specific state
 * (dataset, plans, splits) is still read by the first job of each run.
 */
export function prepareJobProcess(): void {
  compiledPlansValidators();
}

async function loadRunState(run: RunSpec, L: RunLayout, registry: Registry): Promise<RunState> {
  const ds = await loadDataset(run.dataset);
  return { L, ds, plans: loadPlans(L.plans), splits: await stage(registry, 'readSplits')(L.splits) };
}

interface JobContext {
  job: JobSpec;
  run: RunSpec;
  rep: Reporter;
  s: RunState;
  registry: Registry;
  backend: () => Promise<ComputeBackend | DeviceBackend>;
  models: Map<string, Promise<LoadedModel[]>>;
}

function caseOf(cases: DatasetCase[], id: string | undefined, where: string): DatasetCase {
  const c = cases.find((x) => x.id === id);
  if (!c) throw new DataError(`case '${id}' is not among the dataset's ${where} cases`, { hint: 'the dataset changed since the run was submitted: submit it again' });
  return c;
}

async function preprocessJob({ job, rep, s, registry }: JobContext): Promise<void> {
  const dir = s.L.configurationData(job.configuration!);
  if (await preprocessedCaseIntact(registry, dir, job.caseId!)) return;
  const c = caseOf(s.ds.cases, job.caseId, 'training');
  await preprocessOneCase(c, s.plans, job.configuration!, registry, dir, rep, { labels: classLocationsOf(s.ds), memoryLimitBytes: preprocessMemoryLimit() });
}

async function trainInput(c: JobContext): Promise<TrainStageInput> {
  const { job, run, rep, s } = c;
  const configuration = job.configuration!;
  return {
    ds: s.ds, plans: s.plans, configuration, registry: c.registry, backend: await c.backend(),
    preprocessedDir: s.L.configurationData(dataConfiguration(s.plans, configuration)), modelDir: s.L.modelDir(configuration),
    splits: s.splits, folds: [job.fold!], budget: run.budget, rep,
    ...jobTrainingDeadline(run, job.fold!),
    saveProbabilities: run.budget.ensemble && run.configurations.length > 1, skipValidation: true,
  };
}

/**
 * The time-budget deadline of a training job of `run`: the run's wall-clock `trainingEndsAt`, shared by its folds
 * (one machine or a queue), or on a cluster the job's own `trainingSecondsPerTask` counted from `now` (its start).
 * Empty without a time budget.
 */
export function jobTrainingDeadline(run: RunSpec, fold: number, now = Date.now()): Pick<TrainStageInput, 'trainingEndsAt' | 'runFolds'> {
  if (run.trainingEndsAt) return { trainingEndsAt: run.trainingEndsAt, runFolds: run.folds };
  if (run.trainingSecondsPerTask !== undefined) return { trainingEndsAt: now + 1000 * run.trainingSecondsPerTask, runFolds: [fold] };
  return {};
}

async function trainJob(c: JobContext): Promise<void> {
  const t = await trainInput(c);
  writeModelFiles(t.modelDir, t.plans, t.ds.json, c.s.L.fingerprint);
  await trainConfiguration(t);
}

async function validateJob(c: JobContext): Promise<void> {
  await validateConfigurationFold(await trainInput(c), c.job.fold!);
}

/** Find-best (RULES.md §20) over the run's configurations and pair ensembles, then postprocessing of the winner (RULES.md §19). */
async function findBestJob({ run, rep, s, registry }: JobContext): Promise<void> {
  const classes = foregroundClasses(s.ds.json);
  const singles: BestCandidate[] = run.configurations.map((configuration) => {
    const cv = crossValidationSummary(s.L.modelDir(configuration), run.folds, classes);
    const dice = cv?.foreground_mean.Dice ?? NaN;
    rep.log(`${configuration}: cross-validation foreground Dice ${dice.toFixed(4)} (folds ${run.folds.join(', ')})`);
    return { name: configuration, members: [configuration], foregroundDice: dice };
  });
  const ensembles = run.budget.ensemble && run.configurations.length > 1 ? await scoreEnsembles(s.ds, run.configurations, run.folds, s.L, registry, rep) : [];
  const best = findBestConfiguration(singles, ensembles);
  // under a time budget, folds its deadline stopped barely trained are left out of the test-set prediction
  const { folds, leftOut } = foldsForTestPrediction(best.best.members, (c) => s.L.modelDir(c), run.folds, run.budget.minIterations, (m) => rep.log(m));
  writeJson(s.L.bestModel, { best: best.best, ranking: best.ranking, folds, ...(leftOut.length ? { left_out_folds: leftOut } : {}) });
  rep.log(`best configuration: ${best.best.name} (CV foreground Dice ${best.best.foregroundDice.toFixed(4)})`);
  if (!run.budget.postprocessing) return;
  const isEnsemble = best.best.members.length > 1;
  const dir = isEnsemble ? ensembleDir(s.L, best.best.members) : s.L.modelDir(best.best.name);
  const summaries = isEnsemble ? [join(dir, 'validation', 'summary.json')] : foldSummaryFiles(dir, run.folds);
  await runDeterminePostprocessing(s.ds, dir, summaries, registry, rep);
}

/** The winner of find-best: its member configurations and folds, from `inference_information.json`. */
function bestOf(L: RunLayout): { best: BestCandidate; folds: number[] } {
  if (!existsSync(L.bestModel)) throw new DataError('no best configuration chosen yet', { file: L.bestModel, hint: 'the find-best job runs before prediction: submit the run again' });
  return readJson<{ best: BestCandidate; folds: number[] }>(L.bestModel);
}

async function bestModels(c: JobContext): Promise<LoadedModel[]> {
  const { best, folds } = bestOf(c.s.L);
  const key = JSON.stringify([c.s.L.root, best.members, folds, mtime(c.s.L.bestModel)]);
  if (!c.models.has(key)) {
    c.models.clear();
    const load = async () => {
      const out: LoadedModel[] = [];
      for (const m of best.members) out.push(await loadModel(readModelFolder(c.s.L.modelDir(m), folds), c.registry, await c.backend()));
      return out;
    };
    c.models.set(key, load());
  }
  return c.models.get(key)!;
}

/** Predict one test case into the run's predictions folder (kept when the manifest says it is up to date). */
async function predictJob(c: JobContext): Promise<JobOutcome> {
  const { run, rep, s, registry } = c;
  const testCase = caseOf(s.ds.testCases, c.job.caseId, 'test');
  // the runner says the stage's written and kept totals once (`JobOutcome`), not one line per kept case
  const opts = { stepSize: run.budget.stepSize, mirror: run.budget.mirror, postprocessing: run.budget.postprocessing, existing: 'manifest' as const, estimate: false, logKept: false };
  const models = await bestModels(c);
  let r: PredictedCases;
  if (models.length === 1) r = await predictCases(models[0]!, [testCase], s.L.predictions, registry, rep, opts);
  else {
    const { best } = bestOf(s.L);
    const plan = run.budget.postprocessing ? readJsonIfValid<PostprocessingPlan>(join(ensembleDir(s.L, best.members), 'postprocessing.json')) : undefined;
    r = await predictCasesEnsemble(models, [testCase], s.L.predictions, registry, rep, { ...opts, postprocessingPlan: plan });
  }
  return { outputs: { folder: s.L.predictions, written: r.written.length, kept: r.kept.length } };
}

async function evaluateJob({ rep, s, registry }: JobContext): Promise<void> {
  await evaluateFolder(s.L.predictions, join(s.ds.root, 'labelsTs'), foregroundClasses(s.ds.json), registry, {
    fileEnding: s.ds.json.file_ending,
    ignoreLabel: ignoreLabelOf(s.ds.json),
    outFile: s.L.summary,
    // a labelsTs file without a test image is not predicted: evaluate the test cases, and say which were left out
    allowMissing: true,
    warn: (w) => rep.log(w),
  });
}

const HANDLERS: Record<JobSpec['kind'], (c: JobContext) => Promise<JobOutcome | void>> = {
  preprocess: preprocessJob,
  train: trainJob,
  validate: validateJob,
  'find-best': findBestJob,
  predict: predictJob,
  evaluate: evaluateJob,
};
