import { describe, expect, it } from 'vitest';
import { createParameter } from './parameter.js';
import { DeviceSGD, polyLR } from './sgd.js';
import { pullParameters, pushParameters } from './module.js';
import { HostDeviceBackend } from '../device/host-backend.js';
import { loadParameters, saveParameters } from './checkpoint.js';
import { deepSupervisionScales, deepSupervisionWeights, downsampleSegForDeepSupervision } from './deep-supervision.js';
import { referenceBackend } from './reference-backend.js';

describe('SGD / clip / poly', () => {
  const dev = new HostDeviceBackend(referenceBackend(), { name: 'cpu-js' });
  it('nesterov SGD with weight decay follows the PyTorch update', async () => {
    const p = createParameter('p', [2]);
    p.value.set([1, -2]);
    pushParameters(dev, [p]);
    const opt = new DeviceSGD(dev, [p], { lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 0.01 });
    const setGrad = (g: number[]) => dev.copy(dev.upload(Float32Array.from(g), [2]), p.gradTensor!);
    setGrad([0.5, 0.25]);
    opt.step();
    await pullParameters(dev, [p]);
    // g = 0.5 + 0.01*1 = 0.51; buf = 0.51; p = 1 - 0.1*(0.51 + 0.9*0.51) = 0.9031
    expect(p.value[0]).toBeCloseTo(0.9031, 6);
    // g = 0.25 - 0.02 = 0.23; p = -2 - 0.1*0.23*1.9 = -2.0437
    expect(p.value[1]).toBeCloseTo(-2.0437, 5);
    opt.step();
    await pullParameters(dev, [p]);
    // g = 0.5 + 0.009031 = 0.509031; buf = 0.9*0.51 + 0.509031 = 0.968031; p -= 0.1*(0.509031 + 0.9*0.968031)
    expect(p.value[0]).toBeCloseTo(0.9031 - 0.1 * (0.509031 + 0.9 * 0.968031), 5);
    const state = await opt.state();
    expect(state[0]![0]).toBeCloseTo(0.968031, 5);
    const opt2 = new DeviceSGD(dev, [p], { lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 0.01 });
    opt2.loadState(state);
    expect((await opt2.state())[0]![0]).toBeCloseTo(0.968031, 5);
    expect(() => opt2.loadState([new Float32Array(3)])).toThrow(/buffer 0 \(p\) has length 3, expected 2/);
    opt.zeroGrad();
    await pullParameters(dev, [p]);
    expect(Array.from(p.grad)).toEqual([0, 0]);
  });

  it('clipGradNorm returns the norm and scales down only when above max', async () => {
    const a = dev.upload(Float32Array.of(3, 0), [2]);
    const b = dev.upload(Float32Array.of(4), [1]);
    expect((await dev.read(dev.clipGradNorm([a, b], 12, 1)))[0]).toBeCloseTo(5, 6);
    expect((await dev.read(b))[0]).toBe(4);
    expect(Array.from(await dev.read(dev.clipGradNorm([a, b], 1, 1)))).toEqual([5, 1]);
    expect((await dev.read(b))[0]).toBeCloseTo(0.8, 5);
  });

  it('polyLR', () => {
    expect(polyLR(0.01, 0, 1000)).toBe(0.01);
    expect(polyLR(0.01, 500, 1000)).toBeCloseTo(0.01 * 0.5 ** 0.9, 10);
    expect(polyLR(0.01, 1000, 1000)).toBe(0);
  });
});

describe('parameter checkpoints', () => {
  it('round-trips and rejects a mismatched network', () => {
    const a = createParameter('x.weight', [2, 3]);
    a.value.set([1, 2, 3, 4, 5, -6.5]);
    const b = createParameter('x.bias', [2]);
    b.value.set([0.25, 1e-8]);
    const bytes = saveParameters([a, b]);
    const a2 = createParameter('x.weight', [2, 3]);
    const b2 = createParameter('x.bias', [2]);
    loadParameters([a2, b2], bytes);
    expect(Array.from(a2.value)).toEqual(Array.from(a.value));
    expect(b2.value[1]).toBe(b.value[1]);
    expect(() => loadParameters([createParameter('y.weight', [2, 3]), b2], bytes)).toThrow(/y.weight/);
    expect(() => loadParameters([createParameter('x.weight', [3, 2]), b2], bytes)).toThrow(/x.weight/);
    expect(() => loadParameters([a2], bytes)).toThrow(/2 parameters/);
    expect(() => loadParameters([a2, b2], bytes.subarray(0, bytes.length - 4))).toThrow(/truncated/);
  });
});

