import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { HostDeviceBackend, InitRng, Registry, backwardHost, forwardHost, gradCheck, hostModule, referenceBackend, type ArchitectureSpec, type Plans, type Tensor } from '@nnunet-ts/core';
import { AvgPool, buildResidualEncoderUNet, registerDefaults } from './index.js';

const dev = new HostDeviceBackend(referenceBackend(), { name: 'reference' });
const SHARED = process.env.NNUNET_SHARED ?? resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..', 'shared');
const be = referenceBackend();

/** Parameter count of a ResidualEncoderUNet from its arch block (stem, BasicBlockD stages, plain decoder). */
function expectedCount(a: ArchitectureSpec['arch_kwargs'], cin: number, K: number): number {
  const f = a.features_per_stage;
  const kp = (k: number[]) => k.reduce((x, y) => x * y, 1);
  const conv = (ci: number, co: number, kk: number, bias = true) => ci * co * kk + (bias ? co : 0) + 2 * co;
  let n = conv(cin, f[0]!, kp(a.kernel_sizes[0]!));
  let c = f[0]!;
  f.forEach((co, s) => {
    for (let i = 0; i < a.n_blocks_per_stage![s]!; i++) {
      const ci = i ? co : c;
      n += conv(ci, co, kp(a.kernel_sizes[s]!)) + conv(co, co, kp(a.kernel_sizes[s]!)) + (ci !== co ? conv(ci, co, 1, false) : 0);
    }
    c = co;
  });
  for (let s = 1; s < f.length; s++) {
    const below = f[f.length - s]!;
    const skip = f[f.length - s - 1]!;
    n += below * skip * kp(a.strides[f.length - s]!) + skip + conv(2 * skip, skip, kp(a.kernel_sizes[f.length - s - 1]!)) * a.n_conv_per_stage_decoder[s - 1]! + skip * K + K;
  }
  return n;
}

