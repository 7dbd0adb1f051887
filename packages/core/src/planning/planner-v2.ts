/**
 * nnU-Net v2 planners (RULES.md §4-§11, §21): the default `nnUNetPlanner` (nnU-Net's `ExperimentPlanner`) and the
 * residual-encoder presets. Built from the decision functions in `decisions.ts`, `topology.ts`, `vram.ts`; a variant
 * is a `V2PlannerSettings` object with one or more decisions replaced.
 */
import type { DatasetFingerprint, DatasetJson, Plans, PlansConfiguration } from '../contracts/plans.js';
import type { Planner, PlannerOptions } from '../contracts/planner.js';
import { DataError } from '../util/errors.js';
import {
  channelNamesOf,
  determineBatchDice,
  determineNormalization,
  determineReaderWriter,
  determineTargetSpacing,
  determineTranspose,
  medianResampledShape,
  transposeList,
} from './decisions.js';
import { median, perAxis, prod, roundHalfEven } from './math.js';
import { configurationFor, planLowres } from './lowres.js';
import { determinePatchAndBatch, estimateFromArchitecture } from './patch-and-batch.js';
import { getPoolAndConvProps } from './topology.js';
import type { PlanningContext, V2PlannerSettings } from './v2-types.js';

export type { ConfigurationRequest, PatchAndBatch, PlanningContext, V2PlannerSettings } from './v2-types.js';
export { buildArchitecture, determinePatchAndBatch, estimateFromArchitecture } from './patch-and-batch.js';
export { configurationFor, planLowres } from './lowres.js';

/** nnU-Net v2.8.1 `ExperimentPlanner` defaults (RULES.md §7-§10). */
export const V2_DEFAULTS: V2PlannerSettings = {
  name: 'nnUNetPlanner',
  experimentPlannerUsed: 'ExperimentPlanner',
  plansName: 'nnUNetPlans',
  networkClassName: 'dynamic_network_architectures.architectures.unet.PlainConvUNet',
  residualEncoder: false,
  baseFeatures: 32,
  maxFeatures3d: 320,
  maxFeatures2d: 512,
  blocksPerStageEncoder: new Array<number>(14).fill(2),
  blocksPerStageDecoder: new Array<number>(13).fill(2),
  referenceVal3d: 560_000_000,
  referenceVal2d: 85_000_000,
  referenceValCorrespGb: 8,
  refBatchSize3d: 2,
  refBatchSize2d: 12,
  defaultGpuMemoryTargetGb: 8,
  maxDatasetCovered: 0.05,
  minBatchSize: 2,
  featuremapMinEdgeLength: 4,
  lowresCreationThreshold: 0.25,
  spacingIncreaseFactor: 1.03,
  shrinkRule: 'v2.8',
  dataIdentifier: (plansName, configuration) => `${plansName}_${configuration}`,
  decide: {
    targetSpacing: determineTargetSpacing,
    transpose: determineTranspose,
    normalization: determineNormalization,
    topology: getPoolAndConvProps,
    vramEstimate: estimateFromArchitecture,
    batchDice: determineBatchDice,
    patchAndBatch: (s, req) => determinePatchAndBatch(s, req),
    lowres: (ctx, fullres, newMedianT, numTraining, base) => planLowres(ctx, fullres, newMedianT, numTraining, base),
  },
};

const RESENC_BASE: Partial<V2PlannerSettings> = {
  networkClassName: 'dynamic_network_architectures.architectures.unet.ResidualEncoderUNet',
  residualEncoder: true,
  blocksPerStageEncoder: [1, 3, 4, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6],
  blocksPerStageDecoder: new Array<number>(12).fill(1),
  maxDatasetCovered: 1,
  // ResEnc presets share the default planner's preprocessed 2d / 3d_fullres data (RULES.md §21, resenc_presets.md)
  dataIdentifier: (plansName, configuration) =>
    configuration === '2d' || configuration === '3d_fullres' ? `nnUNetPlans_${configuration}` : `${plansName}_${configuration}`,
};