describe('deep supervision helpers (RULES.md §15)', () => {
  it('weights: 1/2^i, lowest 0, normalised', () => {
    const w = deepSupervisionWeights(4);
    expect(w[0]).toBeCloseTo(1 / 1.75, 10);
    expect(w[1]).toBeCloseTo(0.5 / 1.75, 10);
    expect(w[2]).toBeCloseTo(0.25 / 1.75, 10);
    expect(w[3]).toBe(0);
    expect(deepSupervisionWeights(1)).toEqual([1]);
  });

  it('scales: 1/cumprod(strides) without the last', () => {
    expect(deepSupervisionScales([[1, 1, 1], [2, 2, 2], [2, 2, 2], [2, 1, 2]])).toEqual([
      [1, 1, 1],
      [0.5, 0.5, 0.5],
      [0.25, 0.25, 0.25],
    ]);
  });

  it('downsampleSegForDeepSupervision picks nearest-exact voxels', () => {
    const seg = Int16Array.from({ length: 16 }, (_, i) => i);
    const out = downsampleSegForDeepSupervision(seg, [1, 1, 1, 4, 4], [[1, 1, 1], [1, 0.5, 0.5], [1, 0.25, 0.5]]);
    expect(out[0]!.data).toBe(seg);
    expect(out[1]!.shape).toEqual([1, 1, 1, 2, 2]);
    expect(Array.from(out[1]!.data)).toEqual([5, 7, 13, 15]);
    expect(out[2]!.shape).toEqual([1, 1, 1, 1, 2]);
    expect(Array.from(out[2]!.data)).toEqual([9, 11]);
  });

  it('2D scales ([sy, sx]) leave z alone; Python rounding of target shapes (half to even)', () => {
    const seg = Int16Array.from({ length: 2 * 10 * 6 }, (_, i) => i % 7);
    const out = downsampleSegForDeepSupervision(seg, [2, 1, 1, 10, 6], deepSupervisionScales([[1, 1], [2, 2], [2, 2]]));
    expect(out.map((o) => o.shape)).toEqual([[2, 1, 1, 10, 6], [2, 1, 1, 5, 3]]);
    // 5 * 0.5 = 2.5 rounds to 2 as in Python
    expect(downsampleSegForDeepSupervision(new Int16Array(5), [1, 1, 1, 1, 5], [[1, 1, 0.5]])[0]!.shape).toEqual([1, 1, 1, 1, 2]);
    expect(out[1]!.data[0]).toBe(seg[1 * 6 + 1]);
  });
});

describe('referenceBackend', () => {
  it('conv3d on a hand example and shape errors', () => {
    const be = referenceBackend();
    const x = { data: Float32Array.of(1, 2, 3, 4), shape: [1, 1, 1, 2, 2] };
    const w = { data: Float32Array.of(1, 0, 0, 1, 0, 0, 0, 0, 0), shape: [1, 1, 1, 3, 3] };
    const y = be.conv3d(x, w, Float32Array.of(0.5), { stride: [1, 1, 1], padding: [0, 1, 1] });
    // w[0,0]=1 (top-left) and w[1,0]... hand: y[i,j] = x[i-1,j-1] + x[i,j-1] weighting per the taps
    expect(y.shape).toEqual([1, 1, 1, 2, 2]);
    expect(Array.from(y.data)).toEqual([0.5, 1.5, 0.5, 4.5]);
    expect(() => be.conv3d(x, { data: new Float32Array(18), shape: [1, 2, 1, 3, 3] }, null, { stride: [1, 1, 1], padding: [0, 1, 1] })).toThrow(/channels/);
  });
});
