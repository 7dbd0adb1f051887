/**
 * Folds a time budget's deadline stopped before they were trained enough to predict with.
 *
 * Under `--time-budget`, `DeadlineClock` may stop a fold's training early (a machine slower than calibrated; its
 * checkpoints record `time_budget_stop`). A fold stopped after a handful of iterations predicts near noise and drags
 * the fold ensemble of the test-set prediction down with it. Such a fold is left out of the test-set prediction (its
 * cross-validation result is still reported). nnU-Net has no time budget: without one no checkpoint carries
 * `time_budget_stop`, so every trained fold is used as in nnU-Net. An extension of nnunet-ts.
 */
import { join } from 'node:path';
import { undertrained } from '../training/deadline.js';
import { readJsonIfValid } from './json-io.js';
import type { DeadlineStop } from '../training/deadline.js';

/** A fold left out of the test-set prediction. */
export interface LeftOutFold {
  /** Configuration (model folder name) whose fold it is. */
  configuration: string;
  fold: number;
  /** Training iterations it ran before the deadline stopped it, of `plannedIterations`. */
  iterations: number;
  plannedIterations: number;
}

/**
 * The folds of `configurations` (their model folders `modelDir(c)`) whose `checkpoint_final.json` says the deadline
 * stopped them undertrained (`undertrained`: fewer iterations than the budget's floor or half the plan).
 * @param minIterations the budget's `minIterations` (undefined: the planner's floor)
 */
export function undertrainedFolds(configurations: string[], modelDir: (c: string) => string, folds: number[], minIterations?: number): LeftOutFold[] {
  const out: LeftOutFold[] = [];
  for (const configuration of configurations) {
    for (const fold of folds) {
      const meta = readJsonIfValid<{ time_budget_stop?: DeadlineStop }>(join(modelDir(configuration), `fold_${fold}`, 'checkpoint_final.json'));
      const stop = meta?.time_budget_stop;
      if (stop && undertrained(stop, minIterations)) out.push({ configuration, fold, iterations: stop.iterations, plannedIterations: stop.plannedIterations });
    }
  }
  return out;
}

/** One warning line naming the fold and its iterations. */
export function formatLeftOutFold(l: LeftOutFold): string {
  return `warning: ${l.configuration} fold_${l.fold} is left out of the test-set prediction and its fold ensemble: the time budget stopped its training after ${l.iterations} of ${l.plannedIterations} iterations (a larger --time-budget trains it fully)`;
}

/**
 * The folds to predict the test set with: `folds` less those any member configuration left undertrained. When every
 * fold is undertrained, all of them are kept (the budget is spent; a prediction from them is better than none) and a
 * warning says so and how to train them fully.
 */
export function foldsForTestPrediction(members: string[], modelDir: (c: string) => string, folds: number[], minIterations: number | undefined, log: (s: string) => void): { folds: number[]; leftOut: LeftOutFold[] } {
  const leftOut = undertrainedFolds(members, modelDir, folds, minIterations);
  const use = folds.filter((f) => !leftOut.some((l) => l.fold === f));
  if (folds.length && !use.length) {
    log(`warning: every fold was stopped by the time budget before it was trained enough (${leftOut.map((l) => `${l.configuration} fold_${l.fold}: ${l.iterations} of ${l.plannedIterations} iterations`).join('; ')}); the test set is predicted with them anyway and its Dice will be low: run again with a larger --time-budget into a new -o folder`);
    return { folds, leftOut: [] };
  }
  for (const l of leftOut) log(formatLeftOutFold(l));
  return { folds: use, leftOut };
}
