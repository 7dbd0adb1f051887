import type { Tensor } from './backend.js';
import type { DcCeLossOptions } from './device.js';

/** Loss inputs: network outputs (logits, deep supervision order) and targets at matching resolutions. */
export interface LossInput {
  /** `[n, nClasses, z, y, x]` logits per deep supervision level (highest resolution first). */
  outputs: Tensor[];
  /** Integer labels `[n, 1, z, y, x]` per level, same spatial shapes as `outputs`. -1 never occurs here. */
  targets: { data: Int16Array; shape: number[] }[];
  /** Value ignored in loss and Dice (nnU-Net ignore label), if any. */
  ignoreLabel?: number;
}

/** Loss output: scalar value and gradients w.r.t. each output (null for levels with weight 0). */
export interface LossOutput {
  loss: number;
  grads: (Tensor | null)[];
  /** Optional named parts for logging, e.g. `{ce, dice}`. */
  parts?: Record<string, number>;
}

/** Loss plugin, e.g. `DC_and_CE_loss` with deep supervision (RULES.md §15-§16). */
export interface Loss {
  name: string;
  compute(input: LossInput): LossOutput;
  /**
   * The same loss as the device contract's fused `dcCeLoss` options, when it is one (nnU-Net's DC_and_CE_loss /
   * DC_and_BCE_loss): the trainer then computes it on the device. Absent: the trainer reads the logits back and
   * calls `compute` (correct, slower).
   */
  readonly device?: Omit<DcCeLossOptions, 'lossScale'>;
}

export interface LossOptions {
  batchDice: boolean;
  /** Deep supervision weights per level (normalised, highest resolution first). */
  deepSupervisionWeights?: number[];
  ignoreLabel?: number;
  /** Weight of the cross-entropy term (nnU-Net `weight_ce`, default 1). */
  weightCe?: number;
  /** Weight of the Dice term (nnU-Net `weight_dice`, default 1). */
  weightDice?: number;
  /**
   * Region-based training (`DC_and_BCE_loss`): output channel r is the region of voxels whose label is in
   * `regions[r]` (dataset.json labels given as lists; nnU-Net `LabelManager.foreground_regions`).
   */
  regions?: number[][];
}

export interface LossFactory {
  name: string;
  create(opts: LossOptions): Loss;
}
