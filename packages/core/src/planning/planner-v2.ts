/**
 * nnU-Net v2 planners (spec 1.4-1.11, 1.21): the default `nnUNetPlanner` (nnU-Net's `ExperimentPlanner`) and the
 * residual-encoder presets. Built from the decision functions in `decisions.ts`, `topology.ts`, `vram.ts`; a variant
 * is a `V2PlannerSettings` object with one or more decisions replaced.
 */
import type { ArchitectureSpec, DatasetFingerprint, DatasetJson, Plans, PlansConfiguration } from '../contracts/plans.js';
import type { Planner, PlannerOptions } from '../contracts/planner.js';
import { DataError } from '../util/errors.js';
import {
  channelNamesOf,
  determineBatchDice,
  determineNormalization,
  determineReaderWriter,
  determineResampling,
  determineTargetSpacing,
  determineTranspose,
  medianResampledShape,
  transposeList,
} from './decisions.js';
import { median, perAxis, prod, roundHalfEven, argsortLast } from './math.js';
import { getPoolAndConvProps, type Topology } from './topology.js';
import { computeVramEstimate } from './vram.js';

/** Everything a v2-style planner can vary. Defaults (`V2_DEFAULTS`) are nnU-Net v2.8.1's `ExperimentPlanner`. */
export interface V2PlannerSettings {
  /** Registry name, e.g. `nnUNetPlanner`. */
  name: string;
  /** Written to `experiment_planner_used` (nnU-Net class name, e.g. `ExperimentPlanner`). */
  experimentPlannerUsed: string;
  /** Default `plans_name`. */
  plansName: string;
  /** `network_class_name` (dotted Python path). */
  networkClassName: string;
  /** ResidualEncoderUNet-style arch kwargs (`n_blocks_per_stage`) instead of PlainConvUNet (`n_conv_per_stage`). */
  residualEncoder: boolean;
  /** Spec 1.7: base features 32, cap 320 (3D) / 512 (2D). */
  baseFeatures: number;
  maxFeatures3d: number;
  maxFeatures2d: number;
  /** Encoder convs (plain) or residual blocks (ResEnc) per stage, indexed by stage. */
  blocksPerStageEncoder: readonly number[];
  /** Decoder convs per stage. */
  blocksPerStageDecoder: readonly number[];
  /** Spec 1.8 reference values (feature-map elements) and the GB / batch sizes they correspond to. */
  referenceVal3d: number;
  referenceVal2d: number;
  referenceValCorrespGb: number;
  refBatchSize3d: number;
  refBatchSize2d: number;
  /** Default `gpu_memory_target_in_gb`. */
  defaultGpuMemoryTargetGb: number;
  /** Spec 1.9: at most this fraction of the dataset's voxels per batch (0.05; 1 for ResEnc presets). */
  maxDatasetCovered: number;
  /** `UNet_min_batch_size` = 2. */
  minBatchSize: number;
  /** `UNet_featuremap_min_edge_length` = 4. */
  featuremapMinEdgeLength: number;
  /** Spec 1.10: 0.25 and 1.03. */
  lowresCreationThreshold: number;
  spacingIncreaseFactor: number;
  /**
   * Shrink-loop condition (spec 1.9): 'v2.8' shrinks while `estimate / ref_bs * 2 > reference` (v2.8.1);
   * 'legacy' while `estimate > reference` (nnU-Net v2 up to at least 2.4; identical for 3D where ref_bs = 2,
   * different for 2D where ref_bs = 12).
   */
  shrinkRule: 'v2.8' | 'legacy';
  /** data_identifier of a configuration. */
  dataIdentifier(plansName: string, configuration: string): string;
  /** Decisions (replace one to make a variant). */
  decide: {
    targetSpacing: typeof determineTargetSpacing;
    transpose: typeof determineTranspose;
    normalization: typeof determineNormalization;
    topology: (spacing: readonly number[], patch: readonly number[], minEdge: number, maxPool: number) => Topology;
    vramEstimate: (patch: readonly number[], arch: ArchitectureSpec, numClasses: number) => number;
    batchDice: typeof determineBatchDice;
    /** Patch / batch search of one configuration (spec 1.9). */
    patchAndBatch: (s: V2PlannerSettings, req: ConfigurationRequest) => PatchAndBatch;
    /** 3d_lowres creation (spec 1.10); undefined when no lowres configuration is made. */
    lowres: (
      ctx: PlanningContext,
      fullres: PlansConfiguration,
      newMedianT: readonly number[],
      numTraining: number,
      base: { numInputChannels: number; numClasses: number; gpuMemoryTargetGb: number },
    ) => PlansConfiguration | undefined;
  };
}

