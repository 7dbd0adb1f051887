/**
 * @nnunet-ts/augment: nnU-Net's training augmentations (RULES.md §17) as `Transform`s, the `nnUNetDefault`,
 * `nnUNetNoDA` and `mirrorOnly` augmentation plugins, and the seeded `Rng` (`createRng`, re-exported from core).
 */
import type { PluginModule, Registry } from '@nnunet-ts/core';
import { augmentationPlugins } from './factories.js';

export { createRng, SeededRng, type RngState } from '@nnunet-ts/core';
export * from './compose.js';
export * from './spatial.js';
export * from './intensity.js';
export * from './blur.js';
export * from './lowres.js';
export * from './factories.js';

/** Register `nnUNetDefault`, `nnUNetNoDA` and `mirrorOnly`; a duplicate throws unless `override`. */
export function registerDefaults(registry: Registry, opts: { override?: boolean } = {}): void {
  for (const p of augmentationPlugins) registry.register('augmentation', p, opts);
}

/** Plugin module of this package. */
export const plugin: PluginModule = { name: '@nnunet-ts/augment', register: registerDefaults };
