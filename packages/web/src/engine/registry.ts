import { Registry, corePostprocessors, registerPreprocessingDefaults } from '@nnunet-ts/core';
import { registerDefaults as registerUnet3d } from '@nnunet-ts/net-unet3d';
import { registerDefaults as registerUnet2d } from '@nnunet-ts/net-unet2d';
import { registerDefaults as registerCascade } from '@nnunet-ts/net-cascade';

/**
 * The page's registry: core's preprocessing defaults (normalizers, the default resampler) and postprocessors, and
 * the networks of `@nnunet-ts/net-unet3d` / `net-unet2d` (PlainConvUNet, ResidualEncoderUNet) and
 * `@nnunet-ts/net-cascade` (the cascade's network and its previous-stage one-hot transform) -- the same plugins the
 * CLI registers for `predict`, minus readers, writers and backends (the page has its own).
 */
export function createWebRegistry(): Registry {
  const registry = new Registry();
  registerPreprocessingDefaults(registry);
  for (const p of corePostprocessors()) registry.register('postprocessor', p);
  registerUnet3d(registry);
  registerUnet2d(registry);
  registerCascade(registry);
  return registry;
}
