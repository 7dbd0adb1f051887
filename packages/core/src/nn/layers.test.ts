import { describe, expect, it } from 'vitest';
import type { Tensor } from '../contracts/backend.js';
import { HostDeviceBackend } from '../device/host-backend.js';
import { hostModule, type HostModule } from './host.js';
import type { Module } from './module.js';
import { Conv, ConvTranspose } from './conv.js';
import { InstanceNorm } from './norm.js';
import { LeakyReLU } from './activation.js';
import { referenceBackend } from './reference-backend.js';
import { InitRng } from './rng.js';
import { gradCheck } from './testing.js';

const dev = new HostDeviceBackend(referenceBackend(), { name: 'reference' });
const H = <M extends Module>(m: M) => hostModule(dev, m);

function randTensor(shape: number[], rng: InitRng, scale = 1): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return { data: Float32Array.from({ length: n }, () => rng.normal() * scale), shape };
}

/** Checks dL/dx and dL/dparams of L = sum(r * layer(x)) against central differences. */
function checkModule(m: HostModule, x: Tensor, seed = 7, eps = 1e-2): { dx: number; dp: number } {
  const rng = new InitRng(seed);
  const y0 = m.forward(x, true);
  const r = Float64Array.from({ length: y0.data.length }, () => rng.normal());
  const f = (): number => {
    const y = m.forward(x, false);
    let s = 0;
    for (let i = 0; i < y.data.length; i++) s += r[i]! * y.data[i]!;
    return s;
  };
  for (const p of m.parameters) p.grad.fill(0);
  m.forward(x, true);
  const dx = m.backward({ data: Float32Array.from(r), shape: y0.shape });
  const dxCopy = dx ? Float32Array.from(dx.data) : null;
  const idx = (n: number): number[] => Array.from({ length: Math.min(n, 12) }, (_, i) => Math.floor((i * n) / Math.min(n, 12)));
  const ex = dxCopy ? gradCheck(f, x.data, dxCopy, idx(x.data.length), eps) : 0;
  let ep = 0;
  for (const p of m.parameters) ep = Math.max(ep, gradCheck(f, p.value, Float32Array.from(p.grad), idx(p.value.length), eps));
  return { dx: ex, dp: ep };
}

