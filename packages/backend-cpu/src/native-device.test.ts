// cpu-native's device backend beyond the shared contract suite: the suite again at the generic ISA on one thread,
// the buffer pool, and agreement with the cpu-js reference device on shapes large enough that the native ops
// split their work over threads and vector tails (instance norm, Dice + CE over deep supervision levels, flip,
// tile accumulation, argmax).
import { afterAll, describe, expect, it } from 'vitest';
import type { DeviceBackend, DeviceTensor } from '@nnunet-ts/core';
import { describeDeviceContract } from '@nnunet-ts/core/testing';
import { createCpuJsDevice } from './js.js';
import { loadAddon } from './native.js';
import { BufferPool, createCpuNativeDevice } from './native-device.js';

const addon = loadAddon();

function rand(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = lo + ((hi - lo) * s) / 4294967296;
  }
  return out;
}

function relErr(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  let s = 1e-30;
  for (let i = 0; i < b.length; i++) {
    m = Math.max(m, Math.abs(a[i]! - b[i]!));
    s = Math.max(s, Math.abs(b[i]!));
  }
  return m / s;
}

if (addon) {
  await describeDeviceContract('cpu-native generic ISA, 1 thread', async () => {
    addon.setIsa('generic');
    addon.setThreads(1);
    return createCpuNativeDevice();
  });
}

describe('BufferPool', () => {
  it('hands back a disposed buffer of the same size and type, within the cap', () => {
    const pool = new BufferPool(1000);
    const a = pool.take(100) as Float32Array;
    pool.give(a);
    expect(pool.take(100, 'i')).not.toBe(a);
    expect(pool.take(100)).toBe(a);
    pool.give(new Float32Array(300)); // 1200 bytes > cap: dropped
    expect(pool.take(300)).toHaveLength(300);
    const big = new Float32Array(10);
    pool.give(big.subarray(2)); // a view does not own its buffer: never recycled
    expect(pool.take(8)).not.toBe(big);
  });
});

describe.skipIf(!addon)('cpu-native device against cpu-js on larger shapes (2 threads)', () => {
  afterAll(() => {
    addon!.setIsa('auto');
    addon!.setThreads(0);
  });

  async function both(): Promise<[DeviceBackend, DeviceBackend]> {
    addon!.setIsa('auto');
    addon!.setThreads(2);
    return [await createCpuNativeDevice(), createCpuJsDevice()];
  }
  const up = (d: DeviceBackend, x: Float32Array, shape: number[]) => d.upload(x, shape);
  const rd = (d: DeviceBackend, t: DeviceTensor) => d.readSync!(t);

  it('instance norm with LeakyReLU, forward and backward', async () => {
    const [nat, js] = await both();
    const shape = [2, 5, 9, 13, 11];
    const n = shape.reduce((a, b) => a * b, 1);
    const x = rand(n, 1, -3, 5);
    const dy = rand(n, 2);
    const [g, b] = [rand(5, 3, 0.5, 1.5), rand(5, 4)];
    const res = [nat, js].map((d) => {
      const f = d.instanceNorm(up(d, x, shape), up(d, g, [5]), up(d, b, [5]), { eps: 1e-5, leakySlope: 0.01, training: true });
      const dg = d.zeros([5], 'float32', 1);
      const db = d.zeros([5]);
      const dx = d.instanceNormBackward(up(d, dy, shape), f.state!, up(d, g, [5]), up(d, b, [5]), 0.01, { weight: dg, bias: db, accumulate: true });
      return [rd(d, f.y), rd(d, f.state!.xhat), rd(d, dx), rd(d, dg), rd(d, db)];
    });
    res[0]!.forEach((v, i) => expect(relErr(v, res[1]![i]!)).toBeLessThan(1e-5));
  });

  it('Dice + CE over three deep supervision levels with downsampled targets, batch Dice', async () => {
    for (const w of [{}, { weightCe: 0.6, weightDice: 1.7 }]) await diceCe(w);
  });

  async function diceCe(lossWeights: { weightCe?: number; weightDice?: number }): Promise<void> {
    const [nat, js] = await both();
    const shapes = [[2, 3, 20, 28, 20], [2, 3, 10, 14, 10], [2, 3, 5, 7, 5]];
    const seg = Int16Array.from(rand(2 * 20 * 28 * 20, 5, 0, 3), Math.floor);
    const res = await Promise.all([nat, js].map(async (d) => {
      const lab = d.uploadLabels(seg, [2, 1, 20, 28, 20]);
      const targets = shapes.map((s) => (s[2] === 20 ? lab : d.downsampleLabels(lab, [2, 1, ...s.slice(2)])));
      const logits = shapes.map((s, i) => up(d, rand(s.reduce((a, b) => a * b, 1), 10 + i, -4, 4), s));
      const r = d.dcCeLoss(logits, targets, { weights: [4 / 7, 2 / 7, 1 / 7], batchDice: true, doBackground: false, smooth: 1e-5, ...lossWeights });
      const ts = await Promise.all(targets.slice(1).map(async (t) => Float32Array.from(await d.readInt(t))));
      return [rd(d, r.values), ...r.grads.map((g) => rd(d, g!)), ...ts];
    }));
    // targets: exact; loss values and gradients: float32 sums vs float64
    res[0]!.forEach((v, i) => expect(relErr(v, res[1]![i]!)).toBeLessThan(i === 0 ? 1e-5 : 1e-4));
  }

  it('flip, tile accumulation and argmax of a sliding window', async () => {
    const [nat, js] = await both();
    const dims = [30, 40, 33];
    const patch = [16, 20, 18];
    const starts = [[0, 0, 0], [14, 20, 15], [7, 10, 5]];
    const tile = rand(3 * 3 * 16 * 20 * 18, 20);
    const gauss = rand(16 * 20 * 18, 21, 0.1, 1);
    const res = await Promise.all([nat, js].map(async (d) => {
      const acc = d.zeros([3, ...dims]);
      const w = d.zeros([1, ...dims]);
      const t = d.flip(up(d, tile, [3, 3, ...patch]), [0, 2]);
      d.accumulateTiles(acc, w, t, up(d, gauss, patch), starts, 0.5);
      const logits = d.normalizeAccumulator(acc, w, [0, 0, 0], dims);
      return [rd(d, t), rd(d, acc), rd(d, w), Float32Array.from(await d.readInt(d.argmax(logits)))];
    }));
    res[0]!.forEach((v, i) => expect(relErr(v, res[1]![i]!)).toBeLessThan(1e-6));
  });

  it('throws for labels outside [0, K) as the reference does', async () => {
    const [nat] = await both();
    const lab = nat.uploadLabels(Int16Array.of(0, 1, 5, 2), [1, 1, 1, 2, 2]);
    const lg = nat.upload(rand(12, 1), [1, 3, 1, 2, 2]);
    expect(() => nat.dcCeLoss([lg], [lab], { weights: [1], batchDice: true, doBackground: false, smooth: 1e-5 })).toThrow(/outside \[0, 3\)/);
  });
});
