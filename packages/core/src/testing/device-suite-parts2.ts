/** Channel/activation, loss, optimiser and sliding-window parts of the device contract suite. */
import type { DcCeLossOptions } from '../contracts/device.js';
import { dcCeLevelRef, finiteDiff, softmaxRef } from './device-reference.js';
import { relErr, rnd, sampleIdx } from './device-suite-parts.js';
import type { SuiteContext } from './device-suite.js';

/** LeakyReLU, avgPool, concat/split, softmax, sigmoid. */
export function defineChannelTests({ be, vi, tol }: SuiteContext): void {
  const { it, expect } = vi;
  it('leakyRelu fwd/bwd, avgPool fwd/bwd', async () => {
    const s = [1, 2, 4, 5, 6];
    const [x, dy] = [rnd(s, 70), rnd(s, 71)];
    const [tx, tdy] = [be().upload(x, s), be().upload(dy, s)];
    const y = be().leakyRelu(tx, 0.01);
    expect(relErr(await be().read(y), x.map((v) => (v > 0 ? v : 0.01 * v)))).toBeLessThan(1e-6);
    const dx = be().leakyReluBackward(tdy, y, 0.01);
    expect(relErr(await be().read(dx), dy.map((g, i) => (x[i]! > 0 ? g : 0.01 * g)))).toBeLessThan(1e-6);
    const p = be().avgPool(tx, [1, 2, 2]);
    expect(p.shape).toEqual([1, 2, 4, 2, 3]);
    const pv = await be().read(p);
    expect(pv[0]).toBeCloseTo((x[0]! + x[1]! + x[6]! + x[7]!) / 4, 6);
    const dp = rnd([1, 2, 4, 2, 3], 72);
    const tdp = be().upload(dp, [1, 2, 4, 2, 3]);
    const dxp = await be().read(be().avgPoolBackward(tdp, [1, 2, 2], s));
    expect([dxp[0], dxp[7], dxp[5]]).toEqual([dp[0]! / 4, dp[0]! / 4, dp[2]! / 4].map((v) => Math.fround(v)));
    be().dispose([tx, tdy, y, dx, p, tdp]);
  });
  it('concatChannels / splitChannels, softmax, sigmoid', async () => {
    const [a, b] = [rnd([2, 1, 1, 2, 2], 80), rnd([2, 2, 1, 2, 2], 81)];
    const [ta, tb] = [be().upload(a, [2, 1, 1, 2, 2]), be().upload(b, [2, 2, 1, 2, 2])];
    const c = be().concatChannels([ta, tb]);
    expect(c.shape).toEqual([2, 3, 1, 2, 2]);
    const cv = await be().read(c);
    expect(Array.from(cv.slice(0, 12))).toEqual([...a.slice(0, 4), ...b.slice(0, 8)]);
    const [sa, sb] = be().splitChannels(c, [1, 2]);
    expect(Array.from(await be().read(sa!))).toEqual(Array.from(a));
    expect(Array.from(await be().read(sb!))).toEqual(Array.from(b));
    const sm = be().softmax(c);
    expect(relErr(await be().read(sm), softmaxRef(cv, 2, 3))).toBeLessThan(tol);
    const sg = be().sigmoid(c);
    expect(relErr(await be().read(sg), Float64Array.from(cv, (v) => 1 / (1 + Math.exp(-v))))).toBeLessThan(tol);
    be().dispose([ta, tb, c, sa, sb, sm, sg]);
  });
}

/** A deep supervision case of the loss tests. */
interface LossCase {
  name: string;
  K: number;
  o: Omit<DcCeLossOptions, 'weights' | 'smooth'>;
  labels: number;
}
const LOSS_CASES: LossCase[] = [
  { name: 'softmax, batch Dice', K: 3, o: { batchDice: true, doBackground: false }, labels: 3 },
  { name: 'softmax, per-sample Dice, ignore label 3, loss scale 8', K: 3, o: { batchDice: false, doBackground: false, ignoreLabel: 3, lossScale: 8 }, labels: 4 },
  { name: 'softmax with background', K: 2, o: { batchDice: true, doBackground: true }, labels: 2 },
  { name: 'regions (sigmoid BCE), ignore label', K: 2, o: { batchDice: false, doBackground: true, regions: [[1, 2], [2]], ignoreLabel: 3 }, labels: 4 },
];

