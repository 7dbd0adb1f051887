import type { ArchitectureSpec } from '@nnunet-ts/core';

/**
 * A PlainConvUNet `architecture` block in nnU-Net's arch-dict format (RULES.md §7 defaults: 2 convs per stage,
 * conv bias, InstanceNorm eps 1e-5 affine, LeakyReLU), for tests and hand-made plans. `kernels`/`strides` per
 * stage with 3 entries (`Conv3d`) or 2 (`Conv2d`); `slope` sets `nonlin_kwargs.negative_slope` when given.
 */
export function archSpec(features: number[], kernels: number[][], strides: number[][], conv = 'Conv3d', slope?: number): ArchitectureSpec {
  const n = features.length;
  return {
    network_class_name: 'dynamic_network_architectures.architectures.unet.PlainConvUNet',
    arch_kwargs: {
      n_stages: n,
      features_per_stage: features,
      conv_op: `torch.nn.modules.conv.${conv}`,
      kernel_sizes: kernels,
      strides,
      n_conv_per_stage: new Array(n).fill(2),
      n_conv_per_stage_decoder: new Array(n - 1).fill(2),
      conv_bias: true,
      norm_op: 'torch.nn.modules.instancenorm.InstanceNorm3d',
      norm_op_kwargs: { eps: 1e-5, affine: true },
      dropout_op: null,
      dropout_op_kwargs: null,
      nonlin: 'torch.nn.LeakyReLU',
      nonlin_kwargs: slope === undefined ? { inplace: true } : { inplace: true, negative_slope: slope },
    },
    _kw_requires_import: ['conv_op', 'norm_op', 'dropout_op', 'nonlin'],
  };
}

