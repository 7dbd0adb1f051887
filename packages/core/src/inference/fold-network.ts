import type { ComputeBackend } from '../contracts/backend.js';
import type { DeviceBackend } from '../contracts/device.js';
import type { Network, Parameter } from '../contracts/network.js';
import type { PlansConfiguration } from '../contracts/plans.js';
import { resolveDevice } from '../nn/host.js';
import type { Registry } from '../registry/registry.js';
import { NnunetError } from '../util/errors.js';

/**
 * One fold of a model folder loaded for prediction, whichever folder it came from (ours, with
 * `checkpoint_<kind>.json` + `.bin`, or nnU-Net v2's with `checkpoint_<kind>.pth`).
 */
export interface LoadedFold {
  network: Network;
  configuration: string;
  config: PlansConfiguration;
  dims: 2 | 3;
  /** Network input channels (image channels, plus one per foreground label for a cascade stage). */
  inputChannels: number;
  /** Segmentation heads (classes incl. background, or regions). */
  numClasses: number;
  /** Patch size, `[z, y, x]` (2d: `[y, x]`), voxels. */
  patchSize: number[];
  /** Test-time mirroring axes (patch axes). */
  mirrorAxes: number[];
}

/** What `buildFoldNetwork` needs: the fold's configuration and the function that puts its weights in. */
export interface FoldNetworkInput {
  registry: Registry;
  backend: ComputeBackend | DeviceBackend;
  configuration: string;
  config: PlansConfiguration;
  dims: 2 | 3;
  inputChannels: number;
  numClasses: number;
  /** The checkpoint file, named in errors. */
  file: string;
  /** Writes the checkpoint's values into the network's host parameters (ours: `loadParameters`; nnU-Net's: `mapNetworkWeights`). */
  loadWeights(parameters: Parameter[]): void;
}

/**
 * The prediction network of one fold, built as nnU-Net's predictor builds it
 * (nnunetv2/inference/predict_from_raw_data.py `initialize_from_trained_model_folder`): the registry's network
 * plugin for the configuration's `architecture.network_class_name` and `dims`, deep supervision off, the
 * checkpoint's weights loaded, then uploaded to the device. One construction for our and nnU-Net's model folders.
 * @throws NnunetError naming the checkpoint when the configuration has no architecture block; what the registry
 *   (unknown network) and `loadWeights` (weights that do not fit) throw.
 */
export function buildFoldNetwork(o: FoldNetworkInput): Network {
  const arch = o.config.architecture;
  if (!arch) {
    throw new NnunetError(`configuration '${o.configuration}' has no architecture block in plans.json`, { file: o.file, hint: 'use plans written by nnU-Net >= 2.3 or nnunet-ts (architecture block)' });
  }
  const network = o.registry.get('network', arch.network_class_name, o.dims).create({
    architecture: arch, inputChannels: o.inputChannels, numClasses: o.numClasses, deepSupervision: false, device: resolveDevice({ backend: o.backend }),
  });
  o.loadWeights(network.parameters);
  network.pushParameters();
  network.setDeepSupervision(false);
  return network;
}
