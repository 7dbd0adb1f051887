import type { NetworkFactory } from '@nnunet-ts/core';
import { buildPlainConvUNet } from '@nnunet-ts/net-unet3d';

/**
 * Network plugin `PlainConvUNetCascade` (3D): nnU-Net's 3d_cascade_fullres network, a `PlainConvUNet` whose input
 * has the image channels plus one one-hot channel per foreground label (RULES.md §10). `input.inputChannels` is the
 * number of IMAGE channels; `numClasses - 1` channels are added (foreground labels = all classes but background).
 * A trainer that already counts the one-hot channels uses `PlainConvUNet` with `cascadeInputChannels(...)` instead.
 */
export const plainConvUNetCascade: NetworkFactory = {
  name: 'PlainConvUNetCascade',
  dims: 3,
  create: (input) => buildPlainConvUNet({ ...input, inputChannels: input.inputChannels + input.numClasses - 1 }, 3),
};
