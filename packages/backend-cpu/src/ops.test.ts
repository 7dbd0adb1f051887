// The native non-convolution ops (native/ops.h) against float64 references written here from their definitions
// (PyTorch's instance_norm / leaky_relu / softmax / SGD, nnU-Net's MemoryEfficientSoftDiceLoss + RobustCrossEntropy
// pieces, nearest-exact resize), at every instruction-set level this CPU runs, with 1 and 2 threads, on sizes that
// leave vector tails.
import { afterAll, describe, expect, it } from 'vitest';
import { loadAddon, type NativeAddon } from './native.js';

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

/** max |a - b| / max(1, max |b|). */
function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  let s = 1;
  for (let i = 0; i < b.length; i++) {
    m = Math.max(m, Math.abs(a[i]! - b[i]!));
    s = Math.max(s, Math.abs(b[i]!));
  }
  return m / s;
}

function labelsOf(n: number, C: number, seed: number): Int16Array {
  const r = rand(n, seed, 0, C);
  return Int16Array.from(r, (v) => Math.min(C - 1, Math.floor(v)));
}

function refInstanceNorm(x: Float32Array, g: Float32Array, b: Float32Array, N: number, C: number, S: number, slope: number | null) {
  const y = new Float64Array(x.length);
  const mean = new Float64Array(N * C);
  const rstd = new Float64Array(N * C);
  for (let nc = 0; nc < N * C; nc++) {
    let m = 0;
    for (let i = 0; i < S; i++) m += x[nc * S + i]!;
    m /= S;
    let v = 0;
    for (let i = 0; i < S; i++) v += (x[nc * S + i]! - m) ** 2;
    const r = 1 / Math.sqrt(v / S + 1e-5);
    mean[nc] = m;
    rstd[nc] = r;
    for (let i = 0; i < S; i++) {
      const z = (x[nc * S + i]! - m) * r * g[nc % C]! + b[nc % C]!;
      y[nc * S + i] = slope !== null && z <= 0 ? z * slope : z;
    }
  }
  return { y, mean, rstd };
}

/** Gradients of sum(y * dy) for instance norm (+ LeakyReLU) by the closed form, float64. */
function refInstanceNormBwd(x: Float32Array, g: Float32Array, b: Float32Array, dy: Float32Array, N: number, C: number, S: number, slope: number | null) {
  const { mean, rstd } = refInstanceNorm(x, g, b, N, C, S, slope);
  const dx = new Float64Array(x.length);
  const dg = new Float64Array(C);
  const db = new Float64Array(C);
  for (let nc = 0; nc < N * C; nc++) {
    const c = nc % C;
    const xh = (i: number) => (x[nc * S + i]! - mean[nc]!) * rstd[nc]!;
    const dz = (i: number) => (slope !== null && xh(i) * g[c]! + b[c]! <= 0 ? slope : 1) * dy[nc * S + i]!;
    let s1 = 0;
    let s2 = 0;
    for (let i = 0; i < S; i++) {
      s1 += dz(i);
      s2 += dz(i) * xh(i);
    }
    dg[c] += s2;
    db[c] += s1;
    for (let i = 0; i < S; i++) dx[nc * S + i] = g[c]! * rstd[nc]! * (dz(i) - s1 / S - (xh(i) * s2) / S);
  }
  return { dx, dg, db };
}

function refSoftmax(x: Float32Array, N: number, C: number, S: number): Float64Array {
  const p = new Float64Array(x.length);
  for (let n = 0; n < N; n++)
    for (let s = 0; s < S; s++) {
      let m = -Infinity;
      for (let c = 0; c < C; c++) m = Math.max(m, x[(n * C + c) * S + s]!);
      let z = 0;
      for (let c = 0; c < C; c++) z += Math.exp(x[(n * C + c) * S + s]! - m);
      for (let c = 0; c < C; c++) p[(n * C + c) * S + s] = Math.exp(x[(n * C + c) * S + s]! - m) / z;
    }
  return p;
}

function levels(a: NativeAddon): string[] {
  return ['avx512', 'avx2', 'generic'].filter((isa) => a.setIsa(isa));
}

