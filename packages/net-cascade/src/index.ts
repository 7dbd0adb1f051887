/**
 * @nnunet-ts/net-cascade: what nnU-Net's 3d_cascade_fullres adds to the 3D U-Net (spec 1.10): the one-hot
 * previous-stage input channels, the two low-res segmentation augmentations, and a `PlainConvUNetCascade` plugin.
 */
import type { PluginModule, Registry } from '@nnunet-ts/core';
import { plainConvUNetCascade } from './network.js';

export { oneHotPreviousStage, cascadeInputChannels } from './one-hot.js';
export { binaryDilation, binaryErosion, binaryOpening, binaryClosing, connectedComponents, squaredDistanceTo } from './morphology.js';
export * from './transforms.js';
export { plainConvUNetCascade } from './network.js';

/** Networks this package registers. */
export const networks = [plainConvUNetCascade];

/** Registers `PlainConvUNetCascade` (3D). Throws `PluginError` on duplicates unless `override`. */
export function registerDefaults(registry: Registry, opts?: { override?: boolean }): void {
  for (const n of networks) registry.register('network', n, opts);
}

export const plugin: PluginModule = { name: '@nnunet-ts/net-cascade', register: registerDefaults };
