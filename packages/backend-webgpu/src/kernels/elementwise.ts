/**
 * Elementwise, layout and indexing kernels: arithmetic helpers, LeakyReLU, sigmoid, bias, channel concat/split
 * (buffer copies), flip, crop, average pooling, label downsampling, and the sliding-window accumulation.
 * All tensors are f32 `[n, c, z, y, x]` (x fastest) unless named int32.
 */
import type { Engine } from '../engine.js';
import { elementwise, f, run1d, u } from './util.js';

const K = {
  add: elementwise('add', [], [{ name: 'A' }, { name: 'B' }, { name: 'O', write: true }], 'O[i] = A[i] + B[i];'),
  axpy: elementwise('axpy', ['alpha: f32'], [{ name: 'X' }, { name: 'Y', write: true }], 'Y[i] = fma(p.alpha, X[i], Y[i]);'),
  scale: elementwise('scale', ['alpha: f32'], [{ name: 'X', write: true }], 'X[i] = X[i] * p.alpha;'),
  fill: elementwise('fill', ['v: f32'], [{ name: 'X', write: true }], 'X[i] = p.v;'),
  fillI: elementwise('fill-i32', ['v: i32'], [{ name: 'X', type: 'i32', write: true }], 'X[i] = p.v;'),
  leaky: elementwise('leaky', ['slope: f32'], [{ name: 'X' }, { name: 'Y', write: true }], 'let v = X[i]; Y[i] = select(p.slope * v, v, v > 0.0);'),
  leakyBwd: elementwise(
    'leaky-bwd',
    ['slope: f32'],
    [{ name: 'DY' }, { name: 'Y' }, { name: 'DX', write: true }],
    'DX[i] = select(p.slope * DY[i], DY[i], Y[i] > 0.0);',
  ),
  sigmoid: elementwise('sigmoid', [], [{ name: 'X' }, { name: 'Y', write: true }], 'Y[i] = 1.0 / (1.0 + exp(-X[i]));'),
  addBias: elementwise('add-bias', ['c', 'vol'], [{ name: 'X', write: true }, { name: 'B' }], 'X[i] = X[i] + B[(i / p.vol) % p.c];'),
  flip: elementwise(
    'flip',
    ['d', 'h', 'w', 'fz', 'fy', 'fx'],
    [{ name: 'X' }, { name: 'Y', write: true }],
    `let x = i % p.w; let y = (i / p.w) % p.h; let z = (i / (p.w * p.h)) % p.d; let pl = i / (p.w * p.h * p.d);
    let sx = select(x, p.w - 1u - x, p.fx != 0u);
    let sy = select(y, p.h - 1u - y, p.fy != 0u);
    let sz = select(z, p.d - 1u - z, p.fz != 0u);
    Y[i] = X[((pl * p.d + sz) * p.h + sy) * p.w + sx];`,
  ),
  // one window: out[c, p] = x[0, c, start + p]
  crop: elementwise(
    'crop',
    ['c', 'D', 'H', 'W', 'd', 'h', 'w', 'z0', 'y0', 'x0', 'off'],
    [{ name: 'X' }, { name: 'Y', write: true }],
    `let x = i % p.w; let y = (i / p.w) % p.h; let z = (i / (p.w * p.h)) % p.d; let c = i / (p.w * p.h * p.d);
    Y[p.off + i] = X[((c * p.D + z + p.z0) * p.H + y + p.y0) * p.W + x + p.x0];`,
  ),
  avgPool: elementwise(
    'avgpool',
    ['d', 'h', 'w', 'D', 'H', 'W', 'kz', 'ky', 'kx'],
    [{ name: 'X' }, { name: 'Y', write: true }],
    `let x = i % p.w; let y = (i / p.w) % p.h; let z = (i / (p.w * p.h)) % p.d; let pl = i / (p.w * p.h * p.d);
    var s = 0.0;
    for (var a = 0u; a < p.kz; a++) { for (var b = 0u; b < p.ky; b++) { for (var c = 0u; c < p.kx; c++) {
      s += X[((pl * p.D + z * p.kz + a) * p.H + y * p.ky + b) * p.W + x * p.kx + c];
    } } }
    Y[i] = s / f32(p.kz * p.ky * p.kx);`,
  ),
  avgPoolBwd: elementwise(
    'avgpool-bwd',
    ['d', 'h', 'w', 'D', 'H', 'W', 'kz', 'ky', 'kx'],
    [{ name: 'DY' }, { name: 'DX', write: true }],
    `let X = i % p.W; let Y = (i / p.W) % p.H; let Z = (i / (p.W * p.H)) % p.D; let pl = i / (p.W * p.H * p.D);
    let z = Z / p.kz; let y = Y / p.ky; let x = X / p.kx;
    var v = 0.0;
    if (z < p.d && y < p.h && x < p.w) { v = DY[((pl * p.d + z) * p.h + y) * p.w + x] / f32(p.kz * p.ky * p.kx); }
    DX[i] = v;`,
  ),
  // nearest-exact: src = min(in - 1, floor((o + 0.5) * in / out)), in exact integer arithmetic
  downLabels: elementwise(
    'down-labels',
    ['d', 'h', 'w', 'D', 'H', 'W'],
    [{ name: 'L', type: 'i32' }, { name: 'O', type: 'i32', write: true }],
    `let x = i % p.w; let y = (i / p.w) % p.h; let z = (i / (p.w * p.h)) % p.d; let b = i / (p.w * p.h * p.d);
    let sz = min(p.D - 1u, ((2u * z + 1u) * p.D) / (2u * p.d));
    let sy = min(p.H - 1u, ((2u * y + 1u) * p.H) / (2u * p.h));
    let sx = min(p.W - 1u, ((2u * x + 1u) * p.W) / (2u * p.w));
    O[i] = L[((b * p.D + sz) * p.H + sy) * p.W + sx];`,
  ),
  // acc[c, start + q] += scale * tile[b, c, q] * g[q]; one launch per tile b (windows of one batch may overlap)
  accumulate: elementwise(
    'accumulate',
    ['c', 'Z', 'Y', 'X', 'd', 'h', 'w', 'z0', 'y0', 'x0', 'toff', 'scale: f32'],
    [{ name: 'T' }, { name: 'G' }, { name: 'A', write: true }, { name: 'Wt', write: true }],
    `let vol = p.d * p.h * p.w;
    let q = i % vol; let c = i / vol;
    let x = q % p.w; let y = (q / p.w) % p.h; let z = q / (p.w * p.h);
    let dst = ((z + p.z0) * p.Y + y + p.y0) * p.X + x + p.x0;
    let g = G[q];
    A[c * p.Z * p.Y * p.X + dst] += p.scale * T[p.toff + i] * g;
    if (c == 0u) { Wt[dst] += g; }`,
  ),
  normalizeAcc: elementwise(
    'normalize-acc',
    ['Z', 'Y', 'X', 'd', 'h', 'w', 'z0', 'y0', 'x0'],
    [{ name: 'A' }, { name: 'Wt' }, { name: 'O', write: true }],
    `let vol = p.d * p.h * p.w;
    let q = i % vol; let c = i / vol;
    let x = q % p.w; let y = (q / p.w) % p.h; let z = q / (p.w * p.h);
    let src = ((z + p.z0) * p.Y + y + p.y0) * p.X + x + p.x0;
    O[i] = A[c * p.Z * p.Y * p.X + src] / Wt[src];`,
  ),
  argmax: elementwise(
    'argmax',
    ['k'],
    [{ name: 'X' }, { name: 'O', type: 'i32', write: true }],
    `var best = X[i]; var bi = 0;
    for (var c = 1u; c < p.k; c++) { let v = X[c * p.n + i]; if (v > best) { best = v; bi = i32(c); } }
    O[i] = bi;`,
  ),
  softmax: elementwise(
    'softmax',
    ['k', 'vol'],
    [{ name: 'X' }, { name: 'O', write: true }],
    `let b = i / p.vol; let q = i % p.vol; let base = b * p.k * p.vol + q;
    var m = X[base];
    for (var c = 1u; c < p.k; c++) { m = max(m, X[base + c * p.vol]); }
    var s = 0.0;
    for (var c = 0u; c < p.k; c++) { s += exp(X[base + c * p.vol] - m); }
    for (var c = 0u; c < p.k; c++) { O[base + c * p.vol] = exp(X[base + c * p.vol] - m) / s; }`,
  ),
};

