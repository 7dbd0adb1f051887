import { NnunetError, sigmoidDcBceLevel, type LevelLoss, type Loss, type LossFactory, type LossInput, type LossOptions, type LossOutput, type Tensor } from '@nnunet-ts/core';
import { deepSupervisedLoss } from './deep-supervision.js';

const SMOOTH = 1e-5;

/** Options of `DC_and_BCE_loss`: the contract's options plus the regions (label sets) of region-based training. */
export interface RegionLossOptions extends LossOptions {
  /** Region i = voxels whose label is in `regions[i]` (dataset.json labels given as lists; RULES.md §16). */
  regions?: number[][];
}

/**
 * One level of `DC_and_BCE_loss` (region-based training, RULES.md §16): sigmoid BCE-with-logits plus the negative
 * soft Dice over all region channels (`do_bg` true). Logits `[n, R, z, y, x]`, labels `[n, 1, z, y, x]` turned into
 * region masks. Without an ignore label BCE is the mean over all `n*R*voxels` elements; with one, nnU-Net's masked
 * form `sum(bce * mask) / sum(mask)` over annotated voxels (summed over the R channels, as nnU-Net does) and the
 * Dice sums are masked. Writes `scale * dL/dlogits` into `grad` (skipped when null); `weights` as `dcAndCeLevel`.
 * The arithmetic is core's `sigmoidDcBceLevel` (the host device backends' `dcCeLoss` with regions).
 */
export function dcAndBceLevel(logits: Tensor, target: { data: Int16Array; shape: number[] }, regions: number[][], batchDice: boolean, ignoreLabel: number | undefined, scale: number, grad: Float32Array | null, weights = { ce: 1, dice: 1 }): LevelLoss {
  const [n, R] = logits.shape as [number, number];
  if (R !== regions.length) throw new Error(`DC_and_BCE_loss: ${R} output channels for ${regions.length} regions`);
  const sp = logits.data.length / (n * R);
  if (target.data.length !== n * sp) throw new Error(`DC_and_BCE_loss: target shape [${target.shape}] does not match logits [${logits.shape}]`);
  const o = { batchDice, doBackground: true, smooth: SMOOTH, ignoreLabel, scale, weightCe: weights.ce, weightDice: weights.dice };
  return sigmoidDcBceLevel(logits.data, target.data, n, regions, o, grad);
}

/**
 * nnU-Net's `DC_and_BCE_loss` for region-based training (`weightCe`, `weightDice`, default 1 and 1) with deep
 * supervision, as `dcAndCeLoss`; `parts` reports the weighted `ce` (BCE) and `dice`. Throws `NnunetError` when
 * `regions` is missing.
 */
export function dcAndBceLoss(opts: RegionLossOptions): Loss {
  const regions = opts.regions;
  const weights = { ce: opts.weightCe ?? 1, dice: opts.weightDice ?? 1 };
  if (!regions?.length) throw new NnunetError('DC_and_BCE_loss needs the regions (label lists of dataset.json)', { hint: 'pass { regions } built from the dataset.json labels given as lists' });
  return {
    name: 'DC_and_BCE_loss',
    device: { weights: opts.deepSupervisionWeights ?? [1, ...new Array<number>(15).fill(0)], batchDice: opts.batchDice, doBackground: true, smooth: SMOOTH, ignoreLabel: opts.ignoreLabel, regions, weightCe: weights.ce, weightDice: weights.dice },
    compute(input: LossInput): LossOutput {
      const ignore = input.ignoreLabel ?? opts.ignoreLabel;
      return deepSupervisedLoss('DC_and_BCE_loss', input, opts.deepSupervisionWeights, weights, (o, t, scale, g) => dcAndBceLevel(o, t, regions, opts.batchDice, ignore, scale, g, weights));
    },
  };
}

/** Loss plugin `DC_and_BCE_loss` (create with `{ regions }`). */
export const dcAndBceLossFactory: LossFactory = { name: 'DC_and_BCE_loss', create: (o) => dcAndBceLoss(o as RegionLossOptions) };
