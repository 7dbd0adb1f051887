import { promises as fs } from 'node:fs';
import { basename, join } from 'node:path';
import type { ComputeBackend } from '../contracts/backend.js';
import type { DeviceBackend } from '../contracts/device.js';
import type { DatasetJson, Plans, PlansConfiguration } from '../contracts/plans.js';
import { loadParameters } from '../nn/index.js';
import type { Registry } from '../registry/registry.js';
import { loadCheckpoint, type CheckpointMeta } from '../training/checkpoint.js';
import { checkModelFolds, foldsHolding, modelConfiguration, readModelFolderFiles, trainedFolds } from '../pipeline/model-folder.js';
import { DataError, NnunetError } from '../util/errors.js';
import { checkpointKind, loadNnunetFold, type NnunetFold } from '../interop/nnunet-model.js';
import type { PredictorModel } from './sliding-window.js';
import { buildFoldNetwork, type LoadedFold } from './fold-network.js';

/**
 * A trained model folder, nnU-Net style (one configuration per folder):
 * ```
 * <model>/plans.json  dataset.json  [dataset_fingerprint.json]  [postprocessing.json]
 * <model>/fold_<k>/checkpoint_{final,best,latest}.{json,bin}  progress.json  debug.json
 * ```
 * `.json` holds the metadata (configuration, dims, channels, classes, mirror axes, logs), `.bin` the weights and
 * optimizer state (see training/checkpoint.ts).
 */
export interface TrainedModel extends PredictorModel {
  modelDir: string;
  plans: Plans;
  dataset: DatasetJson;
  configuration: string;
  config: PlansConfiguration;
  dims: 2 | 3;
  inputChannels: number;
  folds: (number | 'all')[];
  /** Checkpoint metadata per fold (same order as `networks`); empty for an nnU-Net v2 results folder. */
  checkpoints: CheckpointMeta[];
  /** nnU-Net v2 folds (`fold_<k>/checkpoint_<kind>.pth`) per fold, when the folder is nnU-Net's own. */
  nnunetCheckpoints?: NnunetFold['checkpoint'][];
}

const shortName = (n: string) => n.slice(n.lastIndexOf('.') + 1);

/**
 * The fields a checkpoint and the plans it is used with must agree on (nnU-Net builds the network from the plans
 * and loads the checkpoint's weights into it: nnunetv2/inference/predict_from_raw_data.py
 * `initialize_from_trained_model_folder`): plans name, network class, dimensionality and patch size.
 * @throws DataError naming the checkpoint file, the first differing field and both values.
 */
export function checkCheckpointAgainstPlans(m: CheckpointMeta, plans: Plans, config: PlansConfiguration, file: string): void {
  const pairs: [string, unknown, unknown][] = [
    ['plans_name', m.plans_name, plans.plans_name],
    ['network_class_name', shortName(m.network_class_name), shortName(config.architecture?.network_class_name ?? '')],
    ['dims (patch_size length)', m.dims, config.patch_size?.length],
    ['patch_size', m.patch_size, config.patch_size],
  ];
  for (const [field, ck, pl] of pairs) {
    if (ck === undefined || JSON.stringify(ck) === JSON.stringify(pl)) continue;
    throw new DataError(`checkpoint and plans.json differ in ${field}: checkpoint ${JSON.stringify(ck)}, plans ${JSON.stringify(pl)} (configuration '${m.configuration}')`, {
      file,
      hint: 'use the plans.json the model was trained with (a hand-edited patch or network needs training again)',
    });
  }
}

/**
 * Folds present in a model folder (`fold_<k>` with the given checkpoint: ours `.json`, or nnU-Net's `.pth`), numeric
 * ones sorted, then `all`.
 */
export function availableFolds(modelDir: string, checkpoint = 'final'): Promise<(number | 'all')[]> {
  return Promise.resolve(foldsHolding(modelDir, [`checkpoint_${checkpoint}.json`, `checkpoint_${checkpoint}.pth`]));
}

/** The error for a model folder with no fold holding `checkpoint_<kind>`: names the checkpoints the folds do hold. */
async function noCheckpointError(modelDir: string, kind: string): Promise<DataError> {
  const held: string[] = [];
  for (const e of (await fs.readdir(modelDir).catch(() => [] as string[])).filter((n) => /^fold_(\d+|all)$/.test(n)).sort()) {
    const files = await fs.readdir(join(modelDir, e)).catch(() => [] as string[]);
    for (const f of files.filter((n) => /^checkpoint_[A-Za-z0-9]+\.(json|pth)$/.test(n)).sort()) held.push(`${e}/${f}`);
  }
  const kinds = [...new Set(held.map((h) => /checkpoint_([A-Za-z0-9]+)\./.exec(h)![1]!))];
  return new DataError(`no fold_<k>/checkpoint_${kind}.json (or .pth) in the model folder${held.length ? `; it holds ${held.join(', ')}` : ''}`, {
    file: modelDir,
    hint: kinds.length ? `use --checkpoint ${kinds.join(' or ')}` : 'train at least one fold first (nnunet-ts train)',
  });
}

