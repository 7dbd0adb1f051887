import { Conv, InstanceNorm, InitRng, Sequential, type DeviceBackend, type Module } from '@nnunet-ts/core';
import type { ResolvedArch } from './arch.js';

type Triple = [number, number, number];

/**
 * nnU-Net's `ConvDropoutNormReLU`: conv (padding k // 2, bias per plans) -> InstanceNorm -> LeakyReLU, with norm
 * and nonlinearity fused in one layer. Parameters `<name>.conv.*`, `<name>.norm.*` (PyTorch names).
 */
export function convNormAct(
  device: DeviceBackend,
  a: ResolvedArch,
  name: string,
  cin: number,
  cout: number,
  kernel: Triple,
  stride: Triple,
  rng: InitRng,
  needsInputGrad = true,
  withAct = true,
): Sequential {
  return new Sequential(device, [
    new Conv(device, { name: `${name}.conv`, inChannels: cin, outChannels: cout, kernel, stride, bias: a.convBias, rng, needsInputGrad }),
    new InstanceNorm(device, { name: `${name}.norm`, channels: cout, eps: a.normEps, affine: a.normAffine, leakySlope: withAct ? a.slope : undefined }),
  ]);
}

/**
 * nnU-Net's `StackedConvBlocks`: `n` conv-norm-nonlin blocks, the first one `cin -> cout` with `stride`, the rest
 * `cout -> cout` stride 1 (`<name>.convs.<i>`).
 */
export function stackedConvBlocks(
  device: DeviceBackend,
  a: ResolvedArch,
  name: string,
  n: number,
  cin: number,
  cout: number,
  kernel: Triple,
  stride: Triple,
  rng: InitRng,
  firstNeedsInputGrad = true,
): Module {
  const blocks: Module[] = [];
  for (let i = 0; i < n; i++)
    blocks.push(convNormAct(device, a, `${name}.convs.${i}`, i === 0 ? cin : cout, cout, kernel, i === 0 ? stride : [1, 1, 1], rng, i > 0 || firstNeedsInputGrad));
  return new Sequential(device, blocks);
}
