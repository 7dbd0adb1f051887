import { afterAll, describe, expect, it } from 'vitest';
import { webgpuPlugin } from './plugin.js';
import type { WebGpuBackend } from './backend.js';
import type { DeviceBackend } from '@nnunet-ts/core';
import { createCpuJsDevice } from '@nnunet-ts/backend-cpu';

const be: WebGpuBackend = await webgpuPlugin({ software: 'only' }).createWebGpu();
afterAll(() => be.destroy());
const r = (n: number, s = 1): Float32Array => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 1.7 + s) * 2);

describe('webgpu ops compile and run', () => {
  it('instance norm forward + backward, leaky', async () => {
    const shape = [2, 3, 2, 3, 4];
    const x = be.upload(r(144), shape);
    const g = be.upload(Float32Array.from([1, 2, 0.5]), [3]);
    const b = be.upload(Float32Array.from([0, 0.1, -0.2]), [3]);
    const { y, state } = be.instanceNorm(x, g, b, { eps: 1e-5, leakySlope: 0.01, training: true });
    const yv = await be.read(y);
    // plane 0: mean 0, var 1 after norm; gamma 1, beta 0 then leaky
    const xv = r(144).slice(0, 24);
    const m = xv.reduce((a, v) => a + v, 0) / 24;
    const sd = Math.sqrt(xv.reduce((a, v) => a + (v - m) ** 2, 0) / 24 + 1e-5);
    const z0 = (xv[0]! - m) / sd;
    expect(yv[0]).toBeCloseTo(z0 > 0 ? z0 : 0.01 * z0, 5);
    const dg = be.zeros([3]);
    const db = be.zeros([3]);
    const dx = be.instanceNormBackward(be.upload(r(144, 2), shape), state!, g, b, 0.01, { weight: dg, bias: db, accumulate: false });
    expect((await be.read(dx)).every(Number.isFinite)).toBe(true);
    expect((await be.read(db)).every(Number.isFinite)).toBe(true);
  });
  it('loss, clip, sgd', async () => {
    const l = be.upload(r(2 * 3 * 8), [2, 3, 1, 2, 4]);
    const t = be.uploadLabels(Int32Array.from({ length: 16 }, (_, i) => i % 3), [2, 1, 1, 2, 4]);
    const t2 = be.downsampleLabels(t, [2, 1, 1, 1, 2]);
    expect(Array.from(await be.readInt(t2))).toEqual([2, 1, 1, 0]);
    const res = be.dcCeLoss([l], [t], { weights: [1], batchDice: false, doBackground: false, smooth: 1e-5 });
    const v = await be.read(res.values);
    expect(v[0]).toBeCloseTo(v[1]! + v[2]!, 5);
    const guard = be.clipGradNorm([res.grads[0]!], 12, 1);
    const gv = await be.read(guard);
    expect(gv[1]).toBe(1);
    const p = be.upload(r(48), [2, 3, 1, 2, 4]);
    const m = be.zeros([2, 3, 1, 2, 4]);
    be.sgdStep([p], [res.grads[0]!], [m], [true], { lr: 0.01, momentum: 0.99, nesterov: true, weightDecay: 3e-5 }, guard);
    expect((await be.read(p)).every(Number.isFinite)).toBe(true);
    const regions = be.dcCeLoss([l], [t], { weights: [1], batchDice: true, doBackground: true, smooth: 1e-5, regions: [[1, 2], [2], [1]] });
    expect((await be.read(regions.values)).every(Number.isFinite)).toBe(true);
  });
  it('weightCe / weightDice (DC_and_CE_loss(weight_ce, weight_dice)): values and gradients as the float64-checked host loss', async () => {
    const host = createCpuJsDevice();
    const o = { weights: [0.7, 0.3], batchDice: true, doBackground: false, smooth: 1e-5, weightCe: 0.5, weightDice: 2 };
    const shapes = [[2, 3, 2, 2, 4], [2, 3, 1, 1, 2]];
    const run = async (d: DeviceBackend): Promise<number[][]> => {
      const ls = shapes.map((s, i) => d.upload(r(s.reduce((a, b) => a * b, 1), i + 3), s));
      const ts = shapes.map((s, i) => d.uploadLabels(Int32Array.from({ length: s[0]! * s.slice(2).reduce((a, b) => a * b, 1) }, (_, j) => (j * (i + 2)) % 3), [s[0]!, 1, ...s.slice(2)]));
      const res = d.dcCeLoss(ls, ts, o);
      return [Array.from(await d.read(res.values)), ...(await Promise.all(res.grads.map(async (g) => Array.from(await d.read(g!)))))];
    };
    const [a, b] = [await run(be), await run(host)];
    a.forEach((row, i) => row.forEach((v, j) => expect(v, `${i}/${j}`).toBeCloseTo(b[i]![j]!, 5)));
  });
  it('window ops', async () => {
    const x = be.upload(r(2 * 4 * 5 * 6), [1, 2, 4, 5, 6]);
    const c = be.crop(x, [[0, 0, 0], [1, 2, 3]], [3, 3, 3]);
    const cv = await be.read(c);
    const xv = r(240);
    expect(cv[54 + 0]).toBeCloseTo(xv[(0 * 4 + 1) * 30 + 2 * 6 + 3]!, 6);
    const f = be.flip(x, [2]);
    expect((await be.read(f))[0]).toBeCloseTo(xv[5]!, 6);
    const acc = be.zeros([2, 4, 5, 6]);
    const w = be.zeros([1, 4, 5, 6]);
    const gauss = be.zeros([3, 3, 3], 'float32', 0.5);
    be.accumulateTiles(acc, w, c, gauss, [[0, 0, 0], [1, 2, 3]], 1);
    const n = be.normalizeAccumulator(acc, w, [1, 2, 3], [3, 3, 3]);
    expect((await be.read(n))[0]).toBeCloseTo(xv[(0 * 4 + 1) * 30 + 2 * 6 + 3]!, 5);
    const am = be.argmax(be.softmax(be.upload(r(3 * 8), [3, 2, 2, 2])));
    expect((await be.readInt(am)).length).toBe(8);
    const cat = be.concatChannels([x, x]);
    const [a, b] = be.splitChannels(cat, [2, 2]);
    expect(await be.read(b!)).toEqual(await be.read(a!));
    const pooled = be.avgPool(x, [2, 1, 2]);
    expect(pooled.shape).toEqual([1, 2, 2, 5, 3]);
    expect((await be.read(be.avgPoolBackward(pooled, [2, 1, 2], x.shape))).length).toBe(240);
  });
});
