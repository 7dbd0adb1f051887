/**
 * nnU-Net v1 planners in this project's plans schema: `nnUNetPlannerV1` (v1 `ExperimentPlanner3D_v21` +
 * `ExperimentPlanner2D_v21`, the "nnUNetPlansv2.1" most v1 models were trained with), `nnUNetPlannerV1Original`
 * (the 2019 v1 `ExperimentPlanner`, base 30 features, pool-late topology) and `nnUNetPlanner2018` (the rules stated
 * in the 2018 paper). Output is nnU-Net v2's arch-dict plans format, so the rest of the pipeline is unchanged.
 */
import type { DatasetFingerprint, DatasetJson, Plans, PlansConfiguration } from '../contracts/plans.js';
import type { Planner, PlannerOptions } from '../contracts/planner.js';
import { DataError } from '../util/errors.js';
import {
  channelNamesOf,
  determineBatchDice,
  determineReaderWriter,
  determineResampling,
  determineTranspose,
  singletonAxis,
  transposeList,
} from './decisions.js';
import { argsortLast, median, perAxis, prod, roundHalfEven } from './math.js';
import { checkFingerprint } from './planner-v2.js';
import { v1PoolKernels, type Topology } from './topology.js';
import { PAPER_2018, V1_DEFAULTS, V1_ORIGINAL, type V1PlannerSettings, type V1StageContext } from './v1-settings.js';
import { computeVramEstimateV1 } from './vram.js';
import { architectureBlock, featuresPerStage } from './architecture.js';

export * from './v1-settings.js';

/** One planned v1 stage (fields named as in v1 `plans_per_stage`, in the transposed axis order). */
export interface V1Stage {
  batch_size: number;
  patch_size: number[];
  median_patient_size_in_voxels: number[];
  current_spacing: number[];
  topology: Topology;
  estimate: number;
}

function shrinkLoop(
  s: V1PlannerSettings,
  spacing: readonly number[],
  start: Topology,
  medianShape: readonly number[],
  estimate: (t: Topology) => number,
  reference: number,
  firstEstimate: number,
): { topo: Topology; here: number } {
  let topo = start;
  let here = firstEstimate;
  while (here > reference) {
    const shp = [...topo.patchSize];
    const axis = argsortLast(shp.map((p, i) => p / medianShape[i]!));
    const trial = [...shp];
    trial[axis]! -= topo.mustBeDivisibleBy[axis]!;
    const div = s.decide.topology(spacing, trial, s.featuremapMinEdgeLength, s.maxNumPool).mustBeDivisibleBy;
    shp[axis]! -= div[axis]!;
    if (shp[axis]! <= 0) throw new DataError('cannot fit a patch into the v1 memory reference');
    topo = s.decide.topology(spacing, shp, s.featuremapMinEdgeLength, s.maxNumPool);
    here = estimate(topo);
  }
  return { topo, here };
}

/**
 * v1 3D stage (`get_properties_for_stage`, RULES.md §9 v1): median shape at this spacing (rounded half-even), initial
 * patch, shrink while the v1 estimate exceeds the reference, `bs = floor(max(ref/here, 1) * 2)` capped at 5% of the
 * dataset's voxels (cap at least 2), at least 1.
 * @param currentSpacing spacing of this stage, transposed (mm); @param originalSpacing / originalShape the fullres
 * spacing and median shape it is derived from.
 */
