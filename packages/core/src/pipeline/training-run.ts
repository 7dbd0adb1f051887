import { existsSync } from 'node:fs';
import type { RunSpec } from '../contracts/jobs.js';
import type { DatasetFingerprint, Plans } from '../contracts/plans.js';
import { foregroundClasses } from '../dataset/dataset-json.js';
import type { EvaluationSummary } from '../evaluation/summary.js';
import { loadPlans } from '../planning/load-plans.js';
import type { Registry } from '../registry/registry.js';
import type { ComputeBackend } from '../contracts/backend.js';
import type { DeviceBackend } from '../contracts/device.js';
import type { Dataset } from '../dataset/types.js';
import { DataError } from '../util/errors.js';
import { applyTimeBudget, estimateRun, trainingDeadline, type CostStageInput } from './budget-stage.js';
import { configurationsToRun, prepareDataset } from './decathlon.js';
import { createJobExecutor } from './jobs/execute.js';
import { trainingJobGraph } from './jobs/graph.js';
import { InProcessRunner } from './jobs/in-process.js';
import { readJson, writeJson } from './json-io.js';
import { runLayout, type RunLayout } from './layout.js';
import type { Budget } from './presets.js';
import type { Reporter } from './progress.js';
import { stage } from './stages.js';
import { crossValidationSummary, ensureSplits, foldsToRun } from './train-stage.js';

/**
 * The plans of a run folder (`<run>/nnUNet_preprocessed/nnUNetPlans.json`) through `loadPlans`.
 * @throws DataError naming the file and the verb that writes it when the run has not been planned; loadPlans' errors.
 */
export function loadRunPlans(file: string): Plans {
  if (!existsSync(file)) {
    throw new DataError('nnUNetPlans.json not found: this run folder has not been planned yet', {
      file,
      hint: 'run `nnunet-ts plan <dataset> -o <run>` (then `preprocess`) first, or `nnunet-ts decathlon <task> -o <run>` for the whole pipeline',
    });
  }
  return loadPlans(file);
}

/** Options of `runTraining`. */
export interface TrainingRunOptions {
  /** MSD task folder or v2 dataset folder. */
  dataset: string;
  /** Run folder, planned (`nnunet-ts plan`). */
  out: string;
  registry: Registry;
  budget: Budget;
  rep: Reporter;
  /** Compute backend name or `auto`. */
  backend?: string;
  /** Planner plugin a time budget plans with (`budget.timeBudgetSeconds`; default `nnUNetPlanner`). */
  planner?: string;
  /** Go on when every training label holds only background (`validateDataset`'s `allowEmptyLabels`). */
  allowEmptyLabels?: boolean;
  /** Where `budget.configurations` came from when the user did not give them (`configurationsToRun`'s `requestedBy`). */
  configurationsFrom?: string;
}

/** One trained configuration: its model folder and cross-validation summary (undefined without validated folds). */
export interface TrainedConfiguration {
  configuration: string;
  modelDir: string;
  crossValidation?: EvaluationSummary;
}

/**
 * Train the requested configurations x folds of a planned run folder (what `nnunet-ts train` does): the dataset is
 * validated (an MSD task converted), splits are made or read, a time budget applied (`budget.timeBudgetSeconds`:
 * configuration, patch, batch and iterations chosen for this machine as the decathlon does, the plans rewritten and
 * training stopped at the deadline that leaves time for the validation), the run's estimates printed, then the
 * training part of the decathlon's job graph (`trainingJobGraph`: preprocessing, training, validation predictions,
 * each cascade after its previous stage) runs in this process with the same job executor as the decathlon. Every job
 * reuses valid outputs, so a killed run resumes.
 * @throws DataError when the run is not planned, a requested configuration is not in the plans, a time budget cannot
 * fit (before any preprocessing or training), or jobs fail.
 */
export async function runTraining(o: TrainingRunOptions): Promise<TrainedConfiguration[]> {
  const startedAt = performance.now();
  const L = runLayout(o.out);
  const registry = o.registry.child();
  const ds = await prepareDataset(o.dataset, L.raw, registry, o.rep, { allowEmptyLabels: o.allowEmptyLabels, run: L });
  writeJson(L.datasetJson, ds.json);
  writeJson(L.runInfo, { task: o.dataset, dataset: ds.root });
  const planned = loadRunPlans(L.plans);
  const backendName = o.backend ?? 'auto';
  const backend = await stage(registry, 'selectDevice')(registry, backendName, (s) => o.rep.log(s));
  const cost = await trainingCostInput(o, L, ds, planned, registry, backend, startedAt);
  const { plans, budget } = await applyTimeBudget(cost);
  const configurations = configurationsToRun(plans, budget.configurations, o.rep, o.configurationsFrom);
  await estimateRun({ ...cost, plans, budget }, configurations);
  const run: RunSpec = { out: L.root, dataset: ds.root, budget, backend: backendName, configurations, folds: cost.folds };
  const endsAt = budget.timeBudgetSeconds ? trainingDeadline(plans.time_budget as Record<string, unknown> | undefined, Date.now() - (performance.now() - startedAt)) : null;
  if (endsAt !== null) run.trainingEndsAt = endsAt;
  await new InProcessRunner(createJobExecutor({ registry, backend }), o.rep).run(trainingJobGraph(run, ds, plans));
  const classes = foregroundClasses(ds.json);
  return configurations.map((configuration) => ({
    configuration,
    modelDir: L.modelDir(configuration),
    crossValidation: crossValidationSummary(L.modelDir(configuration), cost.folds, classes),
  }));
}

/** What the cost stages need of a training run: plans, splits and folds of the run folder, no test prediction. */
async function trainingCostInput(o: TrainingRunOptions, L: RunLayout, ds: Dataset, plans: Plans, registry: Registry, backend: ComputeBackend | DeviceBackend, startedAt: number): Promise<CostStageInput> {
  const splits = await ensureSplits(L.splits, ds.cases.map((c) => c.id), o.budget.nFolds, registry);
  const folds = foldsToRun(o.budget.folds, splits, L.splits);
  const fingerprint = readJson<DatasetFingerprint>(L.fingerprint);
  return { ds, fingerprint, plans, splits, folds, L, registry, backend, budget: o.budget, rep: o.rep, planner: o.planner, startedAt, predictsTest: false };
}