/** RULES.md §21 `nnUNetPlannerResEncM`: references 680e6 / 135e6 at 8 GB, no 5% cap. */
export const RESENC_M: V2PlannerSettings = {
  ...V2_DEFAULTS,
  ...RESENC_BASE,
  name: 'nnUNetPlannerResEncM',
  experimentPlannerUsed: 'nnUNetPlannerResEncM',
  plansName: 'nnUNetResEncUNetMPlans',
  referenceVal3d: 680_000_000,
  referenceVal2d: 135_000_000,
  referenceValCorrespGb: 8,
  defaultGpuMemoryTargetGb: 8,
};
/** RULES.md §21 `nnUNetPlannerResEncL`: 2.1e9 / 380e6 at 24 GB. */
export const RESENC_L: V2PlannerSettings = {
  ...RESENC_M,
  name: 'nnUNetPlannerResEncL',
  experimentPlannerUsed: 'nnUNetPlannerResEncL',
  plansName: 'nnUNetResEncUNetLPlans',
  referenceVal3d: 2_100_000_000,
  referenceVal2d: 380_000_000,
  referenceValCorrespGb: 24,
  defaultGpuMemoryTargetGb: 24,
};
/** RULES.md §21 `nnUNetPlannerResEncXL`: 3.6e9 / 560e6 at 40 GB. */
export const RESENC_XL: V2PlannerSettings = {
  ...RESENC_M,
  name: 'nnUNetPlannerResEncXL',
  experimentPlannerUsed: 'nnUNetPlannerResEncXL',
  plansName: 'nnUNetResEncUNetXLPlans',
  referenceVal3d: 3_600_000_000,
  referenceVal2d: 560_000_000,
  referenceValCorrespGb: 40,
  defaultGpuMemoryTargetGb: 40,
};

/** Check the fingerprint lists are usable; throws `DataError` naming the problem. */
export function checkFingerprint(fp: DatasetFingerprint): void {
  if (!Array.isArray(fp.spacings) || !Array.isArray(fp.shapes_after_crop) || fp.spacings.length === 0) {
    throw new DataError('dataset_fingerprint.json lacks per-case spacings / shapes_after_crop', {
      file: 'dataset_fingerprint.json',
      hint: 're-run fingerprint extraction',
    });
  }
  const bad = fp.spacings.findIndex(
    (sp, i) => sp.length !== 3 || fp.shapes_after_crop[i]?.length !== 3 || sp.some((v) => !(v > 0) || !Number.isFinite(v)),
  );
  if (bad >= 0) {
    throw new DataError(
      `dataset_fingerprint.json case #${bad}: spacing [${fp.spacings[bad]!.join(', ')}] / shape [${fp.shapes_after_crop[bad]?.join(', ')}] must be 3 positive numbers each`,
      { file: 'dataset_fingerprint.json', hint: 'check that case\'s image header, then re-run fingerprint extraction' },
    );
  }
  if (fp.spacings.length !== fp.shapes_after_crop.length) {
    throw new DataError(
      `dataset_fingerprint.json has ${fp.spacings.length} spacings but ${fp.shapes_after_crop.length} shapes_after_crop`,
      { file: 'dataset_fingerprint.json', hint: 're-run fingerprint extraction' },
    );
  }
}

/**
 * Run a v2-style planner (RULES.md §4-§11): target spacing, transpose, resampled median shape, `3d_fullres` (3D data
 * only), `3d_lowres` + `3d_cascade_fullres` when the fullres patch covers less than 25% of the median image and the
 * lowres image is at least 2x smaller, and `2d`. Output in nnU-Net v2's arch-dict plans schema.
 * @throws DataError for an unusable fingerprint / dataset.json.
 */
