import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import type { DatasetJson, Plans } from '../contracts/plans.js';
import { DataError } from '../util/errors.js';
import type { PostprocessingPlan } from '../postprocessing/determine.js';
import { loadPlans } from '../planning/load-plans.js';
import { readJson, readJsonIfValid, writeJson } from './json-io.js';
import { readNnunetPostprocessingPkl } from '../interop/postprocessing-pkl.js';
import { checkPostprocessingPlan } from '../postprocessing/check.js';
import { normalizeDatasetJson } from '../dataset/dataset-json.js';

/** A trained model folder (`<trainer>__<plans>__<configuration>/`) as `predict` uses it. */
export interface ModelFolder {
  dir: string;
  configuration: string;
  plans: Plans;
  dataset: DatasetJson;
  /** Folds with a final (or latest) checkpoint. */
  folds: number[];
  postprocessing?: PostprocessingPlan;
}

/** Folds of a model folder that hold a checkpoint (ours, or nnU-Net v2's `checkpoint_final.pth`). */
export function trainedFolds(dir: string): number[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .map((n) => /^fold_(\d+)$/.exec(n))
    .filter((m): m is RegExpExecArray => !!m)
    .map((m) => Number(m[1]))
    .filter((f) => ['checkpoint_final.json', 'checkpoint_latest.json', 'checkpoint_final.pth'].some((c) => existsSync(join(dir, `fold_${f}`, c))))
    .sort((a, b) => a - b);
}

/**
 * Open a model folder: `plans.json`, `dataset.json`, `fold_x/` checkpoints, optional `postprocessing.json` (or
 * nnU-Net v2's `postprocessing.pkl`); the
 * configuration comes from the folder name `<trainer>__<plans>__<configuration>` (or `configuration` in plans.json
 * `"configuration"` is not nnU-Net's; the name is).
 * dataset.json and postprocessing.json are checked (`normalizeDatasetJson`, `checkPostprocessingPlan`).
 * @throws DataError naming the folder when it does not exist or is a file, and the missing or invalid file.
 */
export function readModelFolder(dir: string, folds?: number[]): ModelFolder {
  const hint = 'pass -m <out>/nnUNet_results/<trainer>__<plans>__<configuration> written by `nnunet-ts train` or `decathlon` (or an nnU-Net v2 results folder)';
  if (!existsSync(dir)) throw new DataError('model folder does not exist', { file: dir, hint });
  if (!statSync(dir).isDirectory()) throw new DataError('the model path is a file, not a model folder', { file: dir, hint });
  for (const f of ['plans.json', 'dataset.json']) {
    if (!existsSync(join(dir, f))) {
      throw new DataError(`not a trained model folder: ${f} missing`, {
        file: dir,
        hint,
      });
    }
  }
  const parts = basename(dir).split('__');
  const configuration = parts.length === 3 ? parts[2]! : (readJsonIfValid<{ configuration?: string }>(join(dir, 'model.json'))?.configuration ?? '3d_fullres');
  const have = trainedFolds(dir);
  const use = folds ?? have;
  for (const f of use) {
    if (!have.includes(f)) throw new DataError(`fold ${f} has no checkpoint`, { file: join(dir, `fold_${f}`), hint: `trained folds: ${have.join(', ') || 'none'}` });
  }
  if (!use.length) throw new DataError('model folder has no trained fold', { file: dir, hint: 'train first (nnunet-ts train)' });
  const pp = join(dir, 'postprocessing.json');
  return {
    dir,
    configuration,
    plans: loadPlans(join(dir, 'plans.json')),
    dataset: normalizeDatasetJson(readJson(join(dir, 'dataset.json')), join(dir, 'dataset.json')).json,
    folds: use,
    postprocessing: existsSync(pp) ? checkPostprocessingPlan(readJson(pp), pp) : nnunetPostprocessing(dir),
  };
}

/** nnU-Net v2's `postprocessing.pkl` of a results folder (read with the restricted unpickler), if there is one. */
function nnunetPostprocessing(dir: string): PostprocessingPlan | undefined {
  const f = join(dir, 'postprocessing.pkl');
  return existsSync(f) ? readNnunetPostprocessingPkl(readFileSync(f), f) : undefined;
}

/** `previous_stage.json` of a cascade model folder: which configuration and model folder run first (RULES.md §10). */
export interface PreviousStageInfo {
  previous_stage: string;
  /** The previous stage's model folder, relative to the cascade's model folder (nnU-Net style sibling folders). */
  previous_stage_model: string;
  /** Labels whose one-hot channels the cascade takes as extra inputs. */
  foreground_labels: number[];
}

/** Sibling model folder of `dir` for `configuration` (`<trainer>__<plans>__<configuration>`). */
export function siblingModelDir(dir: string, configuration: string): string {
  const parts = basename(dir).split('__');
  if (parts.length !== 3) return join(dirname(dir), configuration);
  return join(dirname(dir), [parts[0], parts[1], configuration].join('__'));
}

/** Write `previous_stage.json` into a cascade model folder (the previous model's folder stored relative). */
export function writePreviousStageInfo(dir: string, previousStage: string, previousDir: string, labels: number[]): void {
  const info: PreviousStageInfo = { previous_stage: previousStage, previous_stage_model: relative(dir, previousDir) || '.', foreground_labels: labels };
  writeJson(join(dir, 'previous_stage.json'), info);
}

/**
 * The previous stage's model folder of a cascade model folder: `previous_stage.json` (relative path) when present,
 * else the sibling folder of that configuration.
 */
export function previousStageDir(folder: ModelFolder, previousStage: string): string {
  const info = readJsonIfValid<PreviousStageInfo>(join(folder.dir, 'previous_stage.json'));
  return info?.previous_stage_model ? resolve(folder.dir, info.previous_stage_model) : siblingModelDir(folder.dir, previousStage);
}