/** The estimate used by v2 planners: spec 1.8 on the architecture block. */
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

/** nnU-Net v2.8.1 `ExperimentPlanner` defaults (spec 1.7-1.10). */
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
  // ResEnc presets share the default planner's preprocessed 2d / 3d_fullres data (spec 1.21, resenc_presets.md)
  dataIdentifier: (plansName, configuration) =>
    configuration === '2d' || configuration === '3d_fullres' ? `nnUNetPlans_${configuration}` : `${plansName}_${configuration}`,
};

/** Spec 1.21 `nnUNetPlannerResEncM`: references 680e6 / 135e6 at 8 GB, no 5% cap. */
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
/** Spec 1.21 `nnUNetPlannerResEncL`: 2.1e9 / 380e6 at 24 GB. */
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
/** Spec 1.21 `nnUNetPlannerResEncXL`: 3.6e9 / 560e6 at 40 GB. */
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

/** Inputs of one configuration's patch/batch search. */
export interface ConfigurationRequest {
  /** Target spacing, transposed, mm (3 entries for 3D, 2 for 2D). */
  spacing: number[];
  /** Median shape at that spacing, transposed, voxels (may be fractional). */
  medianShape: number[];
  /** `prod(median shape) * numTraining`, for the 5% batch cap. */
  approxVoxelsDataset: number;
  numInputChannels: number;
  numClasses: number;
  gpuMemoryTargetGb: number;
}

/** Result of `determinePatchAndBatch`. */
export interface PatchAndBatch {
  patchSize: number[];
  batchSize: number;
  topology: Topology;
  architecture: ArchitectureSpec;
  /** Final estimate (spec 1.8 units). */
  estimate: number;
}

/** The architecture block (spec 1.7) for a topology. */
export function buildArchitecture(s: V2PlannerSettings, topo: Topology, dim: number): ArchitectureSpec {
  const nStages = topo.strides.length;
  const maxF = dim === 2 ? s.maxFeatures2d : s.maxFeatures3d;
  const features = Array.from({ length: nStages }, (_, i) => Math.min(maxF, s.baseFeatures * 2 ** i));
  const blocks = s.blocksPerStageEncoder.slice(0, nStages);
  const dec = s.blocksPerStageDecoder.slice(0, nStages - 1);
  const arch_kwargs: ArchitectureSpec['arch_kwargs'] = {
    n_stages: nStages,
    features_per_stage: features,
    conv_op: `torch.nn.modules.conv.Conv${dim}d`,
    kernel_sizes: topo.kernelSizes.map((k) => [...k]),
    strides: topo.strides.map((k) => [...k]),
    ...(s.residualEncoder ? { n_blocks_per_stage: blocks } : { n_conv_per_stage: blocks }),
    n_conv_per_stage_decoder: dec,
    conv_bias: true,
    norm_op: `torch.nn.modules.instancenorm.InstanceNorm${dim}d`,
    norm_op_kwargs: { eps: 1e-5, affine: true },
    dropout_op: null,
    dropout_op_kwargs: null,
    nonlin: 'torch.nn.LeakyReLU',
    nonlin_kwargs: { inplace: true },
  };
  return { network_class_name: s.networkClassName, arch_kwargs, _kw_requires_import: ['conv_op', 'norm_op', 'dropout_op', 'nonlin'] };
}

/**
 * Patch and batch size search (spec 1.9): initial patch of the volume of 256^3 (3D) / 2048^2 (2D) with aspect
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

/** Facts derived once per planning run and shared by all configurations. */
export interface PlanningContext {
  settings: V2PlannerSettings;
  fingerprint: DatasetFingerprint;
  dataset: DatasetJson;
  plansName: string;
  numInputChannels: number;
  numClasses: number;
  gpu: number;
  normalization: { schemes: string[]; useMaskForNorm: boolean[] };
}

function configurationFor(ctx: PlanningContext, name: string, req: ConfigurationRequest): PlansConfiguration {
  const r = ctx.settings.decide.patchAndBatch(ctx.settings, req);
  return {
    data_identifier: ctx.settings.dataIdentifier(ctx.plansName, name),
    preprocessor_name: 'DefaultPreprocessor',
    batch_size: r.batchSize,
    patch_size: r.patchSize,
    median_image_size_in_voxels: [...req.medianShape],
    spacing: [...req.spacing],
    normalization_schemes: [...ctx.normalization.schemes],
    use_mask_for_norm: [...ctx.normalization.useMaskForNorm],
    ...determineResampling(),
    architecture: r.architecture,
  };
}