describe('nn layers: finite-difference gradient checks on the reference backend', () => {
  it('Conv 3x3x3, stride 2, bias', () => {
    const rng = new InitRng(1);
    const conv = H(new Conv(dev, { name: 'c', inChannels: 2, outChannels: 3, kernel: [3, 3, 3], stride: [2, 2, 2], rng }));
    conv.bias!.value.set([0.1, -0.2, 0.3]);
    const e = checkModule(conv, randTensor([2, 2, 5, 4, 5], rng));
    expect(e.dx).toBeLessThan(2e-3);
    expect(e.dp).toBeLessThan(2e-3);
  });

  it('Conv 2D-as-3D (1x3x3, anisotropic stride [1,2,1])', () => {
    const rng = new InitRng(2);
    const conv = H(new Conv(dev, { name: 'c', inChannels: 2, outChannels: 2, kernel: [1, 3, 3], stride: [1, 2, 1], rng }));
    expect(conv.params.padding).toEqual([0, 1, 1]);
    const x = randTensor([1, 2, 1, 6, 5], rng);
    expect(conv.forward(x, false).shape).toEqual([1, 2, 1, 3, 5]);
    const e = checkModule(conv, x);
    expect(e.dx).toBeLessThan(2e-3);
    expect(e.dp).toBeLessThan(2e-3);
  });

  it('ConvTranspose kernel = stride doubles the grid and has correct gradients', () => {
    const rng = new InitRng(3);
    const ct = H(new ConvTranspose(dev, { name: 't', inChannels: 3, outChannels: 2, kernel: [2, 2, 1], rng }));
    ct.bias!.value.set([0.5, -1]);
    expect(ct.weight.shape).toEqual([3, 2, 2, 2, 1]);
    const x = randTensor([2, 3, 2, 3, 2], rng);
    const y = ct.forward(x, false);
    expect(y.shape).toEqual([2, 2, 4, 6, 2]);
    // y[b, o, 2z+a, 2y+c, x] = sum_i x[b,i,z,y,x] w[i,o,a,c,0] + bias[o]: check one voxel by hand.
    const X = (b: number, i: number, z: number, yy: number, xx: number): number => x.data[(((b * 3 + i) * 2 + z) * 3 + yy) * 2 + xx]!;
    const W = (i: number, o: number, a: number, c: number): number => ct.weight.value[((i * 2 + o) * 2 + a) * 2 + c]!;
    let want = -1;
    for (let i = 0; i < 3; i++) want += X(1, i, 1, 2, 1) * W(i, 1, 1, 0);
    expect(y.data[(((1 * 2 + 1) * 4 + 3) * 6 + 4) * 2 + 1]).toBeCloseTo(want, 5);
    const e = checkModule(ct, x);
    expect(e.dx).toBeLessThan(2e-3);
    expect(e.dp).toBeLessThan(2e-3);
  });

  it('InstanceNorm (affine) normalises per sample and channel and has correct gradients', () => {
    const rng = new InitRng(4);
    const norm = H(new InstanceNorm(dev, { name: 'n', channels: 2, eps: 1e-5 }));
    const x = randTensor([2, 2, 2, 3, 3], rng, 3);
    for (let i = 0; i < 18; i++) x.data[i]! += 5;
    const y = norm.forward(x, false);
    let m = 0;
    let v = 0;
    for (let i = 0; i < 18; i++) m += y.data[i]!;
    for (let i = 0; i < 18; i++) v += y.data[i]! ** 2;
    expect(m / 18).toBeCloseTo(0, 5);
    expect(v / 18).toBeCloseTo(1, 3);
    norm.weight!.value.set([1.5, -0.7]);
    norm.bias!.value.set([0.2, 0.1]);
    const e = checkModule(norm, x);
    expect(e.dx).toBeLessThan(5e-3);
    expect(e.dp).toBeLessThan(2e-3);
  });

  it('InstanceNorm with fused LeakyReLU equals norm followed by LeakyReLU, and gradients match', () => {
    const rng = new InitRng(5);
    const fused = H(new InstanceNorm(dev, { name: 'n', channels: 3, leakySlope: 0.01 }));
    const plain = H(new InstanceNorm(dev, { name: 'n', channels: 3 }));
    const act = H(new LeakyReLU(dev, 0.01));
    const x = randTensor([1, 3, 2, 2, 3], rng);
    for (const n of [fused, plain]) {
      n.weight!.value.set([1, 0.5, -2]);
      n.bias!.value.set([0.3, -0.1, 0]);
    }
    const a = fused.forward(x, false).data;
    const b = act.forward(plain.forward(x, false), false).data;
    for (let i = 0; i < a.length; i++) expect(a[i]).toBeCloseTo(b[i]!, 6);
    // small step: the kink of the LeakyReLU must not fall inside [v - eps, v + eps]
    const e = checkModule(fused, x, 7, 1e-3);
    expect(e.dx).toBeLessThan(5e-3);
    expect(e.dp).toBeLessThan(5e-3);
  });

  it('LeakyReLU gradient', () => {
    const rng = new InitRng(6);
    const x = randTensor([1, 2, 1, 3, 3], rng);
    const act = H(new LeakyReLU(dev, 0.01));
    expect(act.forward({ data: Float32Array.of(-2, 3), shape: [2] }, false).data).toEqual(Float32Array.of(-0.02, 3));
    expect(checkModule(act, x).dx).toBeLessThan(1e-3);
  });

  it('keeps activations only for a training forward', () => {
    const rng = new InitRng(8);
    const conv = H(new Conv(dev, { name: 'c', inChannels: 1, outChannels: 1, kernel: [1, 1, 3], rng }));
    const norm = H(new InstanceNorm(dev, { name: 'n', channels: 1, leakySlope: 0.01 }));
    const x = randTensor([1, 1, 1, 1, 4], rng);
    const y = conv.forward(x, false);
    expect(() => conv.backward(y)).toThrow(/training forward/);
    norm.forward(y, false);
    expect(() => norm.backward(y)).toThrow(/training forward/);
    norm.forward(y, true);
    expect(norm.backward(y)!.shape).toEqual([1, 1, 1, 1, 4]);
  });

  it('He init has std sqrt(2/(1+a^2))/sqrt(fanIn)', () => {
    const conv = H(new Conv(dev, { name: 'c', inChannels: 16, outChannels: 32, kernel: [3, 3, 3], rng: new InitRng(9) }));
    const w = conv.weight.value;
    let s2 = 0;
    for (const v of w) s2 += v * v;
    const want = Math.sqrt(2 / (1 + 1e-4)) / Math.sqrt(16 * 27);
    expect(Math.sqrt(s2 / w.length) / want).toBeGreaterThan(0.97);
    expect(Math.sqrt(s2 / w.length) / want).toBeLessThan(1.03);
    expect(Array.from(conv.bias!.value).every((v) => v === 0)).toBe(true);
  });
});
