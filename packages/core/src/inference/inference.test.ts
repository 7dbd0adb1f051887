import { describe, expect, it } from 'vitest';
import type { Network, Tensor } from '../contracts/index.js';
import { HostDeviceBackend } from '../device/host-backend.js';
import { hostNetwork } from '../nn/host.js';
import { referenceBackend } from '../nn/reference-backend.js';
import { mirrorCombinations } from './flip.js';

const device = new HostDeviceBackend(referenceBackend(), { name: 'reference' });
import { computeGaussian, toFloat16 } from './gaussian.js';
import { predictPreprocessed } from './sliding-window.js';
import { computeSteps, padAmounts } from './steps.js';

/** Stub network: `fn(n, c, z, y, x, value)` per output channel; counts forward calls. */
function stub(K: number, fn: (k: number, v: number, z: number, y: number, x: number) => number): Network & { calls: number } {
  const counter = { calls: 0 };
  const net = hostNetwork(device, {
    parameters: [],
    backward() {},
    forward(t: Tensor) {
      counter.calls++;
      const [n, C, Z, Y, X] = t.shape as [number, number, number, number, number];
      const N = Z * Y * X;
      const out = new Float32Array(n * K * N);
      for (let b = 0; b < n; b++)
        for (let k = 0; k < K; k++)
          for (let i = 0; i < N; i++) {
            const z = Math.floor(i / (Y * X));
            const y = Math.floor(i / X) % Y;
            const x = i % X;
            out[(b * K + k) * N + i] = fn(k, t.data[b * C * N + i]!, z, y, x);
          }
      return [{ data: out, shape: [n, K, Z, Y, X] }];
    },
  });
  return Object.defineProperty(net, 'calls', { get: () => counter.calls }) as Network & { calls: number };
}

describe('sliding-window steps (RULES.md §18)', () => {
  it('follows n = ceil((S-P)/(P/2)) + 1 and rounded positions', () => {
    expect(computeSteps(64, 64)).toEqual([0]);
    expect(computeSteps(100, 64)).toEqual([0, 18, 36]);
    expect(computeSteps(160, 64)).toEqual([0, 32, 64, 96]);
    // S=101, P=40: n = ceil(61/20)+1 = 5, step 15.25 -> 0, 15.25, 30.5, 45.75, 61 -> 0, 15, 30 (half to even), 46, 61
    expect(computeSteps(101, 40)).toEqual([0, 15, 30, 46, 61]);
    // B21: patch 1 along an axis covers every slice exactly once
    expect(computeSteps(9, 1)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
    expect(() => computeSteps(10, 20)).toThrow(RangeError);
    expect(padAmounts([20, 20, 8], [64, 64, 32])).toEqual([[22, 22], [22, 22], [12, 12]]);
    expect(padAmounts([5], [8])).toEqual([[1, 2]]);
  });
});

describe('Gaussian importance map', () => {
  it('has max 10 at floor(P/2), is symmetric about it, positive everywhere, float16 values', () => {
    const g = computeGaussian([5, 8, 7]);
    const at = (z: number, y: number, x: number) => g[(z * 8 + y) * 7 + x]!;
    expect(Math.max(...g)).toBe(10);
    expect(at(2, 4, 3)).toBe(10);
    expect(at(1, 4, 3)).toBe(at(3, 4, 3));
    expect(at(2, 1, 3)).toBe(at(2, 7, 3));
    expect(at(0, 1, 0)).toBe(at(4, 7, 6));
    for (const v of g) expect(v).toBeGreaterThan(0);
    for (const v of g) expect(toFloat16(v)).toBe(v);
    // value at 1 sigma off-centre along x: 10 * exp(-0.5) rounded to float16
    const g1 = computeGaussian([1, 1, 16]);
    expect(g1[8 + 2]).toBe(toFloat16(10 * Math.exp(-0.5)));
    expect(toFloat16(6.065306597126334)).toBe(6.06640625);
  });

  it('replaces float16 underflow zeros with the smallest non-zero value', () => {
    const g = computeGaussian([64, 64, 64]);
    const min = g.reduce((a, b) => Math.min(a, b), Infinity);
    expect(min).toBeGreaterThan(0);
    expect(g[0]).toBe(min);
  });
});

describe('predictPreprocessed', () => {
  const vol = (C: number, Z: number, Y: number, X: number) => Float32Array.from({ length: C * Z * Y * X }, (_, i) => Math.sin(i) * 3);

  it('reproduces a pointwise network exactly over overlapping tiles and padding (3D, TTA, 2 folds)', async () => {
    const data = vol(1, 7, 13, 11);
    const net = stub(2, (k, v) => (k === 0 ? 2 * v + 1 : -v));
    const out = await predictPreprocessed({ networks: [net, net], patchSize: [4, 8, 8], numClasses: 2, mirrorAxes: [0, 1, 2] }, data, [1, 7, 13, 11], { tileBatch: 3 });
    expect(out.length).toBe(2 * 7 * 13 * 11);
    const N = 7 * 13 * 11;
    for (let i = 0; i < N; i++) {
      expect(out[i]).toBeCloseTo(2 * data[i]! + 1, 5);
      expect(out[N + i]).toBeCloseTo(-data[i]!, 5);
    }
    // tiles: z [0,2,3], y [0,2,5], x [0,3] = 18 tiles, batches of 3 -> 6 batches x 2 folds x 8 mirror passes
    expect(net.calls).toBe(6 * 2 * 8);
  });

  it('averages mirror passes: a position-dependent stub becomes symmetric', async () => {
    const net = stub(1, (_k, _v, _z, _y, x) => x);
    const out = await predictPreprocessed({ networks: [net], patchSize: [1, 1, 6], numClasses: 1, mirrorAxes: [2] }, vol(1, 1, 1, 6), [1, 1, 1, 6]);
    for (const v of out) expect(v).toBeCloseTo(2.5, 6);
    const noTta = await predictPreprocessed({ networks: [net], patchSize: [1, 1, 6], numClasses: 1, mirrorAxes: [2] }, vol(1, 1, 1, 6), [1, 1, 1, 6], { mirror: false });
    expect(Array.from(noTta)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(mirrorCombinations([0, 1, 2])).toEqual([[], [0], [1], [2], [0, 1], [0, 2], [1, 2], [0, 1, 2]]);
  });

  it('runs 2d configurations slice by slice (4 TTA passes) and is deterministic (B46)', async () => {
    const data = vol(2, 3, 10, 9);
    const net = stub(3, (k, v, z) => v * (k + 1) + z * 100);
    const m = { networks: [net], patchSize: [6, 6], numClasses: 3, mirrorAxes: [0, 1] };
    const a = await predictPreprocessed(m, data, [2, 3, 10, 9], { tileBatch: 5 });
    const b = await predictPreprocessed(m, data, [2, 3, 10, 9], { tileBatch: 2 });
    expect(b).toEqual(a);
    const N = 3 * 10 * 9;
    for (let i = 0; i < N; i++) expect(a[2 * N + i]).toBeCloseTo(3 * data[i]!, 4);
  });

  it('pads images smaller than the patch and returns the input shape (B20)', async () => {
    const data = vol(1, 2, 3, 4);
    const out = await predictPreprocessed({ networks: [stub(1, (_k, v) => v)], patchSize: [8, 8, 8], numClasses: 1, mirrorAxes: [] }, data, [1, 2, 3, 4]);
    expect(out.length).toBe(24);
    for (let i = 0; i < 24; i++) expect(out[i]).toBeCloseTo(data[i]!, 6);
  });
});
