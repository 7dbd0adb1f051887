/**
 * Types shared by the v2-style planners: the settings a variant changes, the per-configuration request and result,
 * and the per-run context.
 */
import type { ArchitectureSpec, DatasetFingerprint, DatasetJson, PlansConfiguration } from '../contracts/plans.js';
import type { determineBatchDice, determineNormalization, determineTargetSpacing, determineTranspose } from './decisions.js';
import type { Topology } from './topology.js';

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
  /** RULES.md §7: base features 32, cap 320 (3D) / 512 (2D). */
  baseFeatures: number;
  maxFeatures3d: number;
  maxFeatures2d: number;
  /** Encoder convs (plain) or residual blocks (ResEnc) per stage, indexed by stage. */
  blocksPerStageEncoder: readonly number[];
  /** Decoder convs per stage. */
  blocksPerStageDecoder: readonly number[];
  /** RULES.md §8 reference values (feature-map elements) and the GB / batch sizes they correspond to. */
  referenceVal3d: number;
  referenceVal2d: number;
  referenceValCorrespGb: number;
  refBatchSize3d: number;
  refBatchSize2d: number;
  /** Default `gpu_memory_target_in_gb`. */
  defaultGpuMemoryTargetGb: number;
  /** RULES.md §9: at most this fraction of the dataset's voxels per batch (0.05; 1 for ResEnc presets). */
  maxDatasetCovered: number;
  /** `UNet_min_batch_size` = 2. */
  minBatchSize: number;
  /** `UNet_featuremap_min_edge_length` = 4. */
  featuremapMinEdgeLength: number;
  /** RULES.md §10: 0.25 and 1.03. */
  lowresCreationThreshold: number;
  spacingIncreaseFactor: number;
  /**
   * Shrink-loop condition (RULES.md §9): 'v2.8' shrinks while `estimate / ref_bs * 2 > reference` (v2.8.1);
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
    /** Patch / batch search of one configuration (RULES.md §9). */
    patchAndBatch: (s: V2PlannerSettings, req: ConfigurationRequest) => PatchAndBatch;
    /** 3d_lowres creation (RULES.md §10); undefined when no lowres configuration is made. */
    lowres: (
      ctx: PlanningContext,
      fullres: PlansConfiguration,
      newMedianT: readonly number[],
      numTraining: number,
      base: { numInputChannels: number; numClasses: number; gpuMemoryTargetGb: number },
    ) => PlansConfiguration | undefined;
  };
}

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
  /** Final estimate (RULES.md §8 units). */
  estimate: number;
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
