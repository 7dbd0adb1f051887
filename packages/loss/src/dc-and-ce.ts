import { softmaxDcCeLevel, type LevelLoss, type Loss, type LossFactory, type LossInput, type LossOptions, type LossOutput, type Tensor } from '@nnunet-ts/core';
import { deepSupervisedLoss } from './deep-supervision.js';

/** Soft Dice smoothing and denominator floor (RULES.md §16: `MemoryEfficientSoftDiceLoss`). */
const SMOOTH = 1e-5;

/**
 * One level of `DC_and_CE_loss`: softmax cross-entropy (mean over annotated voxels) plus the negative soft
 * Dice over foreground classes. Logits `[n, K, z, y, x]`, target `[n, 1, z, y, x]` int labels in [0, K)
 * (or `ignoreLabel`). Returns the level's loss and writes `scale * dL/dlogits` into `grad` (skipped when null).
 * Batch Dice sums intersections and sums over the batch axis before the ratio; otherwise per sample and class,
 * then averaged. With an ignore label both terms are masked; CE is 0 when no voxel is annotated (RULES.md §16).
 * `weights` scale the two terms (nnU-Net `weight_ce`, `weight_dice`, both 1 by default); `ce` and `dice` are returned
 * unweighted. The arithmetic is core's `softmaxDcCeLevel`, the same the host device backends run for the device
 * contract's `dcCeLoss`. Throws `Error` on shape mismatch or a label outside [0, K).
 */
export function dcAndCeLevel(logits: Tensor, target: { data: Int16Array; shape: number[] }, batchDice: boolean, ignoreLabel: number | undefined, scale: number, grad: Float32Array | null, weights = { ce: 1, dice: 1 }): LevelLoss {
  const [n, K] = logits.shape as [number, number];
  const sp = logits.data.length / (n * K);
  if (target.data.length !== n * sp || target.shape[0] !== n) throw new Error(`DC_and_CE_loss: target shape [${target.shape}] does not match logits [${logits.shape}]`);
  const o = { batchDice, doBackground: false, smooth: SMOOTH, ignoreLabel, scale, weightCe: weights.ce, weightDice: weights.dice };
  return softmaxDcCeLevel(logits.data, target.data, n, K, o, grad);
}

/**
 * nnU-Net's `DC_and_CE_loss` (`weightCe`, `weightDice`, default 1 and 1) with deep supervision (RULES.md §15-§16): the loss is
 * `sum_l w_l * (CE_l + Dice_l)` over levels (`deepSupervisionWeights`, highest resolution first; default all
 * weight on level 0), and `grads[l]` is dL/dlogits of level l, null for weight-0 levels.
 * `parts` reports the weighted `ce` and `dice`.
 */
export function dcAndCeLoss(opts: LossOptions): Loss {
  const weights = { ce: opts.weightCe ?? 1, dice: opts.weightDice ?? 1 };
  return {
    name: 'DC_and_CE_loss',
    // the same loss as the device contract's fused dcCeLoss (without deep supervision weights: level 0 only, as compute)
    device: { weights: opts.deepSupervisionWeights ?? [1, ...new Array<number>(15).fill(0)], batchDice: opts.batchDice, doBackground: false, smooth: SMOOTH, ignoreLabel: opts.ignoreLabel, weightCe: weights.ce, weightDice: weights.dice },
    compute(input: LossInput): LossOutput {
      const ignore = input.ignoreLabel ?? opts.ignoreLabel;
      return deepSupervisedLoss('DC_and_CE_loss', input, opts.deepSupervisionWeights, weights, (o, t, scale, g) => dcAndCeLevel(o, t, opts.batchDice, ignore, scale, g, weights));
    },
  };
}

/** Loss plugin `DC_and_CE_loss`. */
export const dcAndCeLossFactory: LossFactory = { name: 'DC_and_CE_loss', create: dcAndCeLoss };