type B = GPUBuffer;

export const add = (e: Engine, n: number, a: B, b: B, o: B): void => run1d(e, K.add, n, [a, b, o]);
export const axpy = (e: Engine, n: number, alpha: number, x: B, y: B): void => run1d(e, K.axpy, n, [x, y], [f(alpha)]);
export const scale = (e: Engine, n: number, x: B, alpha: number): void => run1d(e, K.scale, n, [x], [f(alpha)]);
export const fill = (e: Engine, n: number, x: B, v: number): void => run1d(e, K.fill, n, [x], [f(v)]);
export const fillInt = (e: Engine, n: number, x: B, v: number): void => run1d(e, K.fillI, n, [x], [{ i: v }]);
export const leakyRelu = (e: Engine, n: number, x: B, y: B, slope: number): void => run1d(e, K.leaky, n, [x, y], [f(slope)]);
export const leakyReluBackward = (e: Engine, n: number, dy: B, y: B, dx: B, slope: number): void =>
  run1d(e, K.leakyBwd, n, [dy, y, dx], [f(slope)]);
export const sigmoid = (e: Engine, n: number, x: B, y: B): void => run1d(e, K.sigmoid, n, [x, y]);
/** `x[:, c, ...] += bias[c]`; `vol` voxels per plane. */
export const addBias = (e: Engine, n: number, x: B, bias: B, c: number, vol: number): void =>
  run1d(e, K.addBias, n, [x, bias], [u(c), u(vol)]);

