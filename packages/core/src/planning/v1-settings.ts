/** Settings and presets of the v1-style planners (RULES.md §6-§10 v1 variants, 2018 paper rules). */
import {
  determineNormalizationV1,
  determineTargetSpacing,
  determineTargetSpacingMedian,
} from './decisions.js';
import { roundHalfEven } from './math.js';
import { getPoolAndConvPropsPoolLate, getPoolAndConvPropsV1, v1PoolKernels, type Topology } from './topology.js';
import { computeVramEstimateV1 } from './vram.js';

/** Inputs of one v1 stage. */
export interface V1StageContext {
  numInputChannels: number;
  numClasses: number;
  /** Number of training cases (v1: cases in the cropped-data folder = fingerprint entries). */
  numCases: number;
}

/** What a v1-style planner can vary. */
export interface V1PlannerSettings {
  name: string;
  experimentPlannerUsed: string;
  plansName: string;
  /** v1 data identifiers (the stage folders become `<id>_stage<k>`). */
  dataIdentifier3d: string;
  dataIdentifier2d: string;
  /** RULES.md §7: 32 for the v2.1 planners, 30 for the 2019/2018 ones. */
  baseFeatures: number;
  maxFeatures3d: number;
  /** Cap used in the 2D estimate (v1 2D planner: 512) and in the written 2D architecture (Generic_UNet: 480). */
  maxFeatures2dEstimate: number;
  maxFeatures2dArch: number;
  convPerStage: number;
  minBatchSize: number;
  maxDatasetCovered: number;
  featuremapMinEdgeLength: number;
  maxNumPool: number;
  /** RULES.md §10 v1: lowres only when median >= 4x patch; spacing grows 1.01 per step. */
  lowresMinRatio: number;
  lowresSpacingFactor: number;
  decide: {
    targetSpacing3d: (spacings: readonly number[][], shapes: readonly number[][]) => number[];
    targetSpacing2d: (spacings: readonly number[][], shapes: readonly number[][]) => number[];
    normalization: typeof determineNormalizationV1;
    topology: (spacing: readonly number[], patch: readonly number[], minEdge: number, maxPool: number) => Topology;
    /** Initial 3D patch before clipping to the median shape (voxels). */
    initialPatch3d: (spacing: readonly number[], medianShape: readonly number[]) => number[];
    /** 3D reference (RULES.md §8 v1 units) for a stage. */
    reference3d: (ctx: V1StageContext, spacing: readonly number[]) => number;
    batchSize3d: (reference: number, estimate: number) => number;
    /** 2D: reference, base features of the first estimate and of those in the shrink loop, batch rule. */
    reference2d: (ctx: V1StageContext, spacing: readonly number[]) => number;
    estimate2dFeatures: { first: number; loop: number };
    batchSize2d: (reference: number, estimate: number) => number;
  };
}

/** v1 initial 3D patch (RULES.md §9 v1): 1/spacing normalised so the smallest entry is 512, rounded half-even. */
export function initialPatchV1(spacing: readonly number[]): number[] {
  let p = spacing.map((s) => 1 / s);
  const mean = p.reduce((a, b) => a + b, 0) / p.length;
  p = p.map((v) => v / mean);
  const f = (1 / Math.min(...p)) * 512;
  return p.map((v) => roundHalfEven(v * f));
}

