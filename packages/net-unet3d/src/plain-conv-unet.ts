import { InitRng, resolveDevice, type Module, type NetworkBuildInput, type NetworkFactory } from '@nnunet-ts/core';
import { resolveArchitecture } from './arch.js';
import { stackedConvBlocks } from './blocks.js';
import { UNet } from './unet.js';

/**
 * Builds nnU-Net's `PlainConvUNet` (dynamic_network_architectures, RULES.md §7) from a plans `architecture` block:
 * encoder stage s = `n_conv_per_stage[s]` conv-InstanceNorm-LeakyReLU blocks, the first carrying `strides[s]`;
 * decoder as in `UNet`. He init (a = 1e-2, biases 0) from `input.seed` (default 0).
 * `dims` 2 maps `[ky, kx]` / `[sy, sx]` onto 3D kernels with kz = 1, stride z = 1; inputs then have z = 1.
 * Input `[n, inputChannels, z, y, x]`; outputs `[n, numClasses, ...]`, highest resolution first.
 * Throws `NnunetError` for an inconsistent or unsupported architecture block.
 */
export function buildPlainConvUNet(input: NetworkBuildInput, dims: 2 | 3 = 3): UNet {
  const a = resolveArchitecture(input.architecture, dims);
  const rng = new InitRng(input.seed ?? 0);
  const device = resolveDevice(input);
  const encoder: Module[] = [];
  let cin = input.inputChannels;
  for (let s = 0; s < a.nStages; s++) {
    encoder.push(stackedConvBlocks(device, a, `encoder.stages.${s}.0`, a.nConvPerStage[s]!, cin, a.features[s]!, a.kernels[s]!, a.strides[s]!, rng, s > 0));
    cin = a.features[s]!;
  }
  return new UNet(device, a, encoder, input.numClasses, input.deepSupervision, rng);
}

/** Network plugin `PlainConvUNet` (3D). */
export const plainConvUNet3d: NetworkFactory = {
  name: 'PlainConvUNet',
  dims: 3,
  create: (input) => buildPlainConvUNet(input, 3),
};
