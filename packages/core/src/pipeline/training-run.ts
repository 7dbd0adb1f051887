import { existsSync } from 'node:fs';
import type { RunSpec } from '../contracts/jobs.js';
import type { DatasetFingerprint, Plans } from '../contracts/plans.js';
import { foregroundClasses } from '../dataset/dataset-json.js';
import type { EvaluationSummary } from '../evaluation/summary.js';
import { loadPlans } from '../planning/load-plans.js';
import type { Registry } from '../registry/registry.js';
import { DataError } from '../util/errors.js';
import { estimateRun } from './budget-stage.js';
import { configurationsToRun, prepareDataset } from './decathlon.js';
import { createJobExecutor } from './jobs/execute.js';
import { trainingJobGraph } from './jobs/graph.js';
import { InProcessRunner } from './jobs/in-process.js';
import { readJson, writeJson } from './json-io.js';
import { runLayout } from './layout.js';
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
}

/** One trained configuration: its model folder and cross-validation summary (undefined without validated folds). */
export interface TrainedConfiguration {
  configuration: string;
  modelDir: string;
  crossValidation?: EvaluationSummary;
}

/**
 * Train the requested configurations x folds of a planned run folder (what `nnunet-ts train` does): the dataset is
 * validated (an MSD task converted), splits are made or read, the run's estimates printed, then the training part
 * of the decathlon's job graph (`trainingJobGraph`: preprocessing, training, validation predictions, each cascade
 * after its previous stage) runs in this process with the same job executor as the decathlon. Every job reuses
 * valid outputs, so a killed run resumes.
 * @throws DataError when the run is not planned, a requested configuration is not in the plans, or jobs fail.
 */
export async function runTraining(o: TrainingRunOptions): Promise<TrainedConfiguration[]> {
  const L = runLayout(o.out);
  const registry = o.registry.child();
  const ds = await prepareDataset(o.dataset, L.raw, registry, o.rep);
  writeJson(L.datasetJson, ds.json);
  writeJson(L.runInfo, { task: o.dataset, dataset: ds.root });
  const plans = loadRunPlans(L.plans);
  const backendName = o.backend ?? 'auto';
  const backend = await stage(registry, 'selectDevice')(registry, backendName, (s) => o.rep.log(s));
  const splits = await ensureSplits(L.splits, ds.cases.map((c) => c.id), o.budget.nFolds, registry);
  const folds = foldsToRun(o.budget.folds, splits, L.splits);
  const configurations = configurationsToRun(plans, o.budget.configurations, o.rep);
  const fingerprint = readJson<DatasetFingerprint>(L.fingerprint);
  await estimateRun({ ds, fingerprint, plans, splits, folds, L, registry, backend, budget: o.budget, rep: o.rep }, configurations);
  const run: RunSpec = { out: L.root, dataset: ds.root, budget: o.budget, backend: backendName, configurations, folds };
  await new InProcessRunner(createJobExecutor({ registry, backend }), o.rep).run(trainingJobGraph(run, ds, plans));
  const classes = foregroundClasses(ds.json);
  return configurations.map((configuration) => ({
    configuration,
    modelDir: L.modelDir(configuration),
    crossValidation: crossValidationSummary(L.modelDir(configuration), folds, classes),
  }));
}
