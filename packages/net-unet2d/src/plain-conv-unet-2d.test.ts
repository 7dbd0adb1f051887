import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Registry, backwardHost, forwardHost, referenceBackend, type ArchitectureSpec, type Plans, type Tensor } from '@nnunet-ts/core';
import { registerDefaults as register3d } from '@nnunet-ts/net-unet3d';
import { buildPlainConvUNet2d, registerDefaults } from './index.js';

const SHARED = process.env.NNUNET_SHARED ?? resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..', 'shared');
const be = referenceBackend();

/** Parameter count of a PlainConvUNet computed from the arch block alone (independent of the implementation). */
function expectedCount(a: ArchitectureSpec['arch_kwargs'], cin: number, K: number): number {
  const f = a.features_per_stage;
  const kp = (k: number[]) => k.reduce((x, y) => x * y, 1);
  const conv = (ci: number, co: number, k: number[]) => ci * co * kp(k) + co + 2 * co; // weight + bias + IN affine
  let n = 0;
  let c = cin;
  f.forEach((co, s) => {
    for (let i = 0; i < a.n_conv_per_stage![s]!; i++) n += conv(i ? co : c, co, a.kernel_sizes[s]!);
    c = co;
  });
  for (let s = 1; s < f.length; s++) {
    const below = f[f.length - s]!;
    const skip = f[f.length - s - 1]!;
    n += below * skip * kp(a.strides[f.length - s]!) + skip;
    for (let i = 0; i < a.n_conv_per_stage_decoder[s - 1]!; i++) n += conv(i ? skip : 2 * skip, skip, a.kernel_sizes[f.length - s - 1]!);
    n += skip * K + K;
  }
  return n;
}

function reg2d(): Registry {
  const reg = new Registry();
  registerDefaults(reg);
  return reg;
}

describe('PlainConvUNet (2D)', () => {
  const plans = JSON.parse(readFileSync(resolve(SHARED, 'reference/plans/msseg_mri_navasi/nnUNetPlans.json'), 'utf8')) as Plans;
  const arch2d = plans.configurations['2d']!.architecture!;

  it('msseg 2d plan (6 stages, 32..512 features, patch 160x224): parameter count and names', () => {
    const net = buildPlainConvUNet2d({ architecture: arch2d, inputChannels: 1, numClasses: 2, deepSupervision: true, backend: be, seed: 0 });
    const count = net.parameters.reduce((s, p) => s + p.value.length, 0);
    expect(count).toBe(expectedCount(arch2d.arch_kwargs, 1, 2));
    // by hand: encoder 384 + 9,312 | 18,624 + 37,056 | 74,112 + 147,840 | 295,680 + 590,592 | 1,181,184 + 2,360,832 |
    // 2 x 2,360,832 = 9,437,280; decoder (transp + convs + seg per stage, lowest first) 8,131,074 + 2,296,066 +
    // 574,594 + 143,938 + 36,130 = 11,181,802
    expect(count).toBe(20_619_082);
    expect(net.parameters[0]!.shape).toEqual([32, 1, 1, 3, 3]);
  });

  it('msseg 2d plan with tiny features: output shapes for the 160x224 patch', () => {
    const tiny: ArchitectureSpec = { ...arch2d, arch_kwargs: { ...arch2d.arch_kwargs, features_per_stage: [1, 1, 1, 1, 1, 1] } };
    const net = buildPlainConvUNet2d({ architecture: tiny, inputChannels: 1, numClasses: 2, deepSupervision: true, backend: be });
    const x: Tensor = { data: new Float32Array(160 * 224).map((_, i) => Math.sin(i)), shape: [1, 1, 1, 160, 224] };
    expect(forwardHost(net, x, false).map((o) => o.shape)).toEqual([
      [1, 2, 1, 160, 224],
      [1, 2, 1, 80, 112],
      [1, 2, 1, 40, 56],
      [1, 2, 1, 20, 28],
      [1, 2, 1, 10, 14],
    ]);
  });

  it('anisotropic 2D strides (no reference 2d plan has them; built from the msseg block): shapes and counts', () => {
    const k = arch2d.arch_kwargs;
    const aniso: ArchitectureSpec = {
      ...arch2d,
      arch_kwargs: { ...k, n_stages: 4, features_per_stage: [2, 3, 4, 5], kernel_sizes: [[3, 3], [3, 1], [3, 3], [1, 3]], strides: [[1, 1], [2, 1], [2, 2], [1, 2]], n_conv_per_stage: [2, 2, 2, 2], n_conv_per_stage_decoder: [1, 2, 1] },
    };
    const net = buildPlainConvUNet2d({ architecture: aniso, inputChannels: 2, numClasses: 3, deepSupervision: true, backend: be });
    expect(net.parameters.reduce((s, p) => s + p.value.length, 0)).toBe(expectedCount(aniso.arch_kwargs, 2, 3));
    const x: Tensor = { data: new Float32Array(2 * 2 * 12 * 8).map((_, i) => Math.cos(i)), shape: [2, 2, 1, 12, 8] };
    const outs = forwardHost(net, x, true);
    expect(outs.map((o) => o.shape)).toEqual([[2, 3, 1, 12, 8], [2, 3, 1, 6, 8], [2, 3, 1, 3, 4]]);
    expect(net.parameters.find((p) => p.name === 'decoder.transpconvs.0.weight')!.shape).toEqual([5, 4, 1, 1, 2]);
    backwardHost(net, outs.map((o) => ({ data: new Float32Array(o.data.length).fill(0.1), shape: o.shape })));
    expect(net.parameters.every((p) => p.grad.every((v) => Number.isFinite(v)))).toBe(true);
  });

  it('ResEnc M 2d plan (features / 16): shapes on a 32x32 patch', () => {
    const p = JSON.parse(readFileSync(resolve(SHARED, 'reference/plans/isles26_t1w_mri_resenc_PARTIAL/nnUNetResEncUNetMPlans.json'), 'utf8')) as Plans;
    const a = p.configurations['2d']!.architecture!;
    const small: ArchitectureSpec = { ...a, arch_kwargs: { ...a.arch_kwargs, features_per_stage: [2, 4, 8, 16, 32, 32] } };
    const net = reg2d().get('network', a.network_class_name, 2).create({ architecture: small, inputChannels: 1, numClasses: 2, deepSupervision: false, backend: be });
    expect(net.parameters[0]!.name).toBe('encoder.stem.convs.0.conv.weight');
    const x: Tensor = { data: new Float32Array(32 * 32).map((_, i) => Math.cos(i)), shape: [1, 1, 1, 32, 32] };
    expect(forwardHost(net, x, false).map((o) => o.shape)).toEqual([[1, 2, 1, 32, 32]]);
  });

  it('registers next to the 3D network and rejects 3D blocks', () => {
    const reg = new Registry();
    register3d(reg);
    registerDefaults(reg);
    expect(reg.get('network', 'PlainConvUNet', 2).dims).toBe(2);
    expect(reg.get('network', 'PlainConvUNet', 3).dims).toBe(3);
    expect(reg.get('network', 'ResidualEncoderUNet', 2).dims).toBe(2);
    const a3 = plans.configurations['3d_fullres']!.architecture!;
    expect(() => buildPlainConvUNet2d({ architecture: a3, inputChannels: 1, numClasses: 2, deepSupervision: false, backend: be })).toThrow(/Conv3d/);
  });
});
