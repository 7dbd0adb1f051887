/**
 * The entry points of the other stage folders the pipeline uses (docs/INTERFACES.md), in one table so the
 * pipeline's dependencies on other folders are visible in one place.
 */
import * as compute from '../compute/index.js';
import * as fingerprint from '../fingerprint/index.js';
import * as inference from '../inference/index.js';
import * as planning from '../planning/index.js';
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
  extractFingerprint: fingerprint.extractFingerprint,
  getConfiguration: planning.getConfiguration,
  preprocessCase: preprocessing.preprocessCase,
  exportPrediction: preprocessing.exportPrediction,
  previousStageToGrid: preprocessing.previousStageToGrid,
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
type Stages = typeof STAGES;

/** The stage function `name` (see `STAGES`). */
export function stage<K extends keyof Stages>(name: K): Stages[K] {
  return STAGES[name];
}