export function planStageV1(
  s: V1PlannerSettings,
  currentSpacing: readonly number[],
  originalSpacing: readonly number[],
  originalShape: readonly number[],
  ctx: V1StageContext,
): V1Stage {
  const newMedian = originalShape.map((v, i) => roundHalfEven((originalSpacing[i]! / currentSpacing[i]!) * v));
  const datasetVoxels = prod(newMedian) * ctx.numCases;
  const initial = s.decide.initialPatch3d(currentSpacing, newMedian).map((v, i) => Math.min(v, newMedian[i]!));
  const topo0 = s.decide.topology(currentSpacing, initial, s.featuremapMinEdgeLength, s.maxNumPool);
  const est = (t: Topology): number =>
    computeVramEstimateV1(t.patchSize, v1PoolKernels(t), s.baseFeatures, s.maxFeatures3d, ctx.numInputChannels, ctx.numClasses, s.convPerStage);
  const ref = s.decide.reference3d(ctx, currentSpacing);
  const { topo, here } = shrinkLoop(s, currentSpacing, topo0, newMedian, est, ref, est(topo0));
  let bs = s.decide.batchSize3d(ref, here);
  const maxBs = Math.max(roundHalfEven((s.maxDatasetCovered * datasetVoxels) / prod(topo.patchSize)), s.minBatchSize);
  bs = Math.max(1, Math.min(bs, maxBs));
  return { batch_size: bs, patch_size: topo.patchSize, median_patient_size_in_voxels: newMedian, current_spacing: [...currentSpacing], topology: topo, estimate: here };
}

/**
 * v1 2D stage (`ExperimentPlanner2D_v21`, RULES.md §9 v1 2D): patch = in-plane median shape, padded; the first
 * estimate uses `estimate2dFeatures.first` base features, the shrink loop `estimate2dFeatures.loop`;
 * `bs = floor(ref / here) * 2`, 5% cap, at least 1.
 */
export function planStage2dV1(
  s: V1PlannerSettings,
  currentSpacing: readonly number[],
  originalSpacing: readonly number[],
  originalShape: readonly number[],
  ctx: V1StageContext,
): V1Stage {
  const newMedian = originalShape.map((v, i) => roundHalfEven((originalSpacing[i]! / currentSpacing[i]!) * v));
  const datasetVoxels = prod(newMedian) * ctx.numCases;
  const sp = currentSpacing.slice(1);
  const med2 = newMedian.slice(1);
  const topo0 = s.decide.topology(sp, med2, s.featuremapMinEdgeLength, s.maxNumPool);
  const est = (base: number) => (t: Topology): number =>
    computeVramEstimateV1(t.patchSize, v1PoolKernels(t), base, s.maxFeatures2dEstimate, ctx.numInputChannels, ctx.numClasses, s.convPerStage);
  const ref = s.decide.reference2d(ctx, sp);
  const { topo, here } = shrinkLoop(s, sp, topo0, med2, est(s.decide.estimate2dFeatures.loop), ref, est(s.decide.estimate2dFeatures.first)(topo0));
  let bs = s.decide.batchSize2d(ref, here);
  const maxBs = roundHalfEven((s.maxDatasetCovered * datasetVoxels) / prod(topo.patchSize));
  bs = Math.max(1, Math.min(bs, maxBs));
  return { batch_size: bs, patch_size: topo.patchSize, median_patient_size_in_voxels: newMedian, current_spacing: sp, topology: topo, estimate: here };
}

/** Result of the v1 3D planner: stages lowres-first like v1's `plans_per_stage`. */
export interface V1Plan3d {
  transposeForward: number[];
  transposeBackward: number[];
  /** `[fullres]` or `[lowres, fullres]`. */
  stages: V1Stage[];
}

/**
 * v1 3D planning (`plan_experiment`, RULES.md §10 v1): fullres at the target spacing; if the median image has >= 4x the
 * patch's voxels, grow the spacing by 1.01 per step (first the axes more than 2x finer than the coarsest) until the
 * median image has <= 4x the lowres patch's voxels; keep lowres if its median image is < half of the fullres one.
 */
