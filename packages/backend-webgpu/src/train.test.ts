/**
 * A small training run on `webgpu` over SwiftShader: a two-stage U-Net-like block (strided conv down, instance
 * norm + LeakyReLU, transposed conv up, skip concat, 1x1x1 head with deep supervision on two outputs), nnU-Net's
 * train_step on the device contract (DC+CE with downsampled targets, backward, clip 12, SGD Nesterov), 6 steps
 * from the same initial weights as on cpu-js (float64-checked host backend): the loss curves agree to 1e-4 and the
 * loss decreases. Shapes are tiny because SwiftShader runs shaders on the CPU.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { DeviceBackend, DeviceTensor } from '@nnunet-ts/core';
import { createCpuJsDevice } from '@nnunet-ts/backend-cpu';
import { webgpuPlugin } from './plugin.js';

const r = (n: number, s: number, a = 1): Float32Array => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 12.9898 + s * 78.233) * a);
const S = [8, 8, 8];
const P1 = { stride: [1, 1, 1] as [number, number, number], padding: [1, 1, 1] as [number, number, number] };
const P2 = { stride: [2, 2, 2] as [number, number, number], padding: [0, 0, 0] as [number, number, number] };
const P0 = { stride: [1, 1, 1] as [number, number, number], padding: [0, 0, 0] as [number, number, number] };

function params(be: DeviceBackend): Record<string, { v: DeviceTensor; g: DeviceTensor; m: DeviceTensor }> {
  const shapes: Record<string, number[]> = { w1: [4, 1, 3, 3, 3], w2: [8, 4, 2, 2, 2], wu: [8, 4, 2, 2, 2], w3: [4, 8, 3, 3, 3], h0: [3, 4, 1, 1, 1], h1: [3, 8, 1, 1, 1] };
  const out: Record<string, { v: DeviceTensor; g: DeviceTensor; m: DeviceTensor }> = {};
  Object.entries(shapes).forEach(([k, s], i) => {
    const n = s.reduce((a, b) => a * b, 1);
    out[k] = { v: be.upload(r(n, i + 1, Math.sqrt(2 / (n / s[0]!))), s), g: be.zeros(s), m: be.zeros(s) };
  });
  return out;
}

async function train(be: DeviceBackend, steps: number): Promise<number[]> {
  const p = params(be);
  const x = be.upload(r(512, 9), [1, 1, ...S]);
  const lab = Int32Array.from({ length: 512 }, (_, i) => ((i % 8) + (i >> 6)) % 3);
  const losses: number[] = [];
  for (let s = 0; s < steps; s++) {
    be.beginScope();
    const t = be.uploadLabels(lab, [1, 1, ...S]);
    const c1 = be.conv(x, p['w1']!.v, null, P1);
    const n1 = be.instanceNorm(c1, null, null, { eps: 1e-5, leakySlope: 0.01, training: true });
    const c2 = be.conv(n1.y, p['w2']!.v, null, P2);
    const n2 = be.instanceNorm(c2, null, null, { eps: 1e-5, leakySlope: 0.01, training: true });
    const up = be.convBackwardData(n2.y, p['wu']!.v, [1, 4, ...S], P2);
    const cat = be.concatChannels([up, n1.y]);
    const c3 = be.conv(cat, p['w3']!.v, null, P1);
    const out0 = be.conv(c3, p['h0']!.v, null, P0);
    const out1 = be.conv(n2.y, p['h1']!.v, null, P0);
    const t1 = be.downsampleLabels(t, [1, 1, 4, 4, 4]);
    const loss = be.dcCeLoss([out0, out1], [t, t1], { weights: [2 / 3, 1 / 3], batchDice: true, doBackground: false, smooth: 1e-5 });
    const [g0, g1] = loss.grads as [DeviceTensor, DeviceTensor];
    be.convBackwardFilter(c3, g0, P0, { weight: p['h0']!.g, bias: null, accumulate: false });
    be.convBackwardFilter(n2.y, g1, P0, { weight: p['h1']!.g, bias: null, accumulate: false });
    const dc3 = be.convBackwardData(g0, p['h0']!.v, c3.shape, P0);
    be.convBackwardFilter(cat, dc3, P1, { weight: p['w3']!.g, bias: null, accumulate: false });
    const [dup, dn1a] = be.splitChannels(be.convBackwardData(dc3, p['w3']!.v, cat.shape, P1), [4, 4]) as [DeviceTensor, DeviceTensor];
    be.convBackwardFilter(dup, n2.y, P2, { weight: p['wu']!.g, bias: null, accumulate: false });
    const dn2 = be.conv(dup, p['wu']!.v, null, P2);
    be.axpy(1, be.convBackwardData(g1, p['h1']!.v, n2.y.shape, P0), dn2);
    const dc2 = be.instanceNormBackward(dn2, n2.state!, null, null, 0.01, { weight: null, bias: null, accumulate: false });
    be.convBackwardFilter(n1.y, dc2, P2, { weight: p['w2']!.g, bias: null, accumulate: false });
    const dn1 = be.convBackwardData(dc2, p['w2']!.v, n1.y.shape, P2);
    be.axpy(1, dn1a, dn1);
    const dc1 = be.instanceNormBackward(dn1, n1.state!, null, null, 0.01, { weight: null, bias: null, accumulate: false });
    be.convBackwardFilter(x, dc1, P1, { weight: p['w1']!.g, bias: null, accumulate: false });
    const list = Object.values(p);
    const clip = be.clipGradNorm(list.map((q) => q.g), 12, 1);
    be.sgdStep(list.map((q) => q.v), list.map((q) => q.g), list.map((q) => q.m), list.map(() => true), { lr: 0.01, momentum: 0.99, nesterov: true, weightDecay: 3e-5 }, clip);
    losses.push((await be.read(loss.values))[0]!);
    be.endScope();
  }
  return losses;
}

let gpu: DeviceBackend | undefined;
afterAll(() => gpu?.destroy?.());

describe('training on webgpu (SwiftShader) follows cpu-js', () => {
  it('6 steps of train_step: same loss curve (rel < 1e-4), loss decreasing', { timeout: 900_000 }, async () => {
    gpu = await webgpuPlugin({ software: 'only' }).createDevice();
    const a = await train(gpu, 6);
    const b = await train(createCpuJsDevice(), 6);
    a.forEach((v, i) => expect(Math.abs(v - b[i]!) / Math.abs(b[i]!), `step ${i}: ${v} vs ${b[i]}`).toBeLessThan(1e-4));
    expect(a[5]!).toBeLessThan(a[0]!);
  });
});