describe('ResidualEncoderUNet', () => {
  const plans = JSON.parse(readFileSync(resolve(SHARED, 'reference/plans/isles26_t1w_mri_resenc_PARTIAL/nnUNetResEncUNetMPlans.json'), 'utf8')) as Plans;
  const a3 = plans.configurations['3d_fullres']!.architecture!;

  it('ResEnc M 3d_fullres block structure (features / 16): parameter count, PyTorch names, shapes', () => {
    // full-width count by the same formula: 102,349,770 for 1 channel and 2 classes (too big to allocate in a test)
    expect(expectedCount(a3.arch_kwargs, 1, 2)).toBe(102_349_770);
    const small: ArchitectureSpec = { ...a3, arch_kwargs: { ...a3.arch_kwargs, features_per_stage: [2, 4, 8, 16, 20, 20] } };
    const net = buildResidualEncoderUNet({ architecture: small, inputChannels: 1, numClasses: 2, deepSupervision: true, backend: be });
    expect(net.parameters.reduce((s, p) => s + p.value.length, 0)).toBe(expectedCount(small.arch_kwargs, 1, 2));
    const names = net.parameters.map((p) => p.name);
    expect(names[0]).toBe('encoder.stem.convs.0.conv.weight');
    expect(names).toContain('encoder.stages.1.blocks.0.skip.1.conv.weight');
    expect(names).not.toContain('encoder.stages.1.blocks.0.skip.1.conv.bias');
    expect(names).toContain('encoder.stages.5.blocks.5.conv2.norm.bias');
    expect(names).not.toContain('encoder.stages.5.blocks.0.skip.1.conv.weight'); // 20 -> 20: pool only
    // init_last_bn_before_add_to_0: every block's conv2 norm starts at 0 (weight and bias); conv1's weight at 1
    const byName = new Map(net.parameters.map((p) => [p.name, p.value]));
    const conv2 = names.filter((n) => /blocks\.\d+\.conv2\.norm\.(weight|bias)$/.test(n));
    expect(conv2).toHaveLength(2 * (a3.arch_kwargs.n_blocks_per_stage as number[]).reduce((s, v) => s + v, 0));
    for (const n of conv2) expect(Array.from(byName.get(n)!).every((v) => v === 0), n).toBe(true);
    expect(Array.from(byName.get('encoder.stages.0.blocks.0.conv1.norm.weight')!).every((v) => v === 1)).toBe(true);
    const x: Tensor = { data: new Float32Array(32 * 32 * 32).map((_, i) => Math.sin(i * 0.3)), shape: [1, 1, 32, 32, 32] };
    expect(forwardHost(net, x, false).map((o) => o.shape)).toEqual([
      [1, 2, 32, 32, 32],
      [1, 2, 16, 16, 16],
      [1, 2, 8, 8, 8],
      [1, 2, 4, 4, 4],
      [1, 2, 2, 2, 2],
    ]);
  });

  it('avg pool (kernel = stride) forward and backward', () => {
    const p = hostModule(dev, new AvgPool(dev, [1, 2, 2]));
    const y = p.forward({ data: Float32Array.of(1, 2, 3, 4, 5, 6, 7, 8), shape: [1, 1, 1, 2, 4] }, true);
    expect(y.shape).toEqual([1, 1, 1, 1, 2]);
    expect(Array.from(y.data)).toEqual([3.5, 5.5]);
    expect(Array.from(p.backward({ data: Float32Array.of(4, 8), shape: y.shape })!.data)).toEqual([1, 1, 2, 2, 1, 1, 2, 2]);
  });

  it('tiny ResEnc: analytic gradients match finite differences (slope 1, strided + projected and identity blocks)', () => {
    const arch: ArchitectureSpec = {
      ...a3,
      arch_kwargs: {
        ...a3.arch_kwargs,
        n_stages: 3,
        features_per_stage: [2, 3, 3],
        kernel_sizes: [[1, 3, 3], [3, 3, 3], [3, 3, 3]],
        strides: [[1, 1, 1], [1, 2, 2], [2, 2, 2]],
        n_blocks_per_stage: [1, 2, 1],
        n_conv_per_stage_decoder: [1, 1],
        nonlin_kwargs: { inplace: true, negative_slope: 1 },
      },
    };
    const net = buildResidualEncoderUNet({ architecture: arch, inputChannels: 1, numClasses: 2, deepSupervision: true, backend: be, seed: 2 });
    const rng = new InitRng(4);
    const x: Tensor = { data: Float32Array.from({ length: 2 * 4 * 8 * 8 }, () => rng.normal()), shape: [2, 1, 4, 8, 8] };
    const outs0 = forwardHost(net, x, true);
    const rs = outs0.map((o) => Float64Array.from({ length: o.data.length }, () => rng.normal()));
    const f = (): number => {
      let s = 0;
      net.pushParameters();
      forwardHost(net, x, false).forEach((o, l) => o.data.forEach((v, i) => (s += rs[l]![i]! * v)));
      return s;
    };
    backwardHost(net, rs.map((r, l) => ({ data: Float32Array.from(r), shape: outs0[l]!.shape })));
    let worst = 0;
    for (const p of net.parameters) {
      const g = Float32Array.from(p.grad);
      if (/\.conv\.bias$/.test(p.name)) continue; // followed by InstanceNorm: zero gradient
      worst = Math.max(worst, gradCheck(f, p.value, g, [0, Math.floor(p.value.length / 2), p.value.length - 1], 1e-2, 1e-2));
    }
    expect(worst).toBeLessThan(5e-3);
  });

  it('registers ResidualEncoderUNet@3d', () => {
    const reg = new Registry();
    registerDefaults(reg);
    expect(reg.get('network', 'dynamic_network_architectures.architectures.unet.ResidualEncoderUNet', 3).name).toBe('ResidualEncoderUNet');
  });
});
