/**
 * Typed entry points of the other stage folders, as documented in docs/INTERFACES.md. The pipeline calls the
 * stages only through these, so a stage that has not landed yet gives one clear error naming its folder.
 */
import * as compute from '../compute/index.js';
import * as fingerprint from '../fingerprint/index.js';
import * as inference from '../inference/index.js';
import * as planning from '../planning/index.js';
import * as preprocessing from '../preprocessing/index.js';
import * as training from '../training/index.js';
import type { ComputeBackend } from '../contracts/backend.js';
import type { DatasetFingerprint, DatasetJson, Plans, PlansConfiguration, Splits } from '../contracts/plans.js';
import type { MedicalImage } from '../image/image.js';
import type { Registry } from '../registry/registry.js';
import { NnunetError } from '../util/errors.js';

/** Properties saved with a preprocessed case (nnU-Net names). */
export interface StageCaseProperties {
  spacing: number[];
  shape_before_cropping: number[];
  bbox_used_for_cropping: number[][];
  shape_after_cropping_and_before_resampling: number[];
  class_locations?: Record<string, number[][]>;
  [k: string]: unknown;
}

/** A preprocessed case (`[c, z, y, x]` data, `[1, z, y, x]`-sized seg or null). */
export interface StagePreprocessedCase {
  data: Float32Array;
  seg: Int16Array | null;
  shape: number[];
  properties: StageCaseProperties;
}

/** What the pipeline needs of the stage folders (signatures from docs/INTERFACES.md). */
export interface StageApi {
  selectBackend(registry: Registry, name?: string, log?: (s: string) => void): Promise<ComputeBackend>;
  extractFingerprint(cases: AsyncIterable<{ id: string; image: MedicalImage; seg: MedicalImage }>, opts?: unknown): Promise<DatasetFingerprint>;
  getConfiguration(plans: Plans, name: string): PlansConfiguration;
  preprocessCase(
    input: { image: Float32Array; shape: number[]; spacing: number[]; seg: Int16Array | null },
    plans: Plans,
    configuration: string,
    registry: Registry,
    opts?: {
      sampleClassLocations?: boolean;
      labels?: number[];
      caseId?: string;
      consumeInput?: boolean;
      memoryLimitBytes?: number;
      onWarning?: (message: string) => void;
    },
  ): StagePreprocessedCase | Promise<StagePreprocessedCase>;
  exportPrediction(
    logits: Float32Array,
    shape: number[],
    properties: StageCaseProperties,
    plans: Plans,
    configuration: string,
    registry: Registry,
    opts?: { returnProbabilities?: boolean },
  ): { seg: Int16Array; probabilities?: Float32Array } | Promise<{ seg: Int16Array; probabilities?: Float32Array }>;
  writePreprocessedCase(dir: string, id: string, c: StagePreprocessedCase): unknown;
  readPreprocessedCase(dir: string, id: string): StagePreprocessedCase | Promise<StagePreprocessedCase>;
  listPreprocessedCases(dir: string): string[] | Promise<string[]>;
  createSplits(caseIds: string[], nFolds?: number, seed?: number): Splits;
  readSplits(path: string): Promise<Splits>;
  writeSplits(path: string, splits: Splits): Promise<void>;
  trainFold(opts: {
    registry: Registry;
    backend: ComputeBackend;
    plans: Plans;
    configuration: string;
    dataset: DatasetJson;
    preprocessedDir: string;
    splits: Splits;
    fold: number;
    outputDir: string;
    epochs: number;
    iterationsPerEpoch: number;
    validationIterations?: number;
    batchSize?: number;
    augmentation?: string;
    resume?: boolean;
    seed?: number;
    log?: (s: string) => void;
    onProgress?: (p: Record<string, unknown>) => void;
  }): Promise<unknown>;
  loadTrainedModel(modelDir: string, folds: number[], registry: Registry, backend: ComputeBackend): unknown;
  predictPreprocessed(
    models: unknown,
    data: Float32Array,
    shape: number[],
    opts?: { stepSize?: number; mirror?: boolean; mirrorAxes?: number[]; onProgress?: (done: number, total: number) => void },
  ): Float32Array | Promise<Float32Array>;
}

const MODULES: [Record<string, unknown>, string][] = [
  [compute, 'core/src/compute'],
  [fingerprint, 'core/src/fingerprint'],
  [planning, 'core/src/planning'],
  [preprocessing, 'core/src/preprocessing'],
  [training, 'core/src/training'],
  [inference, 'core/src/inference'],
];

/** The stage function `name`, looked up in the stage folders. @throws NnunetError when it is not there. */
export function stage<K extends keyof StageApi>(name: K): StageApi[K] {
  for (const [m] of MODULES) {
    const f = m[name];
    if (typeof f === 'function') return f as StageApi[K];
  }
  throw new NnunetError(`pipeline stage function '${name}' is not available in this build`, {
    hint: `expected in one of ${MODULES.map(([, n]) => n).join(', ')} (docs/INTERFACES.md)`,
  });
}

/** Whether a stage function is present (for optional features). */
export function hasStage(name: keyof StageApi): boolean {
  return MODULES.some(([m]) => typeof m[name] === 'function');
}

/** Registration functions exported by other core folders, when present (`registerPlanners`, ...). */
export function optionalRegister(name: string): ((r: Registry, o?: { override?: boolean }) => void) | undefined {
  for (const [m] of MODULES) {
    const f = m[name];
    if (typeof f === 'function') return f as (r: Registry, o?: { override?: boolean }) => void;
  }
  return undefined;
}
