/**
 * @nnunet-ts/net-unet3d: nnU-Net's PlainConvUNet (and ResidualEncoderUNet) for 3D configurations, built from the
 * plans `architecture` block, with explicit backward passes over a `ComputeBackend`.
 */
import type { PluginModule, Registry } from '@nnunet-ts/core';
import { plainConvUNet3d } from './plain-conv-unet.js';
import { residualEncoderUNet3d } from './residual.js';

export { resolveArchitecture, type ResolvedArch } from './arch.js';
export { convNormAct, stackedConvBlocks } from './blocks.js';
export { concatChannels, splitChannels, addInPlace } from './channels.js';
export { UNet } from './unet.js';
export { archSpec } from './arch-spec.js';
export { buildPlainConvUNet, plainConvUNet3d } from './plain-conv-unet.js';
export { AvgPool, BasicBlockD, buildResidualEncoderUNet, residualEncoderUNet3d } from './residual.js';

/** Networks this package registers. */
export const networks = [plainConvUNet3d, residualEncoderUNet3d];

/** Registers `PlainConvUNet` and `ResidualEncoderUNet` (3D). Throws `PluginError` on duplicates unless `override`. */
export function registerDefaults(registry: Registry, opts?: { override?: boolean }): void {
  for (const n of networks) registry.register('network', n, opts);
}

export const plugin: PluginModule = { name: '@nnunet-ts/net-unet3d', register: registerDefaults };
