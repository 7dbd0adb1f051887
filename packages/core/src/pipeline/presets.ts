import { DEFAULT_TRAINER_SETTINGS, type TrainerSettings } from '../training/trainer-settings.js';

/**
 * Training and inference budgets. A preset is a plain object: edit the numbers here (or pass `--config file.json`
 * with the same keys) to tune it. No preset = nnU-Net's defaults (5 folds, 1000 epochs x 250 iterations).
 */
export interface Budget {
  /** Configurations to train (`all` = every configuration in the plans, cascade included when supported). */
  configurations: string[] | 'all';
  /** Folds to train per configuration (`all` = 0..nFolds-1). */
  folds: number[] | 'all';
  /** Number of cross-validation folds the splits are made for. */
  nFolds: number;
  epochs: number;
  iterationsPerEpoch: number;
  /** Validation iterations per epoch (nnU-Net: 50). */
  validationIterations: number;
  /** Override the plans' batch size (undefined = plans). */
  batchSize?: number;
  /** Augmentation plugin (nnU-Net: `nnUNetDefault`; lighter ones exist for quick runs). */
  augmentation?: string;
  /** Sliding-window step as a fraction of the patch (nnU-Net: 0.5). */
  stepSize: number;
  /** Mirroring test-time augmentation (nnU-Net: on). */
  mirror: boolean;
  /** Determine and apply postprocessing (RULES.md §19). */
  postprocessing: boolean;
  /** Score ensembles of configuration pairs in find-best (RULES.md §20; needs validation probabilities on disk). */
  ensemble: boolean;
  /**
   * Wall-time budget of the whole run, seconds (`--time-budget 30m`). When set, the decathlon plans for this
   * machine: it picks one of `configurations` (in order; default 3d_fullres then 2d), the target spacing, patch and
   * batch (nnU-Net's planner with a smaller memory target / coarser spacing), mirroring and the epochs that fit
   * (`costmodel/time-budget.ts`). Unset: nnU-Net's plans and the budget as given. An extension of nnunet-ts.
   */
  timeBudgetSeconds?: number;
  /** With a time budget: most training iterations per fold (default 1000 x 250). */
  maxIterations?: number;
  /** With a time budget: fewest training iterations per fold worth running (default 50). */
  minIterations?: number;
  /** Print stage estimates before long work (a short calibration, cached per machine; default true). */
  estimate?: boolean;
  /** Optimizer, schedule, loss and sampling of each fold (nnU-Net's defaults: `DEFAULT_TRAINER_SETTINGS`). */
  trainer: TrainerSettings;
}

/** nnU-Net defaults (RULES.md §15, §18). */
export const DEFAULT_BUDGET: Budget = {
  configurations: 'all',
  folds: 'all',
  nFolds: 5,
  epochs: 1000,
  iterationsPerEpoch: 250,
  validationIterations: 50,
  stepSize: 0.5,
  mirror: true,
  postprocessing: true,
  ensemble: true,
  trainer: { ...DEFAULT_TRAINER_SETTINGS },
};

/**
 * Named presets. `quick`: the embedded Hippocampus example on a 2-core CPU in under 30 minutes: 3d_fullres only,
 * fold 0, a few short epochs, mirroring TTA as nnU-Net. Numbers chosen from the measured step time.
 */
export const PRESETS: Record<string, Partial<Omit<Budget, 'trainer'>> & { trainer?: Partial<TrainerSettings> }> = {
  quick: {
    // a time budget: 30 minutes on the machine at hand (costmodel/time-budget.ts). nnU-Net's plan is kept while its
    // 16 x 30 iterations fit, and it trains as many more as fit, up to 27 x 30; when 480 do not fit, the plan adapts
    // (spacing, patch, mirroring), not the training length (a loaded machine once cut 480 to 270 iterations and the
    // Hippocampus test Dice from 0.84 to 0.46).
    timeBudgetSeconds: 30 * 60,
    // 480 iterations sit at the knee of the Hippocampus learning curve: of four trainer seeds measured at 480, one
    // never learned the Posterior class (test Dice 0.69 / 0.36, the others 0.81-0.85); the same seed at 810
    // iterations learned both. 810 iterations take ~21 min on an idle 2-core CPU (cpu-native, 1.5 s per iteration).
    maxIterations: 27 * 30,
    minIterations: 16 * 30,
    configurations: ['3d_fullres', '2d'],
    folds: [0],
    // without a time budget (the preset's keys in a config that removes it): the cap's epochs
    epochs: 27,
    iterationsPerEpoch: 30,
    validationIterations: 2,
    stepSize: 0.5,
    // mirroring TTA costs ~1 min on the 10 test cases and 8 validation cases and gave test Dice 0.837 vs 0.827
    // without it (same model, measured).
    mirror: true,
  },
  /** For tests: the smallest run that still learns a synthetic task. */
  tiny: {
    configurations: ['3d_fullres'],
    folds: [0],
    epochs: 4,
    iterationsPerEpoch: 10,
    validationIterations: 1,
    mirror: false,
  },
};

/** Build a budget: defaults, then the preset, then explicit overrides (undefined values ignored). */
export function resolveBudget(preset?: string, overrides: Partial<Budget> = {}): Budget {
  if (preset && !PRESETS[preset]) throw new Error(`unknown preset '${preset}'; available: ${Object.keys(PRESETS).join(', ')}`);
  const { trainer, ...rest } = preset ? PRESETS[preset]! : {};
  const b: Budget = { ...DEFAULT_BUDGET, ...rest, trainer: { ...DEFAULT_BUDGET.trainer, ...trainer } };
  for (const [k, v] of Object.entries(overrides)) if (v !== undefined) (b as unknown as Record<string, unknown>)[k] = v;
  return b;
}