export function planV1Stages3d(s: V1PlannerSettings, fp: DatasetFingerprint, ctx: V1StageContext, opts: PlannerOptions = {}): V1Plan3d {
  const { spacings, shapes_after_crop: shapes } = fp;
  const target = opts.overwriteTargetSpacing ? [...opts.overwriteTargetSpacing] : s.decide.targetSpacing3d(spacings, shapes);
  const newShapes = shapes.map((sh, i) => sh.map((v, d) => (spacings[i]![d]! / target[d]!) * v));
  const medianShape = perAxis(newShapes, median);
  const { forward, backward } = determineTranspose(target, opts.suppressTranspose, shapes);
  const targetT = transposeList(target, forward);
  const medianT = transposeList(medianShape, forward);
  const fullres = planStageV1(s, targetT, targetT, medianT, ctx);
  const stages = [fullres];
  let archVoxels = prod(fullres.patch_size);
  if (prod(medianShape) / archVoxels >= s.lowresMinRatio) {
    const low = [...target];
    let numVoxels = prod(medianShape);
    let lowres: V1Stage | undefined;
    let guard = 0;
    while (numVoxels > s.lowresMinRatio * archVoxels) {
      if (++guard > 100000) throw new Error('v1 lowres search did not terminate');
      const maxSp = Math.max(...low);
      const fine = low.map((v) => maxSp / v > 2);
      const any = fine.some(Boolean);
      for (let i = 0; i < low.length; i++) if (!any || fine[i]) low[i]! *= s.lowresSpacingFactor;
      numVoxels = prod(target.map((t, i) => (t / low[i]!) * medianShape[i]!));
      lowres = planStageV1(s, transposeList(low, forward), targetT, medianT, ctx);
      archVoxels = prod(lowres.patch_size);
    }
    if (lowres && 2 * prod(lowres.median_patient_size_in_voxels) < prod(fullres.median_patient_size_in_voxels)) {
      stages.unshift(lowres);
    }
  }
  return { transposeForward: forward, transposeBackward: backward, stages };
}

/** v1 2D planning: plain-median target spacing (v1 2D planners inherit the base rule), transposed, one stage. */
export function planV1Stage2d(s: V1PlannerSettings, fp: DatasetFingerprint, ctx: V1StageContext, opts: PlannerOptions = {}): V1Plan3d {
  const { spacings, shapes_after_crop: shapes } = fp;
  const target = s.decide.targetSpacing2d(spacings, shapes);
  const newShapes = shapes.map((sh, i) => sh.map((v, d) => (spacings[i]![d]! / target[d]!) * v));
  const medianShape = perAxis(newShapes, median);
  const { forward, backward } = determineTranspose(target, opts.suppressTranspose, shapes);
  const targetT = transposeList(target, forward);
  const stage = planStage2dV1(s, targetT, targetT, transposeList(medianShape, forward), ctx);
  return { transposeForward: forward, transposeBackward: backward, stages: [stage] };
}

function architectureOf(s: V1PlannerSettings, topo: Topology, dim: number): PlansConfiguration['architecture'] {
  const n = topo.strides.length;
  return architectureBlock({
    className: 'PlainConvUNet',
    features: featuresPerStage(n, s.baseFeatures, dim === 2 ? s.maxFeatures2dArch : s.maxFeatures3d),
    kernelSizes: topo.kernelSizes,
    strides: topo.strides,
    encoderCounts: new Array<number>(n).fill(s.convPerStage),
    decoderCounts: new Array<number>(n - 1).fill(s.convPerStage),
  });
}

/**
 * Run a v1-style planner and write the result in the v2 arch-dict schema: `3d_fullres` (+ `3d_lowres` and
 * `3d_cascade_fullres` when v1 made 2 stages) and `2d`. `num_cases` is the number of fingerprint entries (v1 counted
 * cropped cases). Features per stage follow v1's Generic_UNet (cap 320 in 3D, 480 in 2D).
 */
