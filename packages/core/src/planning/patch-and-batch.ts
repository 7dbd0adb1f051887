/** Patch and batch size search of one v2 configuration (RULES.md §7-§9) and the architecture block it writes. */
import type { ArchitectureSpec } from '../contracts/plans.js';
import { DataError } from '../util/errors.js';
import { argsortLast, prod, roundHalfEven } from './math.js';
import type { Topology } from './topology.js';
import type { ConfigurationRequest, PatchAndBatch, V2PlannerSettings } from './v2-types.js';
import { computeVramEstimate } from './vram.js';
import { architectureBlock, featuresPerStage } from './architecture.js';

/** The estimate used by v2 planners: RULES.md §8 on the architecture block. */
export function estimateFromArchitecture(patch: readonly number[], arch: ArchitectureSpec, numClasses: number): number {
  const k = arch.arch_kwargs;
  return computeVramEstimate(
    patch,
    {
      featuresPerStage: k.features_per_stage,
      strides: k.strides,
      nConvPerStage: k.n_conv_per_stage,
      nBlocksPerStage: k.n_blocks_per_stage,
      nConvPerStageDecoder: k.n_conv_per_stage_decoder,
    },
    numClasses,
  );
}

/** The architecture block (RULES.md §7) for a topology. */
export function buildArchitecture(s: V2PlannerSettings, topo: Topology, dim: number): ArchitectureSpec {
  const nStages = topo.strides.length;
  return architectureBlock({
    className: s.networkClassName,
    features: featuresPerStage(nStages, s.baseFeatures, dim === 2 ? s.maxFeatures2d : s.maxFeatures3d),
    kernelSizes: topo.kernelSizes,
    strides: topo.strides,
    encoderCounts: s.blocksPerStageEncoder.slice(0, nStages),
    decoderCounts: s.blocksPerStageDecoder.slice(0, nStages - 1),
    residual: s.residualEncoder,
  });
}

/**
 * Patch and batch size search (RULES.md §9): initial patch of the volume of 256^3 (3D) / 2048^2 (2D) with aspect
 * 1/spacing, clipped to the median shape, padded by the topology; shrink the axis largest relative to the median
 * shape until the estimate fits; `bs = round(ref / estimate * ref_bs)`, capped so a batch covers at most
 * `maxDatasetCovered` of the dataset's voxels, at least `minBatchSize`.
 */
export function determinePatchAndBatch(s: V2PlannerSettings, req: ConfigurationRequest): PatchAndBatch {
  const { spacing, medianShape } = req;
  const dim = spacing.length;
  if (spacing.some((v) => !(v > 0))) throw new DataError(`spacing must be > 0, got [${spacing.join(', ')}]`);
  const tmp = spacing.map((v) => 1 / v);
  const scale = dim === 3 ? (256 ** 3 / prod(tmp)) ** (1 / 3) : (2048 ** 2 / prod(tmp)) ** (1 / 2);
  const initial = tmp.map((t, i) => Math.min(roundHalfEven(t * scale), medianShape[i]!));
  const minEdge = s.featuremapMinEdgeLength;
  let topo = s.decide.topology(spacing, initial, minEdge, 999999);
  let arch = buildArchitecture(s, topo, dim);
  const cache = new Map<string, number>();
  const estimateOf = (t: Topology, a: ArchitectureSpec): number => {
    const key = `${t.patchSize.join(',')}_${JSON.stringify(t.strides)}`;
    let e = cache.get(key);
    if (e === undefined) cache.set(key, (e = s.decide.vramEstimate(t.patchSize, a, req.numClasses)));
    return e;
  };
  let estimate = estimateOf(topo, arch);
  const reference = (dim === 2 ? s.referenceVal2d : s.referenceVal3d) * (req.gpuMemoryTargetGb / s.referenceValCorrespGb);
  const refBs = dim === 2 ? s.refBatchSize2d : s.refBatchSize3d;
  const tooBig = (e: number): boolean => (s.shrinkRule === 'v2.8' ? (e / refBs) * 2 > reference : e > reference);
  while (tooBig(estimate)) {
    const patch = [...topo.patchSize];
    const axis = argsortLast(patch.map((p, i) => p / medianShape[i]!));
    const trial = [...patch];
    trial[axis]! -= topo.mustBeDivisibleBy[axis]!;
    const div = s.decide.topology(spacing, trial, minEdge, 999999).mustBeDivisibleBy;
    patch[axis]! -= div[axis]!;
    if (patch[axis]! <= 0) {
      throw new DataError(`cannot fit a patch into the memory target (${req.gpuMemoryTargetGb} GB)`, {
        hint: 'raise gpuMemoryTargetGb',
      });
    }
    topo = s.decide.topology(spacing, patch, minEdge, 999999);
    arch = buildArchitecture(s, topo, dim);
    estimate = estimateOf(topo, arch);
  }
  let batchSize = roundHalfEven((reference / estimate) * refBs);
  const cap = roundHalfEven((req.approxVoxelsDataset * s.maxDatasetCovered) / prod(topo.patchSize));
  batchSize = Math.max(Math.min(batchSize, cap), s.minBatchSize);
  return { patchSize: topo.patchSize, batchSize, topology: topo, architecture: arch, estimate };
}