/** `y` = `x` (`[planes, d, h, w]`) with the flagged axes (`[z, y, x]`) reversed. */
export function flip(e: Engine, n: number, s: readonly number[], axes: readonly boolean[], x: B, y: B): void {
  run1d(e, K.flip, n, [x, y], [u(s[0]!), u(s[1]!), u(s[2]!), u(axes[0] ? 1 : 0), u(axes[1] ? 1 : 0), u(axes[2] ? 1 : 0)]);
}

/** Window `[c, size]` of `x` `[c, S]` from `start`, written at element offset `off` of `y`. */
export function cropOne(e: Engine, c: number, S: readonly number[], size: readonly number[], start: readonly number[], x: B, y: B, off: number): void {
  const n = c * size[0]! * size[1]! * size[2]!;
  run1d(e, K.crop, n, [x, y], [c, ...S, ...size, ...start, off].map(u));
}

/** Average pooling, kernel = stride; `S` input spatial, `s` output spatial, `planes` = n*c. */
export function avgPool(e: Engine, planes: number, S: readonly number[], s: readonly number[], k: readonly number[], x: B, y: B, backward: boolean): void {
  const outN = planes * (backward ? S : s).reduce((a, b) => a * b, 1);
  run1d(e, backward ? K.avgPoolBwd : K.avgPool, outN, [x, y], [...s, ...S, ...k].map(u));
}

/** Nearest-exact label downsampling `[n, 1, S]` -> `[n, 1, s]` (int32). */
export function downsampleLabels(e: Engine, n: number, S: readonly number[], s: readonly number[], l: B, o: B): void {
  run1d(e, K.downLabels, n * s[0]! * s[1]! * s[2]!, [l, o], [...s, ...S].map(u));
}

/** `acc[:, start + q] += scale * tile[b] * g`, `wt[start + q] += g` for one tile `b` at element offset `toff`. */
export function accumulateTile(
  e: Engine, c: number, S: readonly number[], s: readonly number[], start: readonly number[],
  tile: B, toff: number, g: B, acc: B, wt: B, sc: number,
): void {
  const n = c * s[0]! * s[1]! * s[2]!;
  run1d(e, K.accumulate, n, [tile, g, acc, wt], [...[c, ...S, ...s, ...start, toff].map(u), f(sc)]);
}

/** `out[c, q] = acc[c, start + q] / wt[start + q]`, out `[c, ...s]`. */
export function normalizeAccumulator(e: Engine, c: number, S: readonly number[], s: readonly number[], start: readonly number[], acc: B, wt: B, o: B): void {
  run1d(e, K.normalizeAcc, c * s[0]! * s[1]! * s[2]!, [acc, wt, o], [...S, ...s, ...start].map(u));
}

/** Int32 argmax over the `k` channels of `[k, vol]` (first index on ties). */
export const argmax = (e: Engine, k: number, vol: number, x: B, o: B): void => run1d(e, K.argmax, vol, [x, o], [u(k)]);

/** Softmax over channels of `[n, k, vol]`; `nvox` = n * vol. */
export const softmax = (e: Engine, nvox: number, k: number, vol: number, x: B, o: B): void =>
  run1d(e, K.softmax, nvox, [x, o], [u(k), u(vol)]);
