import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import type { DatasetJson, Plans, PlansConfiguration } from '../contracts/plans.js';
import { DataError, NnunetError } from '../util/errors.js';
import { getConfiguration } from '../planning/plans-io.js';
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
  /** Folds with a final (or latest) checkpoint: `fold_<k>` numbers, `'all'` for nnU-Net's `fold_all`. */
  folds: (number | 'all')[];
  postprocessing?: PostprocessingPlan;
}

/**
 * The `fold_<k>` and `fold_all` folders of a model folder holding at least one of `files` (checkpoint file names),
 * numeric folds sorted, then `all`; empty when `dir` does not exist. The one fold scanner of our and nnU-Net v2's
 * model folders (`trainedFolds`, `availableFolds`).
 */
export function foldsHolding(dir: string, files: readonly string[]): (number | 'all')[] {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) return [];
  return readdirSync(dir)
    .map((n) => /^fold_(\d+|all)$/.exec(n))
    .filter((m): m is RegExpExecArray => !!m && files.some((c) => existsSync(join(dir, m[0], c))))
    .map((m): number | 'all' => (m[1] === 'all' ? 'all' : Number(m[1])))
    .sort((a, b) => (a === 'all' ? 1 : b === 'all' ? -1 : a - b));
}

const TRAINED_FILES = ['checkpoint_final.json', 'checkpoint_latest.json', 'checkpoint_final.pth'];

/** Numeric folds of a model folder that hold a checkpoint (ours final or latest, or nnU-Net v2's `checkpoint_final.pth`). */
export function trainedFolds(dir: string): number[] {
  return foldsHolding(dir, TRAINED_FILES).filter((f): f is number => f !== 'all');
}

/**
 * True when the model folder's `fold_all/` holds a checkpoint: nnU-Net's fold 'all', one model trained on every case
 * (`nnUNetv2_train <dataset> <configuration> all`), used with `nnUNetv2_predict -f all`.
 */
export function hasFoldAll(dir: string): boolean {
  return foldsHolding(dir, TRAINED_FILES).includes('all');
}

const MODEL_HINT = 'pass -m <out>/nnUNet_results/<trainer>__<plans>__<configuration> written by `nnunet-ts train` or `decathlon` (or an nnU-Net v2 results folder)';

/** Subfolders of `dir` that look like model folders (`a__b__c` holding plans.json), for "did you mean" hints. */
function nestedModelFolders(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string, depth: number) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (!e.isDirectory()) continue;
      const p = join(d, e.name);
      if (e.name.split('__').length === 3 && existsSync(join(p, 'plans.json'))) out.push(p);
      else if (depth > 0) walk(p, depth - 1);
    }
  };
  try {
    walk(dir, 2);
  } catch {
    /* unreadable subfolder: no suggestion */
  }
  return out.sort();
}

/**
 * The checked `plans.json` and `dataset.json` of a model folder (shared by `readModelFolder`, `loadTrainedModel`
 * and `exportNnunetModel`): the folder must exist and hold both files; plans are validated by `loadPlans`, the
 * dataset.json by `normalizeDatasetJson` (labels decide the output classes).
 * @throws DataError naming the missing or invalid FILE, with the fix (and the model folders found below `dir` when
 *   the user passed a results or dataset folder instead of a model folder)
 */
export function readModelFolderFiles(dir: string): { plans: Plans; dataset: DatasetJson } {
  if (!existsSync(dir)) throw new DataError('model folder does not exist', { file: dir, hint: MODEL_HINT });
  if (!statSync(dir).isDirectory()) throw new DataError('the model path is a file, not a model folder', { file: dir, hint: MODEL_HINT });
  for (const f of ['plans.json', 'dataset.json']) {
    if (existsSync(join(dir, f))) continue;
    const nested = nestedModelFolders(dir);
    throw new DataError(`not a trained model folder: ${f} missing`, {
      file: join(dir, f),
      hint: nested.length
        ? `this folder holds model folders: pass one of them with -m: ${nested.slice(0, 6).join(', ')}${nested.length > 6 ? ', ...' : ''}`
        : `a model folder holds plans.json and dataset.json beside fold_<k>/: copy ${f} from the run the model was trained in (<run>/nnUNet_results/<trainer>__<plans>__<configuration>/${f}), or ${MODEL_HINT}`,
    });
  }
  const plans = loadPlans(join(dir, 'plans.json'));
  const file = join(dir, 'dataset.json');
  try {
    const dataset = normalizeDatasetJson(readJson(file), file).json;
    return { plans, dataset };
  } catch (e) {
    if (!(e instanceof DataError)) throw e;
    throw new DataError(e.message, {
      file,
      hint: "a model folder needs the dataset.json it was trained with (channel_names, labels name->value, file_ending; the labels decide the output classes): copy it from the training run's model folder or the dataset's raw folder",
      cause: e,
    });
  }
}

/**
 * The fold folders of `dir` that hold no checkpoint, with what they do hold (for the error when none is trained).
 */
function untrainedFoldNote(dir: string): string {
  const folds = readdirSync(dir).filter((n) => /^fold_(\d+|all)$/.test(n)).sort();
  if (!folds.length) return 'there is no fold_<k>/ folder';
  return folds.map((f) => `${f}/ holds ${listOf(join(dir, f))}`).join('; ');
}

function listOf(dir: string): string {
  let names: string[] = [];
  try {
    names = readdirSync(dir).sort();
  } catch {
    return 'nothing readable';
  }
  return names.length ? names.slice(0, 8).join(', ') + (names.length > 8 ? ', ...' : '') : 'nothing';
}

