import { promises as fs } from 'node:fs';
import { dirname } from 'node:path';
import type { ComputeBackend } from '../contracts/backend.js';
import type { DeviceBackend } from '../contracts/device.js';
import type { DatasetJson, Plans, PlansConfiguration } from '../contracts/plans.js';
import type { Registry } from '../registry/registry.js';
import { modelConfiguration } from '../pipeline/model-folder.js';
import { DataError, NnunetError, UsageError } from '../util/errors.js';
import { buildFoldNetwork, type LoadedFold } from '../inference/fold-network.js';
import { mapNetworkWeights, readNnunetCheckpoint, type NnunetCheckpoint } from './nnunet-checkpoint.js';

/** What a loaded nnU-Net v2 fold contributes to prediction (the checkpoint's tensors are dropped once mapped). */
export type NnunetFold = LoadedFold & { checkpoint: Omit<NnunetCheckpoint, 'raw' | 'weights'> };

/**
 * Network input channels as nnU-Net's `determine_num_input_channels`: the dataset's channels, plus one per
 * foreground label for a cascade stage (`previous_stage` set).
 */
export function nnunetInputChannels(dataset: DatasetJson, config: PlansConfiguration): number {
  const channels = Object.keys(dataset.channel_names ?? (dataset as { modality?: object }).modality ?? {}).length;
  if (!config.previous_stage) return channels;
  return channels + foregroundLabelCount(dataset);
}

function foregroundLabelCount(dataset: DatasetJson): number {
  return Object.entries(dataset.labels).filter(([k, v]) => k !== 'background' && k !== 'ignore' && v !== 0).length;
}

/**
 * Segmentation heads as nnU-Net's `LabelManager.num_segmentation_heads`: one per region for region-based datasets
 * (labels given as lists), else one per label including background (`ignore` excluded).
 */
export function nnunetNumHeads(dataset: DatasetJson): number {
  const entries = Object.entries(dataset.labels).filter(([k]) => k !== 'ignore');
  if (entries.some(([, v]) => Array.isArray(v))) return entries.filter(([k]) => k !== 'background').length;
  return entries.length;
}

/**
 * Load one fold of an nnU-Net v2 results folder: parse `checkpointFile` (restricted unpickler), build the network
 * of the checkpoint's configuration (`init_args.configuration`, else `configuration`) from the folder's plans.json
 * as nnU-Net's predictor does (deep supervision off), and map `network_weights` onto it by name.
 * Patch and mirror axes come from the plans and the checkpoint's `inference_allowed_mirroring_axes`.
 * @throws DataError naming the file when it cannot be read; NnunetError when the weights do not fit (listing names)
 *   or the configuration is not in the plans
 */
export async function loadNnunetFold(
  checkpointFile: string,
  plans: Plans,
  dataset: DatasetJson,
  configuration: string,
  registry: Registry,
  backend: ComputeBackend | DeviceBackend,
): Promise<NnunetFold> {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await fs.readFile(checkpointFile));
  } catch (e) {
    throw new DataError(`cannot read the nnU-Net checkpoint: ${(e as Error).message}`, { file: checkpointFile, hint: 'pass -chk with a checkpoint present in every fold', cause: e });
  }
  const ck = readNnunetCheckpoint(bytes, checkpointFile);
  const name = ck.configuration ?? configuration;
  const config = modelConfiguration(dirname(dirname(checkpointFile)), plans, name, `the checkpoint ${checkpointFile}`);
  if (!config.architecture || !config.patch_size) throw new NnunetError(`configuration '${name}' has no architecture or patch_size in plans.json`, { file: checkpointFile, hint: 'use plans written by nnU-Net >= 2.3 (architecture block)' });
  const dims = config.patch_size.length === 2 ? 2 : 3;
  const inputChannels = nnunetInputChannels(dataset, config);
  const numClasses = nnunetNumHeads(dataset);
  const network = buildFoldNetwork({
    registry, backend, configuration: name, config, dims, inputChannels, numClasses, file: checkpointFile, loadWeights: (params) => mapNetworkWeights(params, ck),
  });
  const { raw: _raw, weights: _w, ...summary } = ck;
  void _raw;
  void _w;
  return { network, configuration: name, config, dims, inputChannels, numClasses, patchSize: [...config.patch_size], mirrorAxes: ck.mirrorAxes, checkpoint: summary };
}

/** The checkpoint kinds a fold folder holds (`checkpoint_<kind>`, RULES.md §18). */
export const CHECKPOINT_KINDS = ['final', 'best', 'latest'];

/**
 * Normalise a checkpoint choice: `final`, `best`, `latest`, or a checkpoint file name as nnU-Net's `-chk` takes it
 * (`checkpoint_final.pth`, `checkpoint_best.pth`, any `checkpoint_<name>.pth` or ours `.json`) to its kind.
 * @throws UsageError naming the choice and the accepted ones for anything else (a bare word that is not a kind)
 */
export function checkpointKind(chk: string | undefined): string {
  if (!chk) return 'final';
  const hint = `use --checkpoint ${CHECKPOINT_KINDS.join(', ')}, or a file name such as checkpoint_best.pth (nnU-Net's -chk)`;
  const file = /^checkpoint_([A-Za-z0-9]+)(?:\.pth|\.json)?$/.exec(chk);
  if (file) return file[1]!;
  if (CHECKPOINT_KINDS.includes(chk)) return chk;
  throw new UsageError(`unknown checkpoint '${chk}'`, { hint });
}