/**
 * Load a trained model folder for prediction: plans.json, dataset.json and one network per fold from
 * `fold_<k>/checkpoint_<checkpoint>` (default `final`, RULES.md §18), deep supervision off. `folds` empty or undefined
 * means every fold present. Networks come from the registry by the plans' `network_class_name` and the checkpoint's dims.
 * A fold holding nnU-Net v2's `checkpoint_<checkpoint>.pth` (and no `.json` of ours) is read as nnU-Net's predictor
 * does (`interop/nnunet-model.ts`): configuration from `init_args`, mirror axes from the checkpoint.
 * `checkpoint` may be nnU-Net's `-chk` file name (`checkpoint_best.pth`).
 * Throws `DataError` naming the file for missing/corrupt files, `NnunetError` when folds disagree on the configuration
 * or nnU-Net weights do not fit the network.
 */
export async function loadTrainedModel(
  modelDir: string,
  folds: (number | 'all')[] | undefined,
  registry: Registry,
  backend: ComputeBackend | DeviceBackend,
  opts: { checkpoint?: string } = {},
): Promise<TrainedModel> {
  const kind = checkpointKind(opts.checkpoint);
  const { plans, dataset } = readModelFolderFiles(modelDir);
  const use = folds && folds.length ? folds : await availableFolds(modelDir, kind);
  if (!use.length && !trainedFolds(modelDir).length) checkModelFolds(modelDir);
  if (!use.length) throw await noCheckpointError(modelDir, kind);
  const loaded: FoldLoad[] = [];
  for (const f of use) {
    const l = await loadFold(join(modelDir, `fold_${f}`), kind, plans, dataset, registry, backend, basename(modelDir).split('__')[2]);
    const first = loaded[0];
    if (first && (l.configuration !== first.configuration || l.numClasses !== first.numClasses)) {
      throw new NnunetError(`fold ${f} was trained for configuration '${l.configuration}' (${l.numClasses} classes), fold ${use[0]} for '${first.configuration}'`, { file: modelDir });
    }
    loaded.push(l);
  }
  const m0 = loaded[0]!;
  const nn = loaded.map((l) => l.nnunet).filter((x): x is NnunetFold['checkpoint'] => !!x);
  return {
    modelDir, plans, dataset, configuration: m0.configuration, config: m0.config, dims: m0.dims, inputChannels: m0.inputChannels,
    folds: use, checkpoints: loaded.map((l) => l.meta).filter((x): x is CheckpointMeta => !!x), networks: loaded.map((l) => l.network),
    patchSize: m0.patchSize, numClasses: m0.numClasses, mirrorAxes: m0.mirrorAxes, ...(nn.length ? { nnunetCheckpoints: nn } : {}),
  };
}

/** One fold's network and what prediction needs of its checkpoint: ours (`meta`) or nnU-Net's (`nnunet`). */
type FoldLoad = LoadedFold & { meta?: CheckpointMeta; nnunet?: NnunetFold['checkpoint'] };

/**
 * The error for a fold without checkpoint `kind` in either form (nnU-Net's `.pth`, ours `.json` + `.bin`): names the
 * file of the fold's own form (`.pth` when the fold holds nnU-Net checkpoints) and the checkpoints it does hold.
 */
async function missingCheckpoint(foldDir: string, kind: string): Promise<DataError> {
  const files = (await fs.readdir(foldDir).catch(() => [] as string[])).filter((n) => /^checkpoint_[A-Za-z0-9]+\.(pth|json)$/.test(n)).sort();
  const nnunet = files.some((n) => n.endsWith('.pth'));
  const held = files.map((n) => /^checkpoint_([A-Za-z0-9]+)/.exec(n)![1]!);
  return new DataError(`checkpoint '${kind}' not found: no checkpoint_${kind}.${nnunet ? 'pth' : 'json'} in ${basename(foldDir)}`, {
    file: join(foldDir, `checkpoint_${kind}.${nnunet ? 'pth' : 'json'}`),
    hint: files.length ? `this fold holds ${files.join(', ')}: use --checkpoint ${[...new Set(held)].join(' or ')}` : 'train this fold first, or pass -f with the folds that are trained',
  });
}

async function loadFold(foldDir: string, kind: string, plans: Plans, dataset: DatasetJson, registry: Registry, backend: ComputeBackend | DeviceBackend, folderConfiguration?: string): Promise<FoldLoad> {
  const pth = join(foldDir, `checkpoint_${kind}.pth`);
  const exists = (f: string) => fs.access(f).then(() => true, () => false);
  const ours = await exists(join(foldDir, `checkpoint_${kind}.json`));
  if (!ours && !(await exists(pth))) throw await missingCheckpoint(foldDir, kind);
  if (!ours) {
    const n = await loadNnunetFold(pth, plans, dataset, folderConfiguration ?? '3d_fullres', registry, backend);
    return { ...n, nnunet: n.checkpoint };
  }
  const ck = await loadCheckpoint(foldDir, kind);
  const m = ck.meta;
  const file = join(foldDir, `checkpoint_${kind}.json`);
  const config = modelConfiguration(join(foldDir, '..'), plans, m.configuration, `the checkpoint ${file}`);
  checkCheckpointAgainstPlans(m, plans, config, file);
  const network = buildFoldNetwork({
    registry, backend, configuration: m.configuration, config, dims: m.dims, inputChannels: m.input_channels, numClasses: m.num_classes, file,
    loadWeights: (params) => loadParameters(params, ck.parameters),
  });
  return {
    network, configuration: m.configuration, config, dims: m.dims, inputChannels: m.input_channels, numClasses: m.num_classes,
    patchSize: m.patch_size, mirrorAxes: m.inference_allowed_mirroring_axes, meta: m,
  };
}