const CHECKPOINT_FILES = 'checkpoint_final.json + checkpoint_final.bin (nnunet-ts) or checkpoint_final.pth (nnU-Net v2)';

/**
 * Check the requested folds of a model folder: each must be a `fold_<k>/` (or `fold_all/` for `'all'`, nnU-Net's
 * model trained on every case) holding a checkpoint.
 * Without `folds`, every trained numeric fold, as nnU-Net, whose predictor never picks `fold_all` by itself
 * (`nnUNetv2_predict` defaults to folds 0-4; its fold auto-detection leaves `fold_all` out): a folder whose only
 * trained fold is `fold_all` is an error that names `-f all`.
 * @returns the folds to use (`folds`, or every trained numeric fold)
 * @throws DataError naming the fold folder (or the checkpoint file it lacks) with the trained folds and the fix
 */
export function checkModelFolds(dir: string, folds?: (number | 'all')[]): (number | 'all')[] {
  const have: (number | 'all')[] = [...trainedFolds(dir), ...(hasFoldAll(dir) ? (['all'] as const) : [])];
  const trained = `trained folds: ${have.join(', ') || 'none'}`;
  for (const f of folds ?? []) {
    if (have.includes(f)) continue;
    const foldDir = join(dir, `fold_${f}`);
    const pass = have.length ? `pass -f ${have.join(',')} (or leave -f out for every trained fold)` : 'train it';
    const trainIt = f === 'all' ? "train it with nnU-Net (nnUNetv2_train <dataset> <configuration> all; nnunet-ts train -f all trains folds 0-4, not nnU-Net's fold 'all')" : `train fold ${f} (nnunet-ts train <dataset> -o <run> -f ${f})`;
    if (!existsSync(foldDir)) {
      throw new DataError(`fold ${f} is not in the model folder (no fold_${f}/)`, { file: foldDir, hint: `${trained}: ${pass}, or ${trainIt}` });
    }
    throw new DataError(`fold ${f} has no checkpoint: expected ${CHECKPOINT_FILES}; fold_${f}/ holds ${listOf(foldDir)}`, {
      file: join(foldDir, 'checkpoint_final.json'),
      hint: `copy the fold's checkpoint files into ${foldDir}, ${f === 'all' ? trainIt : `train it (nnunet-ts train <dataset> -o <run> -f ${f}; a killed training resumes)`}, or ${have.length ? `pass -f ${have.join(',')} (${trained})` : 'train the other folds too: no fold of this folder is trained'}`,
    });
  }
  const use = folds ?? have.filter((f) => f !== 'all');
  if (!use.length && have.includes('all')) {
    throw new DataError(`the model folder's only trained fold is fold_all (nnU-Net's model trained on every case), which is used only when asked for: pass -f all`, {
      file: join(dir, 'fold_all'),
      hint: `predict with -f all (as nnUNetv2_predict -f all); without -f, as nnU-Net, only fold_<k>/ folders are used`,
    });
  }
  if (!use.length) {
    throw new DataError(`model folder has no trained fold: no fold_<k>/ holds ${CHECKPOINT_FILES} (${untrainedFoldNote(dir)})`, {
      file: dir,
      hint: 'copy the checkpoints of the trained folds into fold_<k>/, or train first (nnunet-ts train <dataset> -o <run>)',
    });
  }
  return use;
}

/**
 * The configuration `name` of a model folder's plans (inheritance resolved), for the folder name or a checkpoint.
 * @param why what asks for the configuration ("the folder name ...", "the checkpoint ..."), for the message
 * @throws DataError naming plans.json, the configurations it holds and the fix, when it has no such configuration
 */
export function modelConfiguration(dir: string, plans: Plans, name: string, why: string): PlansConfiguration {
  try {
    return getConfiguration(plans, name);
  } catch (e) {
    if (!(e instanceof NnunetError)) throw e;
    const avail = Object.keys(plans.configurations ?? {});
    throw new DataError(`${e.message}, which ${why} asks for`, {
      file: join(dir, 'plans.json'),
      hint: `plans.json holds ${avail.join(', ') || 'no configuration'}: use the plans.json this model was trained with (copy it from the training run's model folder); if the folder was renamed, give it back its name <trainer>__<plans>__<configuration>`,
      cause: e,
    });
  }
}

/**
 * Open a model folder: `plans.json`, `dataset.json`, `fold_x/` checkpoints, optional `postprocessing.json` (or
 * nnU-Net v2's `postprocessing.pkl`); the
 * configuration comes from the folder name `<trainer>__<plans>__<configuration>` (or `configuration` in model.json;
 * `"configuration"` is not nnU-Net's; the name is) and must be one of plans.json's configurations.
 * dataset.json and postprocessing.json are checked (`normalizeDatasetJson`, `checkPostprocessingPlan`).
 * @throws DataError naming the folder when it does not exist or is a file, and the missing or invalid file (plans.json
 *   without the configuration, a fold without a checkpoint, dataset.json without labels), each with the fix.
 */
export function readModelFolder(dir: string, folds?: (number | 'all')[]): ModelFolder {
  const { plans, dataset } = readModelFolderFiles(dir);
  const parts = basename(dir).split('__');
  const configuration = parts.length === 3 ? parts[2]! : (readJsonIfValid<{ configuration?: string }>(join(dir, 'model.json'))?.configuration ?? '3d_fullres');
  modelConfiguration(dir, plans, configuration, parts.length === 3 ? `the folder name ${basename(dir)}` : 'the model folder (model.json, default 3d_fullres)');
  const use = checkModelFolds(dir, folds);
  const pp = join(dir, 'postprocessing.json');
  return {
    dir,
    configuration,
    plans,
    dataset,
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
