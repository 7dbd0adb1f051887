import { Registry, corePostprocessors, registerPreprocessingDefaults } from '@nnunet-ts/core';
import { registerDefaults as registerUnet3d } from '@nnunet-ts/net-unet3d';
import { registerDefaults as registerUnet2d } from '@nnunet-ts/net-unet2d';

/**
 * The page's registry: core's preprocessing defaults (normalizers, the default resampler) and postprocessors, and
 * the networks of `@nnunet-ts/net-unet3d` / `net-unet2d` (PlainConvUNet, ResidualEncoderUNet) -- the same plugins
 * the CLI registers for `predict`, minus readers, writers and backends (the page has its own).
 */
export function createWebRegistry(): Registry {
  const registry = new Registry();
  registerPreprocessingDefaults(registry);
  for (const p of corePostprocessors()) registry.register('postprocessor', p);
  registerUnet3d(registry);
  registerUnet2d(registry);
  return registry;
}
