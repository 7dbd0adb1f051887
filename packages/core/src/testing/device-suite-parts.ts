/** Memory, elementwise, convolution and normalisation parts of the device contract suite. */
import type { ConvParams, DeviceBackend, DeviceTensor } from '../contracts/device.js';
import { tidy } from '../contracts/device.js';
import { referenceConv3d, referenceConv3dBackwardData, referenceConv3dBackwardFilter, conv3dOutputShape } from '../compute/reference.js';
import { randomTensor } from './backend-suite.js';
import { dot, finiteDiff, instanceNormRef } from './device-reference.js';
import type { SuiteContext } from './device-suite.js';

/** Deterministic uniform(-1, 1) float32 data of `shape`. */
export function rnd(shape: number[], seed: number): Float32Array {
  return randomTensor(shape, seed).data;
}

/** max |a - b| / max |b| over float32 `a` and a float64 (or float32) reference `b`; NaN gives Infinity. */
export function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    if (!(d <= num)) num = Number.isNaN(d) ? Infinity : d;
    den = Math.max(den, Math.abs(b[i]!));
  }
  return den === 0 ? num : num / den;
}

/** Indices `0, step, 2 step, ...` below `n` (at most `max`). */
export function sampleIdx(n: number, max = 24): number[] {
  const step = Math.max(1, Math.floor(n / max));
  return Array.from({ length: Math.min(max, Math.ceil(n / step)) }, (_, i) => i * step).filter((i) => i < n);
}

const read = (be: DeviceBackend, t: DeviceTensor): Promise<Float32Array> => be.read(t);

/** upload/read, labels, zeros, dispose, scopes, tidy, disposed handles. */
export function defineMemoryTests({ be, vi }: SuiteContext): void {
  const { it, expect } = vi;
  it('upload / read round trip, shape, dtype, size', async () => {
    const d = rnd([2, 3, 4], 1);
    const t = be().upload(d, [2, 3, 4]);
    expect([t.shape, t.dtype, t.size, t.backend]).toEqual([[2, 3, 4], 'float32', 24, be().info.name]);
    expect(Array.from(await read(be(), t))).toEqual(Array.from(d));
    d[0] = 99; // the upload is a copy
    expect((await read(be(), t))[0]).not.toBe(99);
    be().dispose(t);
  });
  it('labels, zeros with a value, int reads', async () => {
    const l = be().uploadLabels(Int16Array.of(0, 3, -1, 2), [1, 1, 1, 2, 2]);
    expect(l.dtype).toBe('int32');
    expect(Array.from(await be().readInt(l))).toEqual([0, 3, -1, 2]);
    const z = be().zeros([3], 'float32', 2.5);
    expect(Array.from(await read(be(), z))).toEqual([2.5, 2.5, 2.5]);
    be().dispose([l, z]);
  });
  it('dispose, scopes and tidy free exactly the scoped tensors; disposed handles throw', async () => {
    const m0 = be().memory().tensors;
    const keep = tidy(be(), () => {
      be().zeros([5]);
      return be().zeros([7]);
    });
    expect(be().memory().tensors).toBe(m0 + 1);
    be().beginScope();
    const a = be().zeros([2]);
    be().beginScope();
    const b = be().zeros([2]);
    be().endScope([b]);
    be().endScope();
    expect(a.isDisposed && b.isDisposed).toBe(true);
    be().dispose(keep);
    be().dispose(keep);
    expect(be().memory().tensors).toBe(m0);
    await expect(async () => be().read(keep)).rejects.toThrow();
    expect(() => be().fill(keep, 1)).toThrow();
  });
}

/** add, axpy, scale, fill, copy, cast. */
export function defineElementwiseTests({ be, vi }: SuiteContext): void {
  const { it, expect } = vi;
  it('add, axpy, scale, fill, copy, cast', async () => {
    const [a, b] = [rnd([2, 3], 2), rnd([2, 3], 3)];
    const [ta, tb] = [be().upload(a, [2, 3]), be().upload(b, [2, 3])];
    const s = be().add(ta, tb);
    expect(relErr(await read(be(), s), a.map((v, i) => v + b[i]!))).toBeLessThan(1e-6);
    be().axpy(-0.5, ta, tb);
    expect(relErr(await read(be(), tb), b.map((v, i) => v - 0.5 * a[i]!))).toBeLessThan(1e-6);
    be().scale(ta, 3);
    expect(relErr(await read(be(), ta), a.map((v) => 3 * v))).toBeLessThan(1e-6);
    be().copy(ta, s);
    expect(relErr(await read(be(), s), a.map((v) => 3 * v))).toBeLessThan(1e-6);
    be().fill(s, -2);
    expect(Array.from(await read(be(), s))).toEqual(new Array(6).fill(-2));
    const c = be().cast(ta, 'float32');
    expect(relErr(await read(be(), c), a.map((v) => 3 * v))).toBeLessThan(1e-6);
    expect(() => be().add(ta, be().zeros([3, 2]))).toThrow();
    be().dispose([ta, tb, s, c]);
  });
}