/** downsampleLabels, and dcCeLoss values and gradients over three deep supervision levels. */
export function defineLossTests({ be, vi, tol, gradTol }: SuiteContext): void {
  const { it, expect } = vi;
  it('downsampleLabels: nearest-exact indices', async () => {
    const lab = Int32Array.from({ length: 2 * 3 * 5 * 4 }, (_, i) => i % 251);
    const t = be().uploadLabels(lab, [2, 1, 3, 5, 4]);
    const d = be().downsampleLabels(t, [2, 1, 2, 3, 2]);
    const got = await be().readInt(d);
    const nn = (i: number, nIn: number, nOut: number) => Math.min(nIn - 1, Math.floor(((i + 0.5) * nIn) / nOut));
    const ref = Array.from({ length: 2 * 12 }, (_, j) => {
      const [b, z, y, x] = [Math.floor(j / 12), Math.floor(j / 6) % 2, Math.floor(j / 2) % 3, j % 2];
      return lab[((b * 3 + nn(z, 3, 2)) * 5 + nn(y, 5, 3)) * 4 + nn(x, 4, 2)]!;
    });
    expect(Array.from(got)).toEqual(ref);
    be().dispose([t, d]);
  });
  for (const c of LOSS_CASES)
    it(`dcCeLoss value and gradients: ${c.name}`, async () => {
      const shapes = [[2, c.K, 2, 4, 4], [2, c.K, 1, 2, 2], [2, c.K, 1, 1, 1]];
      const logits = shapes.map((s, l) => rnd(s, 90 + l).map((v) => 2 * v));
      const labs = shapes.map((s, l) => Int32Array.from(rnd([s[0]!, 1, ...s.slice(2)], 95 + l), (v) => Math.min(c.labels - 1, Math.floor(((v + 1) / 2) * c.labels))));
      const weights = [4 / 7, 2 / 7, 0];
      const o: DcCeLossOptions = { ...c.o, weights, smooth: 1e-5 };
      const tl = logits.map((d, l) => be().upload(d, shapes[l]!));
      const tt = labs.map((d, l) => be().uploadLabels(d, [2, 1, ...shapes[l]!.slice(2)]));
      const r = be().dcCeLoss(tl, tt, o);
      const total = (lv: Float64Array[]) => lv.reduce((s, x, l) => (weights[l] ? s + weights[l]! * Object.values(dcCeLevelRef(x, labs[l]!, 2, c.K, o)).reduce((a, b) => a + b, 0) : s), 0);
      const l64 = logits.map((d) => Float64Array.from(d));
      const parts = [0, 1].map((l) => dcCeLevelRef(l64[l]!, labs[l]!, 2, c.K, o));
      const ref = [total(l64), weights[0]! * parts[0]!.ce + weights[1]! * parts[1]!.ce, weights[0]! * parts[0]!.dice + weights[1]! * parts[1]!.dice];
      expect(relErr(await be().read(r.values), ref)).toBeLessThan(tol);
      expect(r.grads[2]).toBeNull();
      for (const l of [0, 1]) {
        const idx = sampleIdx(logits[l]!.length, 20);
        const fd = finiteDiff((v) => total(l64.map((x, j) => (j === l ? v : x))), l64[l]!, idx);
        const got = await be().read(r.grads[l]!);
        expect(relErr(idx.map((i) => got[i]! / (c.o.lossScale ?? 1)), fd)).toBeLessThan(gradTol);
      }
      be().dispose([...tl, ...tt, r.values, ...r.grads]);
    });
}

/** clipGradNorm (norm, scaling, unscale, non-finite guard) and sgdStep against PyTorch's rule in float64. */
export function defineOptimTests({ be, vi, tol }: SuiteContext): void {
  const { it, expect } = vi;
  it('clipGradNorm: torch.nn.utils.clip_grad_norm_ after unscale', async () => {
    const [a, b] = [rnd([40], 100).map((v) => v * 10), rnd([7], 101).map((v) => v * 10)];
    const [ta, tb] = [be().upload(a, [40]), be().upload(b, [7])];
    const r = be().clipGradNorm([ta, tb], 2, 0.5);
    const norm = Math.sqrt([...a, ...b].reduce((s, v) => s + (v * 0.5) ** 2, 0));
    const rv = await be().read(r);
    expect(relErr([rv[0]!], [norm])).toBeLessThan(tol);
    expect(rv[1]).toBe(1);
    const k = 0.5 * (2 / (norm + 1e-6));
    expect(relErr(await be().read(ta), Float64Array.from(a, (v) => v * k))).toBeLessThan(tol);
    const small = be().upload(Float32Array.of(0.3, 0.4), [2]);
    be().dispose(be().clipGradNorm([small], 12, 1));
    expect(relErr(await be().read(small), [0.3, 0.4])).toBeLessThan(1e-7);
    const bad = be().upload(Float32Array.of(1, Infinity), [2]);
    const rb = be().clipGradNorm([bad], 12, 1);
    expect((await be().read(rb))[1]).toBe(0);
    be().dispose([ta, tb, r, small, bad, rb]);
  });
  it('sgdStep: Nesterov momentum, weight decay per parameter, guard skips', async () => {
    const o = { lr: 0.01, momentum: 0.99, nesterov: true, weightDecay: 3e-5 };
    const p0 = [rnd([13], 110), rnd([5], 111)];
    const grads = [rnd([13], 112), rnd([5], 113)];
    const tp = p0.map((p) => be().upload(p, [p.length]));
    const tg = grads.map((g) => be().upload(g, [g.length]));
    const tm = p0.map((p) => be().zeros([p.length]));
    const decay = [true, false];
    const ref = p0.map((p) => Float64Array.from(p));
    const buf = p0.map((p) => new Float64Array(p.length));
    for (let s = 0; s < 3; s++) {
      be().sgdStep(tp, tg, tm, decay, o);
      ref.forEach((p, k) =>
        p.forEach((v, i) => {
          const g = grads[k]![i]! + (decay[k] ? o.weightDecay * v : 0);
          buf[k]![i] = o.momentum * buf[k]![i]! + g;
          p[i] = v - o.lr * (g + o.momentum * buf[k]![i]!);
        }),
      );
    }
    for (const k of [0, 1]) expect(relErr(await be().read(tp[k]!), ref[k]!)).toBeLessThan(tol);
    const guard = be().upload(Float32Array.of(Infinity, 0), [2]);
    const before = await be().read(tp[0]!);
    be().sgdStep(tp, tg, tm, decay, o, guard);
    expect(Array.from(await be().read(tp[0]!))).toEqual(Array.from(before));
    be().dispose([...tp, ...tg, ...tm, guard]);
  });
}