describe.skipIf(!addon)('native ops', () => {
  const a = addon!;
  afterAll(() => {
    a.setIsa('auto');
    a.setThreads(0);
  });
  for (const isa of addon ? levels(addon) : []) {
    for (const threads of [1, 2]) {
      describe(`${isa}, ${threads} thread(s)`, () => {
        const use = () => {
          a.setIsa(isa);
          a.setThreads(threads);
        };

        it('instance norm forward and backward, with and without the fused LeakyReLU', () => {
          use();
          const N = 2;
          const C = 3;
          const S = 5 * 7 * 3; // 105: vector tails at every width
          const x = rand(N * C * S, 1, -2, 3);
          for (let i = 0; i < S; i++) x[i] = x[i]! + 1000; // |mean| >> std in one plane
          const g = rand(C, 2, 0.5, 1.5);
          const b = rand(C, 3, -0.5, 0.5);
          const dy = rand(N * C * S, 4);
          for (const slope of [null, 0.01]) {
            const act = slope === null ? 0 : 1;
            const ref = refInstanceNorm(x, g, b, N, C, S, slope);
            const y = new Float32Array(x.length);
            const mean = new Float32Array(N * C);
            const rstd = new Float32Array(N * C);
            const xhat = new Float32Array(x.length);
            a.instanceNormForward(x, g, b, y, xhat, mean, rstd, N, C, S, 1e-5, slope ?? 0, act);
            expect(relErr(y, ref.y)).toBeLessThan(2e-5);
            expect(relErr(mean, ref.mean)).toBeLessThan(1e-6);
            expect(relErr(rstd, ref.rstd)).toBeLessThan(1e-5);
            const rb = refInstanceNormBwd(x, g, b, dy, N, C, S, slope);
            const dx = new Float32Array(x.length);
            const dg = new Float32Array(C);
            const db = new Float32Array(C);
            a.instanceNormBackward(x, g, b, mean, rstd, dy, dx, dg, db, N, C, S, slope ?? 0, act, false);
            expect(relErr(dx, rb.dx)).toBeLessThan(1e-4);
            expect(relErr(dg, rb.dg)).toBeLessThan(1e-5);
            expect(relErr(db, rb.db)).toBeLessThan(1e-5);
            // from the saved xhat instead of x, accumulating into the parameter gradients
            expect(relErr(xhat, Float64Array.from(x, (v, i) => (v - ref.mean[Math.floor(i / S)]!) * ref.rstd[Math.floor(i / S)]!))).toBeLessThan(1e-5);
            const dx2 = new Float32Array(x.length);
            a.instanceNormBackward(xhat, g, b, null, rstd, dy, dx2, dg, db, N, C, S, slope ?? 0, act, true);
            expect(relErr(dx2, rb.dx)).toBeLessThan(1e-4);
            expect(relErr(dg, rb.dg.map((v) => 2 * v))).toBeLessThan(1e-5);
            expect(relErr(db, rb.db.map((v) => 2 * v))).toBeLessThan(1e-5);
          }
          // without affine parameters: gamma 1, beta 0
          const y = new Float32Array(x.length);
          a.instanceNormForward(x, null, null, y, null, null, null, N, C, S, 1e-5, 0, 0);
          expect(relErr(y, refInstanceNorm(x, new Float32Array(C).fill(1), new Float32Array(C), N, C, S, null).y)).toBeLessThan(2e-5);
        });

        it('LeakyReLU forward and backward (also in place)', () => {
          use();
          const x = rand(100003, 5);
          const dy = rand(x.length, 6);
          const y = new Float32Array(x.length);
          a.leakyReluForward(x, y, 0.01);
          const dx = new Float32Array(x.length);
          a.leakyReluBackward(x, dy, dx, 0.01);
          for (const i of [0, 1, 17, 50000, 100002]) {
            expect(y[i]).toBe(Math.fround(x[i]! > 0 ? x[i]! : x[i]! * Math.fround(0.01)));
            expect(dx[i]).toBe(Math.fround(x[i]! > 0 ? dy[i]! : dy[i]! * Math.fround(0.01)));
          }
          const z = x.slice();
          a.leakyReluForward(z, z, 0.01);
          expect(z).toEqual(y);
        });

        it('softmax over channels and its backward, 3 and 11 channels', () => {
          use();
          for (const C of [3, 11]) {
            const N = 2;
            const S = 37;
            const x = rand(N * C * S, 7, -8, 8);
            const p = new Float32Array(x.length);
            a.softmax(x, p, N, C, S);
            const ref = refSoftmax(x, N, C, S);
            expect(relErr(p, ref)).toBeLessThan(2e-6);
            const dp = rand(x.length, 8);
            const dx = new Float32Array(x.length);
            a.softmaxBackward(p, dp, dx, N, C, S);
            const want = new Float64Array(x.length);
            for (let n = 0; n < N; n++)
              for (let s = 0; s < S; s++) {
                let dot = 0;
                for (let c = 0; c < C; c++) dot += ref[(n * C + c) * S + s]! * dp[(n * C + c) * S + s]!;
                for (let c = 0; c < C; c++) want[(n * C + c) * S + s] = ref[(n * C + c) * S + s]! * (dp[(n * C + c) * S + s]! - dot);
              }
            expect(relErr(dx, want)).toBeLessThan(1e-5);
          }
        });

        it('Dice + CE statistics and gradient, with an ignore label and every label type', () => {
          use();
          const N = 2;
          const C = 4;
          const S = 6 * 5 * 7;
          const x = rand(N * C * S, 9, -4, 4);
          const t16 = labelsOf(N * S, C + 1, 10); // label C plays the ignore label
          const ref = refSoftmax(x, N, C, S);
          const want = new Float64Array(N * C * 3 + 2);
          for (let n = 0; n < N; n++)
            for (let s = 0; s < S; s++) {
              const t = t16[n * S + s]!;
              if (t === C) continue;
              for (let c = 0; c < C; c++) {
                const p = ref[(n * C + c) * S + s]!;
                want[(n * C + c) * 3] += t === c ? p : 0;
                want[(n * C + c) * 3 + 1] += p;
                want[(n * C + c) * 3 + 2] += t === c ? 1 : 0;
              }
              want[N * C * 3] -= Math.log(ref[(n * C + t) * S + s]!);
              want[N * C * 3 + 1] += 1;
            }
          const A = rand(N * C, 11);
          const B = rand(N * C, 12);
          const ceScale = 0.37;
          const wantD = new Float64Array(x.length);
          for (let n = 0; n < N; n++)
            for (let s = 0; s < S; s++) {
              const t = t16[n * S + s]!;
              if (t === C) continue;
              const dp = (c: number) => A[n * C + c]! * (t === c ? 1 : 0) + B[n * C + c]!;
              let dot = 0;
              for (let c = 0; c < C; c++) dot += ref[(n * C + c) * S + s]! * dp(c);
              for (let c = 0; c < C; c++) {
                const p = ref[(n * C + c) * S + s]!;
                wantD[(n * C + c) * S + s] = p * (dp(c) - dot) + ceScale * (p - (t === c ? 1 : 0));
              }
            }
          for (const target of [t16, Float32Array.from(t16), Uint8Array.from(t16), Int32Array.from(t16)]) {
            const probs = new Float32Array(x.length);
            const stats = new Float64Array(N * C * 3 + 2);
            a.dcCeForward(x, target, N, C, S, C, probs, stats);
            expect(relErr(probs, ref)).toBeLessThan(2e-6);
            expect(stats[N * C * 3 + 1]).toBe(want[N * C * 3 + 1]);
            expect(relErr(stats, want)).toBeLessThan(1e-6);
            const dl = new Float32Array(x.length);
            a.dcCeBackward(probs, target, N, C, S, C, A, B, ceScale, dl);
            expect(relErr(dl, wantD)).toBeLessThan(1e-5);
          }
          // no ignore label: every voxel counts (label C then matches no class)
          const stats = new Float64Array(N * C * 3 + 2);
          a.dcCeForward(x, t16, N, C, S, -1, new Float32Array(x.length), stats);
          expect(stats[N * C * 3 + 1]).toBe(N * S);
        });

        it('SGD with Nesterov momentum and weight decay as torch.optim.SGD, over several tensors', () => {
          use();
          const sizes = [7, 40000, 1];
          const p = sizes.map((n, i) => rand(n, 20 + i));
          const g = sizes.map((n, i) => rand(n, 30 + i));
          const buf = sizes.map((n) => new Float32Array(n));
          const wd = Float32Array.of(3e-5, 0, 3e-5);
          const refP = p.map((v) => Float64Array.from(v));
          const refB = sizes.map((n) => new Float64Array(n));
          const [lr, mu, gs] = [0.01, 0.99, 0.5];
          for (let step = 0; step < 3; step++) {
            a.sgd(p, g, buf, wd, lr, mu, true, gs);
            sizes.forEach((n, k) => {
              for (let i = 0; i < n; i++) {
                const d = gs * g[k]![i]! + wd[k]! * refP[k]![i]!;
                refB[k]![i] = mu * refB[k]![i]! + d;
                refP[k]![i]! -= lr * (d + mu * refB[k]![i]!);
              }
            });
          }
          sizes.forEach((_, k) => {
            expect(relErr(p[k]!, refP[k]!)).toBeLessThan(1e-6);
            expect(relErr(buf[k]!, refB[k]!)).toBeLessThan(1e-5);
          });
          // plain momentum (no nesterov)
          const q = [Float32Array.of(1, -2)];
          const qb = [Float32Array.of(0.5, 0.5)];
          a.sgd(q, [Float32Array.of(1, 1)], qb, Float32Array.of(0), 0.1, 0.9, false, 1);
          expect(Array.from(qb[0]!)).toEqual([Math.fround(1.45), Math.fround(1.45)]);
          expect(q[0]![0]).toBeCloseTo(1 - 0.145, 6);
        });

        it('gradient norm pieces: sum of squares and scaling', () => {
          use();
          const arrs = [rand(100001, 40), rand(3, 41)];
          let want = 0;
          for (const v of arrs) for (const e of v) want += e * e;
          expect(Math.abs(a.sumSquares(arrs) - want) / want).toBeLessThan(1e-6);
          const before = arrs[0]![12345]!;
          a.scale(arrs, 0.25);
          expect(arrs[0]![12345]).toBe(Math.fround(before * 0.25));
        });

        it('bias add, bias gradient and axpby', () => {
          use();
          const [N, C, S] = [2, 5, 33];
          const y = rand(N * C * S, 50);
          const b = rand(C, 51);
          const y0 = y.slice();
          a.biasAdd(y, b, N, C, S);
          expect(y[(1 * C + 3) * S + 7]).toBe(Math.fround(y0[(1 * C + 3) * S + 7]! + b[3]!));
          const out = new Float32Array(C);
          a.channelSum(y0, out, N, C, S, false);
          const want = new Float64Array(C);
          for (let i = 0; i < y0.length; i++) want[Math.floor(i / S) % C] += y0[i]!;
          expect(relErr(out, want)).toBeLessThan(1e-6);
          a.channelSum(y0, out, N, C, S, true);
          expect(relErr(out, want.map((v) => 2 * v))).toBeLessThan(1e-6);
          const acc = rand(70001, 52);
          const acc0 = acc.slice();
          const x = rand(70001, 53);
          a.axpby(x, acc, 2, 1);
          expect(acc[70000]).toBe(Math.fround(2 * x[70000]! + acc0[70000]!));
          a.axpby(x, acc, -1, 0);
          expect(acc[3]).toBe(-x[3]!);
        });

        it('Gaussian-weighted accumulation, normalisation and argmax', () => {
          use();
          const [C, Z, Y, X] = [3, 6, 7, 9];
          const [pz, py, px] = [4, 5, 6];
          const acc = new Float32Array(C * Z * Y * X);
          const w = new Float32Array(Z * Y * X);
          const g = rand(pz * py * px, 60, 0.1, 1);
          const p1 = rand(C * pz * py * px, 61);
          const p2 = rand(C * pz * py * px, 62);
          a.accumulateWeighted(acc, w, p1, g, C, Z, Y, X, pz, py, px, 0, 0, 0, 1);
          a.accumulateWeighted(acc, w, p2, g, C, Z, Y, X, pz, py, px, 2, 2, 3, 0.5);
          const at = (c: number, z: number, y: number, x: number) => ((c * Z + z) * Y + y) * X + x;
          const gi = (z: number, y: number, x: number) => (z * py + y) * px + x;
          // voxel (3, 3, 4) is inside both patches: patch 1 at (3,3,4), patch 2 at (1,1,1)
          const v1 = p1[((2 * pz + 3) * py + 3) * px + 4]! * g[gi(3, 3, 4)]!;
          const v2 = 0.5 * p2[((2 * pz + 1) * py + 1) * px + 1]! * g[gi(1, 1, 1)]!;
          expect(acc[at(2, 3, 3, 4)]).toBeCloseTo(v1 + v2, 6);
          expect(w[(3 * Y + 3) * X + 4]).toBeCloseTo(g[gi(3, 3, 4)]! + g[gi(1, 1, 1)]!, 6);
          expect(w[(5 * Y + 6) * X + 8]).toBe(g[gi(3, 4, 5)]);
          expect(w[(0 * Y + 6) * X + 8]).toBe(0);
          expect(() => a.accumulateWeighted(acc, w, p1, g, C, Z, Y, X, pz, py, px, 3, 0, 0, 1)).toThrow(/inside/);
          w.forEach((v, i) => (w[i] = v || 1));
          const before = acc[at(1, 3, 3, 4)]!;
          a.divideWeights(acc, w, C, Z * Y * X);
          expect(acc[at(1, 3, 3, 4)]).toBe(Math.fround(before / w[(3 * Y + 3) * X + 4]!));
          const N = 2;
          const S = 101;
          const x = rand(N * C * S, 63);
          x[(1 * C + 0) * S + 5] = 9; // tie: the first maximum wins
          x[(1 * C + 2) * S + 5] = 9;
          for (const out of [new Uint8Array(N * S), new Int16Array(N * S), new Int32Array(N * S), new Float32Array(N * S)]) {
            a.argmax(x, N, C, S, out);
            for (let n = 0; n < N; n++)
              for (let s = 0; s < S; s++) {
                let best = 0;
                for (let c = 1; c < C; c++) if (x[(n * C + c) * S + s]! > x[(n * C + best) * S + s]!) best = c;
                expect(out[n * S + s]).toBe(best);
              }
          }
        });

        it('channel concat / split, flip and nearest resize', () => {
          use();
          const [N, S] = [2, 10];
          const u = rand(N * 3 * S, 70);
          const v = rand(N * 2 * S, 71);
          const cat = new Float32Array(N * 5 * S);
          a.concatChannels([u, v], N, S, cat);
          expect(cat[(1 * 5 + 1) * S + 4]).toBe(u[(1 * 3 + 1) * S + 4]);
          expect(cat[(1 * 5 + 4) * S + 9]).toBe(v[(1 * 2 + 1) * S + 9]);
          const u2 = new Float32Array(u.length);
          const v2 = new Float32Array(v.length);
          a.splitChannels(cat, [u2, v2], N, S);
          expect(u2).toEqual(u);
          expect(v2).toEqual(v);
          const [Z, Y, X] = [3, 4, 5];
          const src = rand(2 * Z * Y * X, 72);
          const dst = new Float32Array(src.length);
          for (const axes of [1, 2, 4, 7]) {
            a.flip(src, dst, 2, Z, Y, X, axes);
            const idx = (n: number, z: number, y: number, x: number) => ((n * Z + z) * Y + y) * X + x;
            const f = (k: number, e: number, m: number) => (axes & m ? e - 1 - k : k);
            expect(dst[idx(1, 0, 1, 2)]).toBe(src[idx(1, f(0, Z, 1), f(1, Y, 2), f(2, X, 4))]);
            expect(dst[idx(0, 2, 3, 0)]).toBe(src[idx(0, f(2, Z, 1), f(3, Y, 2), f(0, X, 4))]);
          }
          expect(() => a.flip(src, src, 2, Z, Y, X, 1)).toThrow(/differ/);
          // nearest-exact 40x56x40 -> 20x28x20 -> 10x14x10 (nnU-Net's deep-supervision targets): index floor((i+.5) in/out)
          const seg = Int16Array.from(rand(5 * 7 * 9, 73, 0, 3), Math.floor);
          const out = new Int16Array(3 * 4 * 5);
          a.resizeNearest(seg, out, 1, 5, 7, 9, 3, 4, 5);
          const ix = (i: number, n: number, m: number) => Math.min(n - 1, Math.floor(((i + 0.5) * n) / m));
          for (let z = 0; z < 3; z++)
            for (let y = 0; y < 4; y++)
              for (let x = 0; x < 5; x++) expect(out[(z * 4 + y) * 5 + x]).toBe(seg[(ix(z, 5, 3) * 7 + ix(y, 7, 4)) * 9 + ix(x, 9, 5)]);
          expect(() => a.resizeNearest(seg, new Float32Array(60), 1, 5, 7, 9, 3, 4, 5)).toThrow(/types differ/);
        });

        it('rejects arrays shorter than the sizes given', () => {
          use();
          expect(() => a.softmax(new Float32Array(10), new Float32Array(10), 1, 3, 4)).toThrow(/too short/);
          expect(() => a.dcCeForward(new Float32Array(12), new Int16Array(3), 1, 3, 4, -1, new Float32Array(12), new Float64Array(11))).toThrow(/too short/);
        });
      });
    }
  }
});