interface ConvCase {
  name: string;
  x: number[];
  w: number[];
  p: ConvParams;
  bias: boolean;
}
const CONV_CASES: ConvCase[] = [
  { name: '3x3x3 pad 1 + bias', x: [2, 3, 5, 6, 7], w: [4, 3, 3, 3, 3], p: { stride: [1, 1, 1], padding: [1, 1, 1] }, bias: true },
  { name: '3x3x3 stride 2', x: [1, 4, 7, 8, 9], w: [5, 4, 3, 3, 3], p: { stride: [2, 2, 2], padding: [1, 1, 1] }, bias: false },
  { name: '2D 1x3x3 stride [1,2,2]', x: [2, 3, 1, 7, 6], w: [3, 3, 1, 3, 3], p: { stride: [1, 2, 2], padding: [0, 1, 1] }, bias: true },
  { name: '1x1x1 seg head', x: [2, 5, 3, 4, 5], w: [3, 5, 1, 1, 1], p: { stride: [1, 1, 1], padding: [0, 0, 0] }, bias: true },
];

/** conv forward / backward data / backward filter (+ bias grad, accumulate), transposed conv, addBias, biasGrad. */
export function defineConvTests({ be, vi, tol }: SuiteContext): void {
  const { it, expect } = vi;
  for (const [i, c] of CONV_CASES.entries())
    it(`conv fwd / bwd data / bwd filter: ${c.name}`, async () => {
      const x = { data: rnd(c.x, 10 + i), shape: c.x };
      const w = { data: rnd(c.w, 20 + i), shape: c.w };
      const b = c.bias ? rnd([c.w[0]!], 30 + i) : null;
      const ys = conv3dOutputShape(c.x, c.w, c.p);
      const dy = { data: rnd(ys, 40 + i), shape: ys };
      const [tx, tw, tdy] = [be().upload(x.data, c.x), be().upload(w.data, c.w), be().upload(dy.data, ys)];
      const tb = b ? be().upload(b, [b.length]) : null;
      const y = be().conv(tx, tw, tb, c.p);
      expect(y.shape).toEqual(ys);
      expect(relErr(await read(be(), y), referenceConv3d(x, w, b, c.p).data)).toBeLessThan(tol);
      const dx = be().convBackwardData(tdy, tw, c.x, c.p);
      expect(relErr(await read(be(), dx), referenceConv3dBackwardData(dy, w, c.x, c.p).data)).toBeLessThan(tol);
      const dw = be().zeros(c.w, 'float32', 1);
      const db = be().zeros([c.w[0]!], 'float32', 1);
      be().convBackwardFilter(tx, tdy, c.p, { weight: dw, bias: db, accumulate: true });
      const refW = referenceConv3dBackwardFilter(x, dy, c.w, c.p).data.map((v) => v + 1);
      expect(relErr(await read(be(), dw), refW)).toBeLessThan(tol);
      const sp = ys[2]! * ys[3]! * ys[4]!;
      const refB = Float64Array.from({ length: c.w[0]! }, (_, o) => 1 + Array.from({ length: ys[0]! * sp }, (_, j) => dy.data[(Math.floor(j / sp) * ys[1]! + o) * sp + (j % sp)]!).reduce((s, v) => s + v, 0));
      expect(relErr(await read(be(), db), refB)).toBeLessThan(tol);
      be().convBackwardFilter(tx, tdy, c.p, { weight: dw, bias: null, accumulate: false });
      expect(relErr(await read(be(), dw), refW.map((v) => v - 1))).toBeLessThan(tol);
      be().dispose([tx, tw, tdy, tb, y, dx, dw, db]);
    });
  it('transposed conv (kernel = stride 2) through convBackwardData, addBias, biasGrad', async () => {
    const p: ConvParams = { stride: [2, 2, 2], padding: [0, 0, 0] };
    const [xs, ws, os] = [[1, 4, 2, 3, 2], [4, 3, 2, 2, 2], [1, 3, 4, 6, 4]];
    const [x, w, b] = [rnd(xs, 50), rnd(ws, 51), rnd([3], 52)];
    const [tx, tw, tb] = [be().upload(x, xs), be().upload(w, ws), be().upload(b, [3])];
    const y = be().convBackwardData(tx, tw, os, p);
    be().addBias(y, tb);
    const ref = referenceConv3dBackwardData({ data: x, shape: xs }, { data: w, shape: ws }, os, p).data.map((v, i) => v + b[Math.floor(i / 96) % 3]!);
    expect(relErr(await read(be(), y), ref)).toBeLessThan(tol);
    const g = be().zeros([3]);
    be().biasGrad(y, g, false);
    const yv = await read(be(), y);
    const refG = [0, 1, 2].map((c) => yv.slice(c * 96, (c + 1) * 96).reduce((s, v) => s + v, 0));
    expect(relErr(await read(be(), g), refG)).toBeLessThan(tol);
    be().dispose([tx, tw, tb, y, g]);
  });
  it('conv throws on a channel mismatch', () => {
    const [x, w] = [be().zeros([1, 2, 3, 3, 3]), be().zeros([2, 3, 3, 3, 3])];
    expect(() => be().conv(x, w, null, { stride: [1, 1, 1], padding: [1, 1, 1] })).toThrow();
    be().dispose([x, w]);
  });
}

