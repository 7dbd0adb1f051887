/**
 * @nnunet-ts/net-cascade: what nnU-Net's 3d_cascade_fullres adds to the 3D U-Net (RULES.md §10): the one-hot
 * previous-stage input channels, the two low-res segmentation augmentations, and a `PlainConvUNetCascade` plugin.
 */
import type { AugmentationFactory, PluginModule, Registry } from '@nnunet-ts/core';
import { plainConvUNetCascade } from './network.js';
import { cascadeTransforms } from './transforms.js';

export { oneHotPreviousStage, cascadeInputChannels } from './one-hot.js';
export { binaryDilation, binaryErosion, binaryOpening, binaryClosing, connectedComponents, squaredDistanceTo } from './morphology.js';
export * from './transforms.js';
export { plainConvUNetCascade } from './network.js';

/** Networks this package registers. */
export const networks = [plainConvUNetCascade];

/**
 * Augmentation plugin `nnUNetCascadePreviousStage` (core's `CASCADE_AUGMENTATION`): the cascade's previous-stage
 * transforms for `opts.foregroundLabels`, in nnU-Net's order (`cascadeTransforms`). The core trainer runs them after
 * the configuration's augmentation; validation and prediction use the one-hot transform alone.
 * Throws `Error` without `foregroundLabels`.
 */
export const cascadePreviousStageAugmentation: AugmentationFactory = {
  name: 'nnUNetCascadePreviousStage',
  create(o) {
    if (!o.foregroundLabels) throw new Error('nnUNetCascadePreviousStage: foregroundLabels is required');
    return cascadeTransforms(o.foregroundLabels);
  },
};

/** Registers `PlainConvUNetCascade` (3D) and `nnUNetCascadePreviousStage`. Throws `PluginError` on duplicates unless `override`. */
export function registerDefaults(registry: Registry, opts?: { override?: boolean }): void {
  for (const n of networks) registry.register('network', n, opts);
  registry.register('augmentation', cascadePreviousStageAugmentation, opts);
}

export const plugin: PluginModule = { name: '@nnunet-ts/net-cascade', register: registerDefaults };
