import { existsSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { DatasetJson } from '../contracts/plans.js';
import { foregroundClasses } from '../dataset/dataset-json.js';
import { loadDataset } from '../dataset/load.js';
import { findBestConfiguration, type BestCandidate, type BestConfiguration } from '../postprocessing/best.js';
import type { PostprocessingPlan } from '../postprocessing/determine.js';
import { loadPlans } from '../planning/load-plans.js';
import type { Registry } from '../registry/registry.js';
import { DataError } from '../util/errors.js';
import { ensembleDir, scoreEnsembles } from './decathlon.js';
import { readJson, readJsonIfValid, writeJson } from './json-io.js';
import { PLANS_NAME, runLayout, TRAINER_NAME, type RunLayout } from './layout.js';
import { trainedFolds } from './model-folder.js';
import { foldSummaryFiles, runDeterminePostprocessing } from './postprocess-stage.js';
import type { Reporter } from './progress.js';
import { crossValidationSummary } from './train-stage.js';
import { foldsForTestPrediction } from './undertrained-folds.js';

/**
 * Configurations of a run folder that have a model folder (`<results>/nnUNetTrainer__nnUNetPlans__<configuration>`)
 * with at least one trained fold: the plans' configurations first in the plans' order (cascade and custom ones
 * included), then any other model folder's, sorted.
 */
export function trainedConfigurations(L: RunLayout): string[] {
  const prefix = `${TRAINER_NAME}__${PLANS_NAME}__`;
  const fromPlans = existsSync(L.plans) ? Object.keys(loadPlans(L.plans).configurations) : [];
  const fromFolders = existsSync(L.results)
    ? readdirSync(L.results).filter((n) => n.startsWith(prefix)).map((n) => n.slice(prefix.length)).sort()
    : [];
  return [...new Set([...fromPlans, ...fromFolders])].filter((c) => trainedFolds(L.modelDir(c)).length > 0);
}

/** Options of `runFindBest`. */
export interface FindBestRunOptions {
  out: string;
  /** Dataset with the training labels (default: the one recorded in `<run>/run.json`); without it no postprocessing. */
  dataset?: string;
  registry: Registry;
  rep: Reporter;
  /** Score ensembles of configuration pairs (nnU-Net's default; needs the dataset). */
  ensemble: boolean;
}

/** What `runFindBest` chose. */
export interface FindBestRunResult extends BestConfiguration {
  folds: number[];
  /** Model folder (or ensemble folder) of the winner. */
  dir: string;
  /** Postprocessing determined on the winner; undefined when the training labels were not available. */
  postprocessing?: PostprocessingPlan;
}

/**
 * nnU-Net's find_best_configuration on a trained run folder (docs/RULES.md §20, §19): every trained configuration
 * (`trainedConfigurations`) is scored by its cross-validation foreground Dice, pairs as ensembles when asked and the
 * dataset is available, the best written to `inference_information.json`, then its postprocessing determined.
 * @throws DataError when the folder is missing, not a run folder, or has no configuration with validation results.
 */
export async function runFindBest(o: FindBestRunOptions): Promise<FindBestRunResult> {
  const L = runLayout(o.out);
  if (!existsSync(o.out)) throw new DataError('run folder not found', { file: resolve(o.out), hint: 'pass -o <run> of an earlier `nnunet-ts train` or `decathlon`' });
  if (!existsSync(L.datasetJson) && !existsSync(L.results)) {
    throw new DataError('not a run folder: it has no trained configurations (no nnUNet_results)', { file: resolve(o.out), hint: 'train first: nnunet-ts train <dataset> -o <run> (or decathlon)' });
  }
  const dsFolder = o.dataset ?? readJsonIfValid<{ dataset?: string }>(L.runInfo)?.dataset;
  const ds = dsFolder && existsSync(dsFolder) ? await loadDataset(dsFolder) : undefined;
  const classes = foregroundClasses(ds?.json ?? readJson<DatasetJson>(L.datasetJson));
  const singles: BestCandidate[] = [];
  let folds: number[] = [];
  for (const c of trainedConfigurations(L)) {
    const f = trainedFolds(L.modelDir(c));
    const cv = crossValidationSummary(L.modelDir(c), f, classes);
    if (!cv) continue;
    singles.push({ name: c, members: [c], foregroundDice: cv.foreground_mean.Dice! });
    folds = f;
  }
  if (!singles.length) throw new DataError('no trained configuration with validation results in this run folder', { file: L.results, hint: 'train first: nnunet-ts train <dataset> -o <run> (or decathlon)' });
  const ensembles = ds && o.ensemble && singles.length > 1 ? await scoreEnsembles(ds, singles.map((s) => s.name), folds, L, o.registry, o.rep) : [];
  const best = findBestConfiguration(singles, ensembles);
  // under a time budget, folds its deadline stopped barely trained are left out of the test-set prediction
  const use = foldsForTestPrediction(best.best.members, (c) => L.modelDir(c), folds, undefined, (m) => o.rep.log(m));
  writeJson(L.bestModel, { best: best.best, ranking: best.ranking, folds: use.folds, ...(use.leftOut.length ? { left_out_folds: use.leftOut } : {}) });
  const isEnsemble = best.best.members.length > 1;
  const dir = isEnsemble ? ensembleDir(L, best.best.members) : L.modelDir(best.best.name);
  if (!ds) return { ...best, folds: use.folds, dir };
  const summaries = isEnsemble ? [join(dir, 'validation', 'summary.json')] : foldSummaryFiles(dir, trainedFolds(dir));
  return { ...best, folds: use.folds, dir, postprocessing: await runDeterminePostprocessing(ds, dir, summaries, o.registry, o.rep) };
}