/** instanceNorm forward (affine / fused LeakyReLU variants) and backward (dx, dgamma, dbeta by finite differences). */
export function defineNormTests({ be, vi, tol, gradTol }: SuiteContext): void {
  const { it, expect } = vi;
  for (const [affine, slope] of [[true, 0.01], [true, undefined], [false, 0.01]] as const)
    it(`instanceNorm fwd/bwd (affine ${affine}, slope ${slope})`, async () => {
      const shape = [2, 3, 3, 4, 5];
      const [n, c] = [2, 3];
      const x = rnd(shape, 60).map((v, i) => v * 3 + (i % 7));
      const g = affine ? rnd([c], 61).map((v) => 1 + v / 2) : null;
      const bt = affine ? rnd([c], 62) : null;
      const dy = rnd(shape, 63);
      const [tx, tg, tb, tdy] = [be().upload(x, shape), g && be().upload(g, [c]), bt && be().upload(bt, [c]), be().upload(dy, shape)];
      const { y, state } = be().instanceNorm(tx, tg, tb, { eps: 1e-5, leakySlope: slope, training: true });
      expect(relErr(await read(be(), y), instanceNormRef(x, n, c, g, bt, 1e-5, slope))).toBeLessThan(tol);
      const dg = affine ? be().zeros([c]) : null;
      const db = affine ? be().zeros([c]) : null;
      const dx = be().instanceNormBackward(tdy, state!, tg, tb, slope, { weight: dg, bias: db, accumulate: false });
      const x64 = Float64Array.from(x);
      const idx = sampleIdx(x.length, 30);
      const fd = finiteDiff((v) => dot(dy, instanceNormRef(v, n, c, g, bt, 1e-5, slope)), x64, idx);
      const got = await read(be(), dx);
      expect(relErr(idx.map((i) => got[i]!), fd)).toBeLessThan(gradTol);
      if (affine) {
        const fg = finiteDiff((v) => dot(dy, instanceNormRef(x, n, c, v, bt, 1e-5, slope)), Float64Array.from(g!), [0, 1, 2]);
        const fb = finiteDiff((v) => dot(dy, instanceNormRef(x, n, c, g, v, 1e-5, slope)), Float64Array.from(bt!), [0, 1, 2]);
        expect(relErr(await read(be(), dg!), fg)).toBeLessThan(gradTol);
        expect(relErr(await read(be(), db!), fb)).toBeLessThan(gradTol);
      }
      const { y: yi, state: si } = be().instanceNorm(tx, tg, tb, { eps: 1e-5, leakySlope: slope, training: false });
      expect(si).toBeNull();
      expect(relErr(await read(be(), yi), await read(be(), y))).toBeLessThan(1e-5);
      be().dispose([tx, tg, tb, tdy, y, state!.xhat, state!.invStd, dx, dg, db, yi]);
    });
}