export function planV2(s: V2PlannerSettings, fingerprint: DatasetFingerprint, dataset: DatasetJson, opts: PlannerOptions = {}): Plans {
  checkFingerprint(fingerprint);
  const plansName = opts.plansName ?? s.plansName;
  const gpu = opts.gpuMemoryTargetGb ?? s.defaultGpuMemoryTargetGb;
  const numTraining = Number(dataset.numTraining);
  if (!(numTraining > 0)) throw new DataError('dataset.json numTraining must be a positive number', { file: 'dataset.json' });
  const ctx: PlanningContext = {
    settings: s,
    fingerprint,
    dataset,
    plansName,
    numInputChannels: channelNamesOf(dataset).length,
    numClasses: Object.keys(dataset.labels ?? {}).length,
    gpu,
    normalization: s.decide.normalization(dataset, fingerprint),
  };
  const { spacings, shapes_after_crop: shapes } = fingerprint;
  // nnU-Net's determine_fullres_target_spacing returns the overwrite when given, so the transpose, the resampled
  // median shape, 3d_lowres and 2d all follow it (RULES.md §4 "overwrite_target_spacing")
  const fullresSpacing = opts.overwriteTargetSpacing ? [...opts.overwriteTargetSpacing] : s.decide.targetSpacing(spacings, shapes);
  const { forward, backward } = s.decide.transpose(fullresSpacing, opts.suppressTranspose, shapes);
  const fullresSpacingT = transposeList(fullresSpacing, forward);
  const newMedianT = transposeList(medianResampledShape(spacings, shapes, fullresSpacing), forward);
  const approxVoxels = prod(newMedianT) * numTraining;
  const base = { numInputChannels: ctx.numInputChannels, numClasses: ctx.numClasses, gpuMemoryTargetGb: gpu };

  let fullres: PlansConfiguration | undefined;
  let lowres: PlansConfiguration | undefined;
  if (newMedianT[0] !== 1) {
    fullres = configurationFor(ctx, '3d_fullres', {
      ...base,
      spacing: fullresSpacingT,
      medianShape: newMedianT,
      approxVoxelsDataset: approxVoxels,
    });
    lowres = s.decide.lowres(ctx, fullres, newMedianT, numTraining, base);
    fullres.batch_dice = s.decide.batchDice('3d_fullres', lowres !== undefined);
    if (lowres) lowres.batch_dice = s.decide.batchDice('3d_lowres', true);
  }
  const twoD = configurationFor(ctx, '2d', {
    ...base,
    spacing: fullresSpacingT.slice(1),
    medianShape: newMedianT.slice(1),
    approxVoxelsDataset: approxVoxels,
  });
  twoD.batch_dice = s.decide.batchDice('2d', lowres !== undefined);

  const configurations: Record<string, PlansConfiguration> = { '2d': twoD };
  if (lowres) configurations['3d_lowres'] = { ...lowres, ...(fullres ? { next_stage: '3d_cascade_fullres' } : {}) };
  if (fullres) configurations['3d_fullres'] = fullres;
  if (fullres && lowres) configurations['3d_cascade_fullres'] = { inherits_from: '3d_fullres', previous_stage: '3d_lowres' };

  return {
    dataset_name: opts.datasetName ?? (typeof dataset.name === 'string' ? dataset.name : 'Dataset'),
    plans_name: plansName,
    original_median_spacing_after_transp: transposeList(perAxis(spacings, median), forward),
    original_median_shape_after_transp: transposeList(perAxis(shapes, median), forward).map(roundHalfEven),
    image_reader_writer: determineReaderWriter(dataset),
    transpose_forward: forward,
    transpose_backward: backward,
    configurations,
    experiment_planner_used: s.experimentPlannerUsed,
    label_manager: 'LabelManager',
    foreground_intensity_properties_per_channel: fingerprint.foreground_intensity_properties_per_channel,
  };
}

/** Make a `Planner` plugin from settings. */
export function makeV2Planner(settings: V2PlannerSettings): Planner & { settings: V2PlannerSettings } {
  return {
    name: settings.name,
    settings,
    plan: (fingerprint, dataset, opts) => planV2(settings, fingerprint, dataset, opts),
  };
}

/** nnU-Net v2 default planner (`ExperimentPlanner`, RULES.md §4-§11). */
export const nnUNetPlanner = makeV2Planner(V2_DEFAULTS);
/** ResEnc presets (RULES.md §21). */
export const nnUNetPlannerResEncM = makeV2Planner(RESENC_M);
export const nnUNetPlannerResEncL = makeV2Planner(RESENC_L);
export const nnUNetPlannerResEncXL = makeV2Planner(RESENC_XL);

/**
 * `nnUNetPlannerLegacy`: the default planner with the shrink loop of nnU-Net v2 releases before v2.8
 * (`while estimate > reference`, RULES.md §9 note): identical 3D plans, larger 2D patches get shrunk more. Reproduces
 * plans files written in the legacy (pre-2024) format.
 */
export const nnUNetPlannerLegacy = makeV2Planner({ ...V2_DEFAULTS, name: 'nnUNetPlannerLegacy', shrinkRule: 'legacy' });
