/**
 * The trainer's settings in one typed object: nnU-Net v2's defaults in one place, every field settable from the
 * API (`TrainFoldOptions.settings`), the run budget (`Budget.trainer`) and `--config` (`"trainer": {...}`), all
 * validated by {@link TRAINER_SETTINGS_SCHEMA}.
 *
 * Sources (nnU-Net v2, nnunetv2/training/nnUNetTrainer/nnUNetTrainer.py, `__init__` and
 * `configure_optimizers`): `initial_lr = 1e-2`, `weight_decay = 3e-5`, `oversample_foreground_percent = 0.33`,
 * SGD with `momentum=0.99, nesterov=True`, `PolyLRScheduler(optimizer, initial_lr, num_epochs)` with exponent 0.9
 * (nnunetv2/training/lr_scheduler/polylr.py), `clip_grad_norm_(params, 12)` in `train_step`,
 * `DC_and_CE_loss(..., weight_ce=1, weight_dice=1)` in `_build_loss`; the EMA of the pseudo Dice
 * `0.9 * old + 0.1 * new` in nnunetv2/training/logging/nnunet_logger.py. Paper: Isensee et al., "nnU-Net: a
 * self-configuring method for deep learning-based biomedical image segmentation", Nature Methods 18 (2021).
 */
import { Ajv, type ValidateFunction } from 'ajv';
import { NnunetError } from '../util/errors.js';

/** Optimizer, schedule, loss weighting and sampling of a fold's training. */
export interface TrainerSettings {
  /** Loss plugin name (nnU-Net: `DC_and_CE_loss`). */
  loss: string;
  /** Weight of the cross-entropy term (nnU-Net `weight_ce` 1). */
  lossWeightCe: number;
  /** Weight of the Dice term (nnU-Net `weight_dice` 1). */
  lossWeightDice: number;
  /** Initial learning rate (nnU-Net `initial_lr` 1e-2). */
  initialLr: number;
  /** SGD momentum (0.99). */
  momentum: number;
  /** Nesterov momentum (true). */
  nesterov: boolean;
  /** L2 weight decay (3e-5). */
  weightDecay: number;
  /** Gradient norm clip (12). */
  gradClipNorm: number;
  /** Poly learning-rate exponent: `lr = initialLr (1 - epoch / epochs)^exponent` (0.9). */
  polyExponent: number;
  /** Fraction of each batch forced to contain foreground (nnU-Net `oversample_foreground_percent` 0.33). */
  oversampleForegroundPercent: number;
  /** Smoothing of the pseudo Dice EMA: `ema = a * previous + (1 - a) * new` (0.9). */
  pseudoDiceEmaAlpha: number;
  /** Seed of weight init, sampling and augmentation (nnunet-ts; nnU-Net does not seed by default). */
  seed: number;
}

/** nnU-Net v2's defaults (see the module comment for the source of each). */
export const DEFAULT_TRAINER_SETTINGS: Readonly<TrainerSettings> = Object.freeze({
  loss: 'DC_and_CE_loss',
  lossWeightCe: 1,
  lossWeightDice: 1,
  initialLr: 1e-2,
  momentum: 0.99,
  nesterov: true,
  weightDecay: 3e-5,
  gradClipNorm: 12,
  polyExponent: 0.9,
  oversampleForegroundPercent: 0.33,
  pseudoDiceEmaAlpha: 0.9,
  seed: 12345,
});

const nonNeg = { type: 'number', minimum: 0 };
/** JSON schema of (partial) trainer settings, as `--config` `"trainer"` and the API take them. */
export const TRAINER_SETTINGS_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: {
    loss: { type: 'string', minLength: 1 },
    lossWeightCe: nonNeg,
    lossWeightDice: nonNeg,
    initialLr: { type: 'number', exclusiveMinimum: 0 },
    momentum: { type: 'number', minimum: 0, exclusiveMaximum: 1 },
    nesterov: { type: 'boolean' },
    weightDecay: nonNeg,
    gradClipNorm: { type: 'number', exclusiveMinimum: 0 },
    polyExponent: nonNeg,
    oversampleForegroundPercent: { type: 'number', minimum: 0, maximum: 1 },
    pseudoDiceEmaAlpha: { type: 'number', minimum: 0, exclusiveMaximum: 1 },
    seed: { type: 'integer', minimum: 0 },
  },
} as const;

let validate: ValidateFunction | undefined;

/**
 * Complete trainer settings: the defaults, then each layer of overrides in order (later wins; undefined skipped).
 * Each layer is checked against {@link TRAINER_SETTINGS_SCHEMA}.
 * @throws NnunetError naming the bad key and value, with the valid keys.
 */
export function resolveTrainerSettings(...layers: (Partial<TrainerSettings> | undefined)[]): TrainerSettings {
  validate ??= new Ajv({ allErrors: true }).compile(TRAINER_SETTINGS_SCHEMA);
  const out: TrainerSettings = { ...DEFAULT_TRAINER_SETTINGS };
  for (const layer of layers) {
    const defined = Object.fromEntries(Object.entries(layer ?? {}).filter(([, v]) => v !== undefined));
    if (!validate(defined)) {
      const e = validate.errors![0]!;
      const key = e.keyword === 'additionalProperties' ? (e.params as { additionalProperty: string }).additionalProperty : e.instancePath.slice(1);
      throw new NnunetError(`trainer setting '${key}' ${e.keyword === 'additionalProperties' ? 'is unknown' : `${e.message} (got ${JSON.stringify(defined[key])})`}`, {
        hint: `trainer settings: ${Object.keys(TRAINER_SETTINGS_SCHEMA.properties).join(', ')}`,
      });
    }
    Object.assign(out, defined);
  }
  return out;
}