/** RULES.md §6-§10 v1 defaults: `ExperimentPlanner3D_v21` / `ExperimentPlanner2D_v21`. */
export const V1_DEFAULTS: V1PlannerSettings = {
  name: 'nnUNetPlannerV1',
  experimentPlannerUsed: 'ExperimentPlanner3D_v21',
  plansName: 'nnUNetPlansv2.1',
  dataIdentifier3d: 'nnUNetData_plans_v2.1',
  dataIdentifier2d: 'nnUNetData_plans_v2.1_2D',
  baseFeatures: 32,
  maxFeatures3d: 320,
  maxFeatures2dEstimate: 512,
  maxFeatures2dArch: 480,
  convPerStage: 2,
  minBatchSize: 2,
  maxDatasetCovered: 0.05,
  featuremapMinEdgeLength: 4,
  maxNumPool: 999,
  lowresMinRatio: 4,
  lowresSpacingFactor: 1.01,
  decide: {
    targetSpacing3d: determineTargetSpacing,
    targetSpacing2d: (sp) => determineTargetSpacingMedian(sp),
    normalization: determineNormalizationV1,
    topology: getPoolAndConvPropsV1,
    initialPatch3d: (spacing) => initialPatchV1(spacing),
    // 520e6 * 32 / 30: Generic_UNet's 3D reference rescaled to 32 base features (RULES.md §8 v1)
    reference3d: () => (520_000_000 * 32) / 30,
    batchSize3d: (ref, here) => Math.floor(Math.max(ref / here, 1) * 2),
    // 19,739,648 * 50 / 2 (RULES.md §8 v1 2D reference)
    reference2d: () => (19_739_648 * 50) / 2,
    estimate2dFeatures: { first: 30, loop: 32 },
    batchSize2d: (ref, here) => Math.floor(ref / here) * 2,
  },
};

/** The 2019 v1 `ExperimentPlanner` (base 30, plain-median spacing, pool-late topology, reference 520e6). */
export const V1_ORIGINAL: V1PlannerSettings = {
  ...V1_DEFAULTS,
  name: 'nnUNetPlannerV1Original',
  experimentPlannerUsed: 'ExperimentPlanner',
  plansName: 'nnUNetPlans',
  dataIdentifier3d: 'nnUNet',
  dataIdentifier2d: 'nnUNet_2D',
  baseFeatures: 30,
  decide: {
    ...V1_DEFAULTS.decide,
    targetSpacing3d: (sp) => determineTargetSpacingMedian(sp),
    topology: (spacing, patch, minEdge, maxPool) => getPoolAndConvPropsPoolLate(spacing, patch, minEdge, maxPool),
    reference3d: () => 520_000_000,
    estimate2dFeatures: { first: 30, loop: 30 },
  },
};

/**
 * 2018 paper rules (PAPER_TABLES.md, RULES.md §7 "The 2018 paper used 30 base features"): 30 base features; 3D patch
 * starts at the median shape and shrinks (keeping its aspect ratio) until it fits the memory of a 128^3 patch at
 * batch 2; 2D patch fits 256x256 at batch 42; an axis pools while the result stays >= 8 voxels, at most 5 times
 * (pool-late); a cascade when the median image is >= 4x the patch.
 */
export const PAPER_2018: V1PlannerSettings = {
  ...V1_ORIGINAL,
  name: 'nnUNetPlanner2018',
  experimentPlannerUsed: 'nnUNetPlanner2018',
  plansName: 'nnUNetPlans2018',
  dataIdentifier3d: 'nnUNetData_2018',
  dataIdentifier2d: 'nnUNetData_2018_2D',
  featuremapMinEdgeLength: 8,
  maxNumPool: 5,
  decide: {
    ...V1_ORIGINAL.decide,
    initialPatch3d: (_spacing, medianShape) => medianShape.map((v) => Math.max(1, roundHalfEven(v))),
    reference3d: (ctx, spacing) => {
      const t = getPoolAndConvPropsPoolLate(spacing, [128, 128, 128], 8, 5);
      return computeVramEstimateV1([128, 128, 128], v1PoolKernels(t), 30, 320, ctx.numInputChannels, ctx.numClasses);
    },
    batchSize3d: (ref, here) => Math.floor(Math.max(ref / here, 1) * 2),
    reference2d: (ctx, spacing) => {
      const t = getPoolAndConvPropsPoolLate(spacing, [256, 256], 8, 5);
      return computeVramEstimateV1([256, 256], v1PoolKernels(t), 30, 480, ctx.numInputChannels, ctx.numClasses) * 42;
    },
    estimate2dFeatures: { first: 30, loop: 30 },
    batchSize2d: (ref, here) => Math.floor(ref / here),
  },
};
