import type { AugmentationOptions, Sample, Transform } from '../contracts/augmentation.js';
import type { DatasetJson } from '../contracts/plans.js';
import type { Registry } from '../registry/registry.js';
import { NnunetError } from '../util/errors.js';
import { labelSetup } from './configuration.js';

/**
 * Name of the augmentation plugin that provides the cascade's previous-stage transforms (registered by
 * `@nnunet-ts/net-cascade`): `create({ ...opts, foregroundLabels })` returns nnU-Net's `MoveSegAsOneHotToData`
 * (reads `sample.properties.previousStageSeg`, appends one one-hot channel per foreground label), then the random
 * binary operator and connected-component removal on those channels (RULES.md §10).
 */
export const CASCADE_AUGMENTATION = 'nnUNetCascadePreviousStage';
/** Name of the one-hot transform inside that plugin's list (the only one used for validation and prediction). */
export const CASCADE_ONE_HOT_TRANSFORM = 'MoveSegAsOneHotToDataTransform';
/** Sample property holding the previous stage's segmentation (int16 over the sample's spatial shape). */
export const PREVIOUS_STAGE_KEY = 'previousStageSeg';

/** Foreground labels whose one-hot channels the cascade appends: every label > 0 except `ignore` (nnU-Net). */
export function cascadeForegroundLabels(dataset: DatasetJson): number[] {
  return labelSetup(dataset).labels.filter((l) => l > 0);
}

/** The previous-stage transforms: all of them for training, the one-hot one alone for validation and prediction. */
export interface CascadeTransforms {
  labels: number[];
  train: Transform[];
  oneHot: Transform;
}

/**
 * Build the cascade transforms from the registry (plugin {@link CASCADE_AUGMENTATION}).
 * @throws PluginError when no plugin provides them; NnunetError when the list has no one-hot transform.
 */
export function cascadeTransformsFrom(registry: Registry, dataset: DatasetJson, opts: AugmentationOptions): CascadeTransforms {
  const labels = cascadeForegroundLabels(dataset);
  const train = registry.get('augmentation', CASCADE_AUGMENTATION).create({ ...opts, foregroundLabels: labels });
  const oneHot = train.find((t) => t.name === CASCADE_ONE_HOT_TRANSFORM);
  if (!oneHot) throw new NnunetError(`augmentation plugin '${CASCADE_AUGMENTATION}' has no ${CASCADE_ONE_HOT_TRANSFORM}`);
  return { labels, train, oneHot };
}

/** Append the one-hot previous-stage channels to `[c, z, y, x]` data (`seg` over the spatial shape). */
export function appendPreviousStage(t: CascadeTransforms, data: Float32Array, shape: number[], seg: Int16Array): { data: Float32Array; shape: number[] } {
  const s = t.oneHot.apply({ image: data, shape, properties: { [PREVIOUS_STAGE_KEY]: seg } }, t.oneHot.getParameters({ image: data, shape }, nullRng));
  return { data: s.image, shape: s.shape };
}

/** A seg-only sample (no image channels) carrying the previous stage's segmentation through geometric transforms. */
export function previousStageProxy(seg: Int16Array, spatialShape: number[]): Sample {
  return { image: new Float32Array(0), seg, shape: [0, ...spatialShape] };
}

const nullRng = {
  next: () => 0,
  uniform: (a: number) => a,
  int: (a: number) => a,
  normal: () => 0,
};