export function planV1(s: V1PlannerSettings, fingerprint: DatasetFingerprint, dataset: DatasetJson, opts: PlannerOptions = {}): Plans {
  checkFingerprint(fingerprint);
  const ctx: V1StageContext = {
    numInputChannels: channelNamesOf(dataset).length,
    numClasses: Object.keys(dataset.labels ?? {}).length,
    numCases: fingerprint.spacings.length,
  };
  const normalization = s.decide.normalization(dataset, fingerprint);
  const common = {
    normalization_schemes: normalization.schemes,
    use_mask_for_norm: normalization.useMaskForNorm,
  };
  const is2dData = singletonAxis(fingerprint.shapes_after_crop) !== undefined;
  const three = is2dData ? undefined : planV1Stages3d(s, fingerprint, ctx, opts);
  const two = planV1Stage2d(s, fingerprint, ctx, opts);
  const configurations: Record<string, PlansConfiguration> = {};
  const conf = (st: V1Stage, id: string, dim: number, batchDice: boolean): PlansConfiguration => ({
    data_identifier: id,
    preprocessor_name: dim === 2 ? 'PreprocessorFor2D' : 'GenericPreprocessor',
    batch_size: st.batch_size,
    patch_size: st.patch_size,
    median_image_size_in_voxels: dim === 2 ? st.median_patient_size_in_voxels.slice(1) : st.median_patient_size_in_voxels,
    spacing: st.current_spacing,
    normalization_schemes: [...common.normalization_schemes],
    use_mask_for_norm: [...common.use_mask_for_norm],
    ...determineResampling(),
    architecture: architectureOf(s, st.topology, dim),
    batch_dice: batchDice,
  });
  const hasLowres = (three?.stages.length ?? 0) === 2;
  configurations['2d'] = conf(two.stages[0]!, `${s.dataIdentifier2d}_stage0`, 2, determineBatchDice('2d', hasLowres));
  if (three) {
    const n = three.stages.length;
    if (hasLowres) {
      configurations['3d_lowres'] = {
        ...conf(three.stages[0]!, `${s.dataIdentifier3d}_stage0`, 3, determineBatchDice('3d_lowres', true)),
        next_stage: '3d_cascade_fullres',
      };
    }
    configurations['3d_fullres'] = conf(three.stages[n - 1]!, `${s.dataIdentifier3d}_stage${n - 1}`, 3, determineBatchDice('3d_fullres', hasLowres));
    if (hasLowres) configurations['3d_cascade_fullres'] = { inherits_from: '3d_fullres', previous_stage: '3d_lowres' };
  }
  const t = three ?? two;
  return {
    dataset_name: opts.datasetName ?? (typeof dataset.name === 'string' ? dataset.name : 'Dataset'),
    plans_name: opts.plansName ?? s.plansName,
    original_median_spacing_after_transp: transposeList(perAxis(fingerprint.spacings, median), t.transposeForward),
    original_median_shape_after_transp: transposeList(perAxis(fingerprint.shapes_after_crop, median), t.transposeForward).map(roundHalfEven),
    image_reader_writer: determineReaderWriter(dataset),
    transpose_forward: t.transposeForward,
    transpose_backward: t.transposeBackward,
    configurations,
    experiment_planner_used: s.experimentPlannerUsed,
    label_manager: 'LabelManager',
    foreground_intensity_properties_per_channel: fingerprint.foreground_intensity_properties_per_channel,
  };
}

/** Make a `Planner` plugin from v1 settings. */
export function makeV1Planner(settings: V1PlannerSettings): Planner & { settings: V1PlannerSettings } {
  return { name: settings.name, settings, plan: (fp, ds, opts) => planV1(settings, fp, ds, opts) };
}

/** v1 `ExperimentPlanner3D_v21` + `ExperimentPlanner2D_v21` (nnUNetPlansv2.1). */
export const nnUNetPlannerV1 = makeV1Planner(V1_DEFAULTS);
/** The original 2019 v1 `ExperimentPlanner` (base 30 features). */
export const nnUNetPlannerV1Original = makeV1Planner(V1_ORIGINAL);
/** The 2018 paper's rules. */
export const nnUNetPlanner2018 = makeV1Planner(PAPER_2018);
