import type { ArchitectureSpec } from '../contracts/plans.js';

/** What varies between the architecture blocks planners and converters write (RULES.md §7). */
export interface ArchitectureBlockInput {
  /** `network_class_name`; a short name gets the `dynamic_network_architectures.architectures.unet.` prefix. */
  className: string;
  /** Features per stage, e.g. `min(32 * 2^i, 320)`. */
  features: number[];
  /** Conv kernel per stage, `[z, y, x]` (3D) or `[y, x]` (2D). */
  kernelSizes: number[][];
  /** Stride per stage (stage 0 = all 1). */
  strides: number[][];
  /** Convs (PlainConvUNet) or residual blocks (ResidualEncoderUNet) per encoder stage. */
  encoderCounts: number[];
  /** Convs per decoder stage (`n_stages - 1` entries). */
  decoderCounts: number[];
  /** Residual encoder: writes `n_blocks_per_stage` instead of `n_conv_per_stage`. */
  residual?: boolean;
}

/**
 * nnU-Net v2's `architecture` block (plans format >= v2.3.1) with the fixed parts of RULES.md §7: conv bias,
 * InstanceNorm (eps 1e-5, affine), no dropout, LeakyReLU (inplace; PyTorch's default slope 0.01), and the
 * `_kw_requires_import` list. The dimensionality (Conv2d/Conv3d, InstanceNorm2d/3d) follows the kernel length.
 */
export function architectureBlock(a: ArchitectureBlockInput): ArchitectureSpec {
  const dim = a.kernelSizes[0]?.length ?? a.strides[0]?.length ?? 3;
  return {
    network_class_name: a.className.includes('.') ? a.className : `dynamic_network_architectures.architectures.unet.${a.className}`,
    arch_kwargs: {
      n_stages: a.strides.length,
      features_per_stage: [...a.features],
      conv_op: `torch.nn.modules.conv.Conv${dim}d`,
      kernel_sizes: a.kernelSizes.map((k) => [...k]),
      strides: a.strides.map((k) => [...k]),
      ...(a.residual ? { n_blocks_per_stage: [...a.encoderCounts] } : { n_conv_per_stage: [...a.encoderCounts] }),
      n_conv_per_stage_decoder: [...a.decoderCounts],
      conv_bias: true,
      norm_op: `torch.nn.modules.instancenorm.InstanceNorm${dim}d`,
      norm_op_kwargs: { eps: 1e-5, affine: true },
      dropout_op: null,
      dropout_op_kwargs: null,
      nonlin: 'torch.nn.LeakyReLU',
      nonlin_kwargs: { inplace: true },
    },
    _kw_requires_import: ['conv_op', 'norm_op', 'dropout_op', 'nonlin'],
  };
}

/** Features per stage `min(maxFeatures, base * 2^i)` for `nStages` stages (RULES.md §7). */
export function featuresPerStage(nStages: number, base: number, maxFeatures: number): number[] {
  return Array.from({ length: nStages }, (_, i) => Math.min(maxFeatures, base * 2 ** i));
}
