/**
 * How far each fold's training got in a run folder, read from its checkpoints: what a restarted run (the same
 * command after a kill) still has to train. The estimates printed before a run count only this work, the training
 * progress bar starts where the fold resumes, and a time budget's deadline splits the time left between the folds in
 * proportion to it.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { FoldProgress } from '../costmodel/estimate.js';
import type { DeadlineStop } from '../training/deadline.js';
import { readJsonIfValid } from './json-io.js';

/**
 * The training progress of fold `fold` in its folder `foldDir` (`<model>/fold_<f>`) for a schedule of `epochs`
 * epochs: `checkpoint_final.json` present -> finished; else `checkpoint_latest.json` -> its `current_epoch` (epochs
 * completed: the trainer resumes at that epoch index) of the schedule, the shorter one its `time_budget_stop`
 * recorded when a deadline cut it (the trainer keeps that on resume); else nothing done. A checkpoint that cannot be
 * read counts as nothing done.
 */
export function foldProgress(foldDir: string, fold: number, epochs: number): FoldProgress {
  if (existsSync(join(foldDir, 'checkpoint_final.json'))) return { fold, finished: true, epochsDone: epochs, epochs };
  const latest = readJsonIfValid<{ current_epoch?: unknown; time_budget_stop?: DeadlineStop }>(join(foldDir, 'checkpoint_latest.json'));
  const done = Number(latest?.current_epoch);
  const stopped = Number(latest?.time_budget_stop?.epochs);
  const schedule = Number.isInteger(stopped) && stopped > 0 ? stopped : epochs;
  return { fold, finished: false, epochsDone: Number.isInteger(done) && done > 0 ? Math.min(done, schedule) : 0, epochs: schedule };
}

/** {@link foldProgress} of each of `folds` in the model folder `modelDir` (`fold_<f>` below it). */
export function foldsProgress(modelDir: string, folds: readonly number[], epochs: number): FoldProgress[] {
  return folds.map((f) => foldProgress(join(modelDir, `fold_${f}`), f, epochs));
}
