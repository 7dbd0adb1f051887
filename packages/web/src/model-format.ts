import type { DatasetJson, Plans, PostprocessingStep } from '@nnunet-ts/core';

/** `format` field of a web model manifest. */
export const WEB_MODEL_FORMAT = 'nnunet-ts-web-model';

/** Folder of the exported site that holds the model (`<site>/model/manifest.json`, `fold_<k>.params`). */
export const WEB_MODEL_DIR = 'model';

/** One fold's weights: `file` is core's parameter file (`saveParameters`: magic, JSON header, float32 LE values). */
export interface WebModelWeights {
  fold: number | 'all';
  file: string;
  bytes: number;
}

/**
 * `model/manifest.json` of an exported site: everything the page needs to rebuild the trained model of one
 * configuration (nnU-Net's model folder: plans.json, dataset.json, postprocessing, one network per fold).
 * `plans` are the plans as loaded by `loadPlans` (legacy formats converted); shapes `[z, y, x]` (2d: `[y, x]`).
 */
export interface WebModelManifest {
  format: typeof WEB_MODEL_FORMAT;
  version: 1;
  /** Model folder name (`<trainer>__<plans>__<configuration>`). */
  name: string;
  configuration: string;
  dims: 2 | 3;
  /**
   * Channels the network takes: the image channels (`channel_names` of dataset.json, one file each), plus for a
   * cascade stage one one-hot channel per foreground label of the previous stage's segmentation.
   */
  inputChannels: number;
  /** Output channels K (labels or regions, background included). */
  numClasses: number;
  patchSize: number[];
  /** `inference_allowed_mirroring_axes` (patch axes). */
  mirrorAxes: number[];
  plans: Plans;
  dataset: DatasetJson;
  /** nnU-Net's postprocessing steps of the model folder (`postprocessing.json`/`.pkl`), null when none. */
  postprocessing: PostprocessingStep[] | null;
  weights: WebModelWeights[];
  /** Largest image the page accepts, in voxels per channel (the memory bound; see the README). */
  maxVoxels: number;
  /**
   * Cascade stages (`3d_cascade_fullres`): the previous stage (`3d_lowres`), exported beside as a web model of its
   * own in `dir` (relative to this manifest's folder: `previous/manifest.json`, its `fold_<k>.params`). The page
   * segments the image with it first (every fold, no postprocessing), brings that segmentation onto this stage's
   * preprocessed grid and appends it as one-hot channels, one per foreground label (`inputChannels` counts them),
   * as `nnunet-ts predict` does (RULES.md §10). Absent for single-stage models.
   */
  previousStage?: { configuration: string; dir: string };
  exported: { by: string; at: string };
}

/**
 * Default memory bound of the page: 256^3 voxels per channel (16.8 M). Peak host memory for a one-channel image
 * of N voxels at about the model's spacing is roughly `4 N (3 + 2 K)` bytes (float32 input copies during cropping,
 * normalisation and resampling, K-channel logits on the preprocessed grid and again on the original grid), about
 * 470 MiB for K = 3 at the bound: under the 2-4 GiB a browser tab and a wasm32 heap can hold.
 */
export const DEFAULT_MAX_VOXELS = 256 ** 3;
