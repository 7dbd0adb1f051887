import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { InitRng, Registry, backwardHost, forwardHost, gradCheck, referenceBackend, type ArchitectureSpec, type Plans, type Tensor } from '@nnunet-ts/core';
import { buildPlainConvUNet, registerDefaults } from './index.js';
import { archSpec } from './arch-spec.js';

const be = referenceBackend();

const k3 = [3, 3, 3];
const SHARED = process.env.NNUNET_SHARED ?? resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..', 'shared');
const hippoStrides = [[1, 1, 1], [2, 2, 2], [2, 2, 2], [2, 2, 2]];

describe('PlainConvUNet (3D)', () => {
  it('Hippocampus 3d_fullres: parameter count equals dynamic_network_architectures', () => {
    const net = buildPlainConvUNet({ architecture: archSpec([32, 64, 128, 256], [k3, k3, k3, k3], hippoStrides), inputChannels: 1, numClasses: 3, deepSupervision: true, backend: be, seed: 1 });
    const count = net.parameters.reduce((a, p) => a + p.value.length, 0);
    // By hand (1 input channel, 3 classes, conv_bias, affine IN; every seg head exists in PyTorch):
    // encoder  28,704 + 166,272 + 664,320 + 2,655,744 = 3,515,040
    // decoder  (transp 262,272 + convs 1,327,872 + seg 387) + (65,600 + 332,160 + 195) + (16,416 + 83,136 + 99) = 2,088,137
    expect(count).toBe(5_603_177);
    expect(net.parameters[0]!.name).toBe('encoder.stages.0.0.convs.0.conv.weight');
    expect(net.parameters[0]!.shape).toEqual([32, 1, 3, 3, 3]);
    const names = net.parameters.map((p) => p.name);
    expect(names).toContain('decoder.transpconvs.0.weight');
    expect(net.parameters.find((p) => p.name === 'decoder.transpconvs.0.weight')!.shape).toEqual([256, 128, 2, 2, 2]);
    expect(net.parameters.find((p) => p.name === 'decoder.stages.2.convs.0.conv.weight')!.shape).toEqual([32, 64, 3, 3, 3]);
    expect(names[names.length - 1]).toBe('decoder.seg_layers.2.bias');
    expect(new Set(names).size).toBe(names.length);
  });

  it('Hippocampus 3d_fullres patch 40x56x40: output shapes (tiny features, batch 1)', () => {
    const net = buildPlainConvUNet({ architecture: archSpec([2, 2, 2, 2], [k3, k3, k3, k3], hippoStrides), inputChannels: 1, numClasses: 3, deepSupervision: true, backend: be, seed: 1 });
    const x: Tensor = { data: new Float32Array(40 * 56 * 40).map((_, i) => Math.sin(i)), shape: [1, 1, 40, 56, 40] };
    const outs = forwardHost(net, x, false);
    expect(outs.map((o) => o.shape)).toEqual([
      [1, 3, 40, 56, 40],
      [1, 3, 20, 28, 20],
      [1, 3, 10, 14, 10],
    ]);
    net.setDeepSupervision(false);
    expect(forwardHost(net, x, false).map((o) => o.shape)).toEqual([[1, 3, 40, 56, 40]]);
    expect(outs[0]!.data.every((v) => Number.isFinite(v))).toBe(true);
  });

  it('uppect 3d_fullres plan (kernels 1x3x3, strides [1,2,2] then [2,2,2]): shapes on an 8x32x32 patch, tiny features', () => {
    const plans = JSON.parse(readFileSync(resolve(SHARED, 'reference/plans/uppect_ct_stmerce/nnUNetPlans.json'), 'utf8')) as Plans;
    const a = plans.configurations['3d_fullres']!.architecture!;
    const tiny: ArchitectureSpec = { ...a, arch_kwargs: { ...a.arch_kwargs, features_per_stage: [1, 1, 1, 1, 1, 1] } };
    const net = buildPlainConvUNet({ architecture: tiny, inputChannels: 1, numClasses: 2, deepSupervision: true, backend: be });
    expect(net.parameters.find((p) => p.name === 'decoder.transpconvs.4.weight')!.shape).toEqual([1, 1, 1, 2, 2]);
    expect(net.parameters[0]!.shape).toEqual([1, 1, 1, 3, 3]);
    const x: Tensor = { data: new Float32Array(8 * 32 * 32).map((_, i) => Math.sin(i)), shape: [1, 1, 8, 32, 32] };
    expect(forwardHost(net, x, false).map((o) => o.shape)).toEqual([
      [1, 2, 8, 32, 32],
      [1, 2, 8, 16, 16],
      [1, 2, 8, 8, 8],
      [1, 2, 4, 4, 4],
      [1, 2, 2, 2, 2],
    ]);
  });

  it('registers as PlainConvUNet@3d and resolves dotted names', () => {
    const reg = new Registry();
    registerDefaults(reg);
    expect(reg.get('network', 'dynamic_network_architectures.architectures.unet.PlainConvUNet', 3).dims).toBe(3);
    expect(() => registerDefaults(reg)).toThrow(/already registered/);
  });

  it('rejects inconsistent architecture blocks', () => {
    const bad = archSpec([4, 8], [k3, k3], [[1, 1, 1], [2, 2, 2]]);
    bad.arch_kwargs.n_conv_per_stage_decoder = [2, 2];
    expect(() => buildPlainConvUNet({ architecture: bad, inputChannels: 1, numClasses: 2, deepSupervision: false, backend: be })).toThrow(/n_conv_per_stage_decoder/);
    expect(() => buildPlainConvUNet({ architecture: archSpec([4, 8], [k3, k3], [[1, 1, 1], [2, 2, 2]], 'Conv2d'), inputChannels: 1, numClasses: 2, deepSupervision: false, backend: be })).toThrow(/Conv2d/);
  });

  it('tiny 3-stage UNet: analytic gradients match finite differences (all outputs, deep supervision)', () => {
    // negative_slope 1 removes the LeakyReLU kinks, which make central differences of a whole network unreliable;
    // the kinked path is checked per layer in core/src/nn. This checks the wiring: skips, concat, transposed convs,
    // deep supervision heads, parameter order.
    const net = buildPlainConvUNet({
      architecture: archSpec([2, 3, 4], [[1, 3, 3], k3, k3], [[1, 1, 1], [1, 2, 2], [2, 2, 2]], 'Conv3d', 1),
      inputChannels: 1,
      numClasses: 2,
      deepSupervision: true,
      backend: be,
      seed: 3,
    });
    const rng = new InitRng(11);
    const x: Tensor = { data: Float32Array.from({ length: 4 * 8 * 8 * 2 }, () => rng.normal()), shape: [2, 1, 4, 8, 8] };
    const outs0 = forwardHost(net, x, true);
    expect(outs0.map((o) => o.shape)).toEqual([[2, 2, 4, 8, 8], [2, 2, 4, 4, 4]]);
    const rs = outs0.map((o) => Float64Array.from({ length: o.data.length }, () => rng.normal()));
    const f = (): number => {
      net.pushParameters();
      const outs = forwardHost(net, x, false);
      let s = 0;
      outs.forEach((o, l) => o.data.forEach((v, i) => (s += rs[l]![i]! * v)));
      return s;
    };
    backwardHost(net, rs.map((r, l) => ({ data: Float32Array.from(r), shape: outs0[l]!.shape })));
    let worst = 0;
    let checked = 0;
    for (const p of net.parameters) {
      const g = Float32Array.from(p.grad);
      if (/\.conv\.bias$/.test(p.name)) {
        // a bias followed by InstanceNorm has zero gradient
        for (const v of g) expect(Math.abs(v)).toBeLessThan(1e-3);
        continue;
      }
      worst = Math.max(worst, gradCheck(f, p.value, g, [0, Math.floor(p.value.length / 2), p.value.length - 1], 1e-2, 1e-2));
      checked++;
    }
    expect(checked).toBe(38);
    expect(worst).toBeLessThan(5e-3);
  });

  it('deep supervision off equals deep supervision on with a null low-resolution gradient', () => {
    const mk = (ds: boolean) =>
      buildPlainConvUNet({ architecture: archSpec([2, 3, 3], [k3, k3, k3], [[1, 1, 1], [2, 2, 2], [1, 2, 2]]), inputChannels: 2, numClasses: 3, deepSupervision: ds, backend: be, seed: 5 });
    const a = mk(true);
    const b = mk(false);
    const x: Tensor = { data: Float32Array.from({ length: 2 * 4 * 4 * 4 }, (_, i) => Math.cos(i * 0.7)), shape: [1, 2, 4, 4, 4] };
    const oa = forwardHost(a, x, true);
    const ob = forwardHost(b, x, true);
    expect(oa.length).toBe(2);
    expect(ob.length).toBe(1);
    expect(Array.from(ob[0]!.data)).toEqual(Array.from(oa[0]!.data));
    const g = { data: Float32Array.from({ length: oa[0]!.data.length }, (_, i) => Math.sin(i)), shape: oa[0]!.shape };
    backwardHost(a, [g, null]);
    backwardHost(b, [g]);
    a.parameters.forEach((p, i) => expect(Array.from(p.grad)).toEqual(Array.from(b.parameters[i]!.grad)));
    expect(() => backwardHost(b, [g])).toThrow(/forward/);
  });
});