/** flip, crop, accumulateTiles + normalizeAccumulator, argmax. */
export function defineWindowTests({ be, vi, tol }: SuiteContext): void {
  const { it, expect } = vi;
  const at = (d: ArrayLike<number>, dims: number[], c: number, z: number, y: number, x: number) => d[((c * dims[0]! + z) * dims[1]! + y) * dims[2]! + x]!;
  it('flip along z, y, x', async () => {
    const s = [1, 2, 3, 4, 5];
    const x = rnd(s, 120);
    const t = be().upload(x, s);
    const f = be().flip(t, [0, 2]);
    const fv = await be().read(f);
    for (const [c, z, y, xx] of [[0, 0, 0, 0], [1, 2, 3, 4], [1, 1, 2, 3]] as const) expect(at(fv, [3, 4, 5], c, z, y, xx)).toBe(at(x, [3, 4, 5], c, 2 - z, y, 4 - xx));
    be().dispose([t, f]);
  });
  it('crop (batched tiles), accumulateTiles, normalizeAccumulator, argmax', async () => {
    const dims = [4, 5, 6];
    const img = rnd([1, 2, ...dims], 130);
    const ti = be().upload(img, [1, 2, ...dims]);
    const starts = [[0, 0, 0], [2, 2, 3]];
    const tiles = be().crop(ti, starts, [2, 3, 3]);
    expect(tiles.shape).toEqual([2, 2, 2, 3, 3]);
    const tv = await be().read(tiles);
    expect(tv[36 + 18 + 17]).toBe(at(img, dims, 1, 3, 4, 5));
    const gauss = rnd([2, 3, 3], 131).map((v) => 1.5 + v);
    const [acc, w, tg] = [be().zeros([2, ...dims]), be().zeros([1, ...dims]), be().upload(gauss, [2, 3, 3])];
    be().accumulateTiles(acc, w, tiles, tg, starts, 0.5);
    const refAcc = new Float64Array(2 * 120);
    const refW = new Float64Array(120);
    starts.forEach((st, b) => {
      for (let k = 0; k < 2; k++)
        for (let p = 0; p < 18; p++) {
          const v = ((st[0]! + Math.floor(p / 9)) * 5 + st[1]! + (Math.floor(p / 3) % 3)) * 6 + st[2]! + (p % 3);
          refAcc[k * 120 + v] += 0.5 * tv[(b * 2 + k) * 18 + p]! * gauss[p]!;
          if (k === 0) refW[v] += gauss[p]!;
        }
    });
    expect(relErr(await be().read(acc), refAcc)).toBeLessThan(tol);
    const norm = be().normalizeAccumulator(acc, w, [2, 2, 3], [2, 3, 3]);
    const nv = await be().read(norm);
    const v0 = (2 * 5 + 2) * 6 + 3;
    expect(relErr([nv[0]!, nv[18]!], [refAcc[v0]! / refW[v0]!, refAcc[120 + v0]! / refW[v0]!])).toBeLessThan(tol);
    const tam = be().argmax(norm);
    const am = await be().readInt(tam);
    expect(am.length).toBe(18);
    for (let i = 0; i < 18; i++) expect(am[i]).toBe(nv[18 + i]! > nv[i]! ? 1 : 0);
    be().dispose([ti, tiles, acc, w, tg, norm, tam]);
  });
}
