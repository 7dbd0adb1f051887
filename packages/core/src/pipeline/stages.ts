/**
 * The entry points of the other stage folders the pipeline uses (docs/INTERFACES.md), in one table so the
 * pipeline's dependencies on other folders are visible in one place. Each is resolved through the run's registry
 * (tsyringe container, token `nnunet:stage:<name>`), so a provider registered with `registry.provideStage` replaces
 * it for that registry's runs; the table holds the defaults.
 */
import type { Registry } from '../registry/registry.js';
import { stageToken } from '../registry/tokens.js';
import * as compute from '../compute/index.js';
import * as fingerprint from '../fingerprint/index.js';
import * as inference from '../inference/index.js';
import * as preprocessing from '../preprocessing/index.js';
import * as training from '../training/index.js';

/** A preprocessed case as the preprocessing cache stores it (`[c, z, y, x]` data, seg, nnU-Net properties). */
export type StagePreprocessedCase = preprocessing.PreprocessedCase;

/** A loaded model folder (networks of the folds) as the sliding window uses it. */
export type StageTrainedModel = inference.TrainedModel;

/** The cascade's previous-stage transforms (one-hot and augmentations) as the registry provides them. */
export type StageCascadeTransforms = training.CascadeTransforms;

/** The stage functions, imported directly so the compiler checks every call against the real signatures. */
const STAGES = {
  selectBackend: compute.selectBackend,
  selectDevice: compute.selectDevice,
  extractFingerprint: fingerprint.extractFingerprint,
  preprocessCase: preprocessing.preprocessCase,
  exportPrediction: preprocessing.exportPrediction,
  previousStageToGrid: preprocessing.previousStageToGrid,
  resampleLogitsForNextStage: preprocessing.resampleLogitsForNextStage,
  writePreprocessedCase: preprocessing.writePreprocessedCase,
  readPreprocessedCase: preprocessing.readPreprocessedCase,
  listPreprocessedCases: preprocessing.listPreprocessedCases,
  createSplits: training.createSplits,
  readSplits: training.readSplits,
  writeSplits: training.writeSplits,
  trainFold: training.trainFold,
  cascadeTransformsFrom: training.cascadeTransformsFrom,
  appendPreviousStage: training.appendPreviousStage,
  cascadeForegroundLabels: training.cascadeForegroundLabels,
  loadTrainedModel: inference.loadTrainedModel,
  predictPreprocessed: inference.predictPreprocessed,
};
/** The stage functions by name (the defaults; `Registry.provideStage` overrides one per registry). */
export type Stages = typeof STAGES;
/** Names of the replaceable stages. */
export type StageName = keyof Stages;
/** The names of the stages, for listings and checks. */
export const STAGE_NAMES = Object.keys(STAGES) as StageName[];

/**
 * The stage function `name` for a run: the provider registered under `stageToken(name)` in `registry`'s container
 * (or a parent's), else the default. A replacement must keep the default's signature.
 */
export function stage<K extends StageName>(registry: Registry, name: K): Stages[K] {
  const token = stageToken(name);
  return registry.container.isRegistered(token, true) ? (registry.container.resolve(token) as Stages[K]) : STAGES[name];
}

