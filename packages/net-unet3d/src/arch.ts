import { NnunetError, type ArchitectureSpec } from '@nnunet-ts/core';

type Triple = [number, number, number];

/** A plans `architecture.arch_kwargs` block resolved to 3D triples (`[z, y, x]`; 2D: z = 1). */
export interface ResolvedArch {
  dims: 2 | 3;
  nStages: number;
  features: number[];
  kernels: Triple[];
  strides: Triple[];
  /** Encoder convs (PlainConvUNet) or residual blocks (ResidualEncoderUNet) per stage. */
  nConvPerStage: number[];
  nConvPerStageDecoder: number[];
  convBias: boolean;
  normEps: number;
  normAffine: boolean;
  /** LeakyReLU negative slope (0 for ReLU). */
  slope: number;
}

function toTriple(v: number[], dims: 2 | 3, what: string): Triple {
  if (!Array.isArray(v) || v.length !== dims) throw new NnunetError(`architecture: ${what} must have ${dims} entries, got ${JSON.stringify(v)}`, { hint: `a ${dims}D network needs ${dims}-entry kernel_sizes/strides` });
  return dims === 2 ? [1, v[0]!, v[1]!] : [v[0]!, v[1]!, v[2]!];
}

/**
 * Reads and validates a plans `architecture` block (arch-dict format, RULES.md §7) for a `dims`-D network.
 * Defaults: eps 1e-5, affine true, LeakyReLU slope 0.01. Throws `NnunetError` on inconsistent lists,
 * a conv_op of the other dimensionality, or a norm/nonlin other than InstanceNorm / LeakyReLU / ReLU.
 */
export function resolveArchitecture(spec: ArchitectureSpec, dims: 2 | 3, encoderKey: 'n_conv_per_stage' | 'n_blocks_per_stage' = 'n_conv_per_stage'): ResolvedArch {
  const k = spec.arch_kwargs;
  const hint = 'check the architecture block of nnUNetPlans.json';
  if (!k) throw new NnunetError('architecture block has no arch_kwargs', { hint });
  const n = k.n_stages;
  const convOp = String(k.conv_op ?? '');
  if (convOp && !convOp.endsWith(`Conv${dims}d`)) throw new NnunetError(`architecture: conv_op ${convOp} does not match a ${dims}D network`, { hint });
  const lists: [string, unknown[] | undefined, number][] = [
    ['features_per_stage', k.features_per_stage, n],
    ['kernel_sizes', k.kernel_sizes, n],
    ['strides', k.strides, n],
    [encoderKey, k[encoderKey] as number[] | undefined, n],
    ['n_conv_per_stage_decoder', k.n_conv_per_stage_decoder, n - 1],
  ];
  for (const [name, v, len] of lists)
    if (!Array.isArray(v) || v.length !== len) throw new NnunetError(`architecture: ${name} must have ${len} entries (n_stages ${n}), got ${JSON.stringify(v)}`, { hint });
  const norm = String(k.norm_op ?? 'InstanceNorm');
  if (!/InstanceNorm/.test(norm)) throw new NnunetError(`architecture: norm_op ${norm} is not supported (InstanceNorm only)`, { hint });
  const nonlin = String(k.nonlin ?? 'LeakyReLU');
  let slope: number;
  if (/LeakyReLU/.test(nonlin)) slope = k.nonlin_kwargs?.negative_slope ?? 0.01;
  else if (/ReLU$/.test(nonlin)) slope = 0;
  else throw new NnunetError(`architecture: nonlin ${nonlin} is not supported (LeakyReLU or ReLU)`, { hint });
  return {
    dims,
    nStages: n,
    features: [...k.features_per_stage],
    kernels: k.kernel_sizes.map((v, i) => toTriple(v, dims, `kernel_sizes[${i}]`)),
    strides: k.strides.map((v, i) => toTriple(v, dims, `strides[${i}]`)),
    nConvPerStage: [...(k[encoderKey] as number[])],
    nConvPerStageDecoder: [...k.n_conv_per_stage_decoder],
    convBias: k.conv_bias ?? true,
    normEps: k.norm_op_kwargs?.eps ?? 1e-5,
    normAffine: k.norm_op_kwargs?.affine ?? true,
    slope,
  };
}
