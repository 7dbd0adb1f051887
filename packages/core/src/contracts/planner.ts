import type { DatasetFingerprint, DatasetJson, Plans } from './plans.js';

/** Options common to planners (RULES.md §8, §9). */
export interface PlannerOptions {
  /** GPU memory target in GB (v2 `gpu_memory_target_in_gb`, default 8). */
  gpuMemoryTargetGb?: number;
  /** Plans identifier, default `nnUNetPlans`. */
  plansName?: string;
  /** Dataset name written to the plans. */
  datasetName?: string;
  /** Force 3d_fullres target spacing `[sz, sy, sx]` (nnU-Net `-overwrite_target_spacing`). */
  overwriteTargetSpacing?: number[];
  /** Disable the transpose (RULES.md §5 `suppress_transpose`). */
  suppressTranspose?: boolean;
}

/** Planner plugin, registered by name (`nnUNetPlanner`, `nnUNetPlannerV1`, `nnUNetPlanner2018`, `nnUNetResEncUNetM`, ...). */
export interface Planner {
  name: string;
  /** Plan every configuration from a fingerprint and dataset.json alone (no images). Pure function. */
  plan(fingerprint: DatasetFingerprint, dataset: DatasetJson, opts?: PlannerOptions): Plans;
}