/** Check the fingerprint lists are usable; throws `DataError` naming the problem. */
export function checkFingerprint(fp: DatasetFingerprint): void {
  if (!Array.isArray(fp.spacings) || !Array.isArray(fp.shapes_after_crop) || fp.spacings.length === 0) {
    throw new DataError('dataset_fingerprint.json lacks per-case spacings / shapes_after_crop', {
      file: 'dataset_fingerprint.json',
      hint: 're-run fingerprint extraction',
    });
  }
  if (fp.spacings.length !== fp.shapes_after_crop.length) {
    throw new DataError(
      `dataset_fingerprint.json has ${fp.spacings.length} spacings but ${fp.shapes_after_crop.length} shapes_after_crop`,
      { file: 'dataset_fingerprint.json', hint: 're-run fingerprint extraction' },
    );
  }
}

/**
 * Run a v2-style planner (spec 1.4-1.11): target spacing, transpose, resampled median shape, `3d_fullres` (3D data
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
  const natural = s.decide.targetSpacing(spacings, shapes);
  const { forward, backward } = s.decide.transpose(natural, opts.suppressTranspose);
  const fullresSpacing = opts.overwriteTargetSpacing ? [...opts.overwriteTargetSpacing] : natural;
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

/**
 * v2 3d_lowres search (spec 1.10): grow the spacing by `spacingIncreaseFactor` (first only the axes more than 2x
 * finer than the coarsest) until the lowres patch covers >= `lowresCreationThreshold` of the lowres median image;
 * dropped when the lowres median image is not at least 2x smaller than the fullres one. Returns undefined when none.
 */
export function planLowres(
  ctx: PlanningContext,
  fullres: PlansConfiguration,
  newMedianT: readonly number[],
  numTraining: number,
  base: { numInputChannels: number; numClasses: number; gpuMemoryTargetGb: number },
): PlansConfiguration | undefined {
  const s = ctx.settings;
  const fullSpacing = fullres.spacing!;
  let medianVoxels = prod(newMedianT);
  let patchVoxels = prod(fullres.patch_size!);
  const lowSpacing = [...fullSpacing];
  let lowres: PlansConfiguration | undefined;
  let guard = 0;
  while (patchVoxels / medianVoxels < s.lowresCreationThreshold) {
    if (++guard > 10000) throw new Error('3d_lowres search did not terminate');
    const maxSp = Math.max(...lowSpacing);
    const fine = lowSpacing.map((v) => maxSp / v > 2);
    if (fine.some(Boolean)) {
      for (let i = 0; i < lowSpacing.length; i++) if (fine[i]) lowSpacing[i]! *= s.spacingIncreaseFactor;
    } else {
      for (let i = 0; i < lowSpacing.length; i++) lowSpacing[i]! *= s.spacingIncreaseFactor;
    }
    const medLow = fullSpacing.map((v, i) => (v / lowSpacing[i]!) * newMedianT[i]!);
    medianVoxels = prod(medLow);
    lowres = configurationFor(ctx, '3d_lowres', {
      ...base,
      spacing: [...lowSpacing],
      medianShape: medLow.map(roundHalfEven),
      approxVoxelsDataset: medianVoxels * numTraining,
    });
    patchVoxels = prod(lowres.patch_size!);
  }
  if (prod(newMedianT) / medianVoxels < 2) return undefined;
  return lowres;
}

/** Make a `Planner` plugin from settings. */
export function makeV2Planner(settings: V2PlannerSettings): Planner & { settings: V2PlannerSettings } {
  return {
    name: settings.name,
    settings,
    plan: (fingerprint, dataset, opts) => planV2(settings, fingerprint, dataset, opts),
  };
}

/** nnU-Net v2 default planner (`ExperimentPlanner`, spec 1.4-1.11). */
export const nnUNetPlanner = makeV2Planner(V2_DEFAULTS);
/** ResEnc presets (spec 1.21). */
export const nnUNetPlannerResEncM = makeV2Planner(RESENC_M);
export const nnUNetPlannerResEncL = makeV2Planner(RESENC_L);
export const nnUNetPlannerResEncXL = makeV2Planner(RESENC_XL);

/**
 * `nnUNetPlannerLegacy`: the default planner with the shrink loop of nnU-Net v2 releases before v2.8
 * (`while estimate > reference`, spec 1.9 note): identical 3D plans, larger 2D patches get shrunk more. Reproduces
 * plans files written in the legacy (pre-2024) format.
 */
export const nnUNetPlannerLegacy = makeV2Planner({ ...V2_DEFAULTS, name: 'nnUNetPlannerLegacy', shrinkRule: 'legacy' });
