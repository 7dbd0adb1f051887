/**
 * @nnunet-ts/net-unet2d: nnU-Net's PlainConvUNet for 2d configurations (RULES.md §7: dynamic_network_architectures
 * `PlainConvUNet` with `Conv2d`). Same building blocks as the 3D network (net-unet3d) with `[ky, kx]` kernels mapped
 * to `[1, ky, kx]`, strides to `[1, sy, sx]`, and tensors `[n, c, 1, y, x]`.
 */
import { type NetworkFactory, type PluginModule, type Registry } from '@nnunet-ts/core';
import { buildPlainConvUNet, buildResidualEncoderUNet } from '@nnunet-ts/net-unet3d';

/** Network plugin `PlainConvUNet` (2D): input `[n, c, 1, y, x]`, outputs `[n, K, 1, y', x']`. */
export const plainConvUNet2d: NetworkFactory = {
  name: 'PlainConvUNet',
  dims: 2,
  create: (input) => buildPlainConvUNet(input, 2),
};

/** Network plugin `ResidualEncoderUNet` (2D, nnU-Net ResEnc presets). */
export const residualEncoderUNet2d: NetworkFactory = {
  name: 'ResidualEncoderUNet',
  dims: 2,
  create: (input) => buildResidualEncoderUNet(input, 2),
};

/** Builds the 2D PlainConvUNet directly (see `buildPlainConvUNet` in net-unet3d). */
export function buildPlainConvUNet2d(input: Parameters<NetworkFactory['create']>[0]) {
  return buildPlainConvUNet(input, 2);
}

/** Networks this package registers. */
export const networks = [plainConvUNet2d, residualEncoderUNet2d];

/** Registers `PlainConvUNet` and `ResidualEncoderUNet` (2D). Throws `PluginError` on duplicates unless `override`. */
export function registerDefaults(registry: Registry, opts?: { override?: boolean }): void {
  for (const n of networks) registry.register('network', n, opts);
}

export const plugin: PluginModule = { name: '@nnunet-ts/net-unet2d', register: registerDefaults };
