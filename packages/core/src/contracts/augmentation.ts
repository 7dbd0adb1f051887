/** Seeded random source injected into transforms (no Math.random in transforms). */
export interface Rng {
  /** Uniform in [0, 1). */
  next(): number;
  uniform(lo: number, hi: number): number;
  /** Integer in [lo, hi). */
  int(lo: number, hi: number): number;
  normal(): number;
}

/** One training sample: image `[c, z, y, x]` float32, seg `[1, z, y, x]` int16. */
export interface Sample {
  image: Float32Array;
  seg?: Int16Array;
  /** `[c, z, y, x]` of image; seg has the same spatial shape. */
  shape: number[];
  properties?: Record<string, unknown>;
}

/**
 * What a transform changes: the image channels, the segmentation, or (cascade) the previous stage's segmentation.
 * A transform that moves voxels (spatial, mirror) lists all three: the trainer replays its parameters on the
 * previous-stage segmentation (a seg-only sample, resampled like the label) so it stays aligned with the image.
 */
export type TransformTarget = 'image' | 'segmentation' | 'previousStageSegmentation';

/**
 * An augmentation transform: randomness in `getParameters`, arithmetic in `apply` (batchgeneratorsv2 style).
 * `getParameters` returns null when the transform is skipped for this sample.
 */
export interface Transform<P = unknown> {
  name: string;
  /** What `apply` changes (default `['image']`); the trainer routes samples by this, never by `name`. */
  targets?: readonly TransformTarget[];
  /**
   * True for a transform whose output is the patch size from a larger input (nnU-Net's spatial transform): the
   * loader then samples the larger initial patch (`DaSettings.initialPatchSize`).
   */
  cropsToPatchSize?: boolean;
  getParameters(sample: Sample, rng: Rng): P | null;
  apply(sample: Sample, params: P): Sample;
}

/** Options from the plans and trainer used to build nnU-Net's training transforms (RULES.md §17). */
export interface AugmentationOptions {
  patchSize: number[];
  /** 2 or 3 (2D networks augment per slice). */
  dims: 2 | 3;
  /** Axes (of `[z, y, x]`, or `[y, x]` in 2D) that may be mirrored. */
  mirrorAxes: number[];
  /** `max(patch)/patch[0] > 3`: rotate/scale in-plane only. */
  doDummy2D: boolean;
  /** Skip expensive transforms (spatial, blur, low-res) e.g. for quick runs. */
  light?: boolean;
  /** Cascade only (`nnUNetCascadePreviousStage`): foreground labels whose one-hot channels are appended. */
  foregroundLabels?: number[];
}

/** The targets a transform declares (`['image']` when it declares none). */
export function transformTargets(t: Transform): readonly TransformTarget[] {
  return t.targets ?? ['image'];
}

/** A pipeline of transforms built from options; registered by name (`nnUNetDefault`). */
export interface AugmentationFactory {
  name: string;
  create(opts: AugmentationOptions): Transform[];
  /**
   * Module the trainer's data-loading workers import to build this augmentation in their own thread: a package name
   * or file URL whose `registerDefaults(registry)` (or PluginModule `plugin`) registers a factory of the same
   * `name` with the same behaviour. Absent: batches are loaded and augmented on the training thread.
   */
  workerModule?: string;
}
