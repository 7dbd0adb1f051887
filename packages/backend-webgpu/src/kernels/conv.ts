/**
 * Convolutions as implicit GEMM in WGSL: one tiled matrix-multiply kernel (64x64 output tile per workgroup of
 * 16x16 threads, 4x4 outputs per thread, K in steps of 16 staged through workgroup memory; 16x256 and 4x512 tiles
 * when M is small; on software adapters 16x8 outputs per thread, see `Tile`), with the operand gathers generated per pass, so no im2col buffer is ever written:
 *
 * | pass | C = A . B | M | K | N |
 * |---|---|---|---|---|
 * | forward | y = W . col(x) | cOut | cIn*kvol | n*outVox |
 * | backward data | dx = W^T . gather(dy) | cIn | cOut*kvol | n*inVox |
 * | backward filter | dW = dy . col(x)^T | cOut | n*outVox (split over workgroups z, then summed) | cIn*kvol |
 *
 * Layouts: x `[n, cIn, d, h, w]`, W `[cOut, cIn, kd, kh, kw]` (PyTorch), y `[n, cOut, od, oh, ow]`, all f32,
 * x fastest. 2D convolutions are the 3D ones with d = kd = 1. Transposed convolutions are expressed through the
 * same passes by the backend (forward of a transposed convolution = backward data of a convolution).
 */
import { type Engine, type KernelSource, type Uniform, GRID_PARAMS, GRID_STRIDE, grid1d } from '../engine.js';

/** Geometry of a strided, zero-padded 3D convolution; triples are `[z, y, x]`. */
export interface ConvGeometry {
  n: number;
  cIn: number;
  cOut: number;
  inS: [number, number, number];
  k: [number, number, number];
  outS: [number, number, number];
  stride: [number, number, number];
  pad: [number, number, number];
}

/**
 * Output tile shapes. Every thread computes `r` x `c` outputs (`r c / 4` `vec4` accumulators): rows
 * `lid.y + ty * i`, columns `lid.x + tx * j`, so a tile is `r ty` x `c tx` (M x N), and `tk` values of K are staged
 * per step (`tk * (tm + tn)` floats, at most 8 KiB of workgroup memory). Rows and columns of a tile past M and N are
 * computed and thrown away, so each GEMM takes the tile with the least padded work (`tileFor`): the square tile for
 * wide layers, flat ones when M is small (the segmentation heads' 2-3 classes, backward data into 1-4 input channels,
 * small networks), narrow ones when N is small (backward filter of 1x1x1 and few-channel layers). Measured on
 * SwiftShader in the package README.
 */
interface Tile {
  name: string;
  tx: number;
  ty: number;
  tk: number;
  /** Rows (M) per thread. */
  r: number;
  /** Columns (N) per thread; a multiple of 4 (one `vec4` accumulator per 4). */
  c: number;
}
/** GPU tiles: 4 x 4 outputs per thread, many threads per workgroup. */
const TILES: readonly Tile[] = [
  { name: 'sq', tx: 16, ty: 16, tk: 16, r: 4, c: 4 }, // 64 x 64, 256 threads
  { name: 'wide', tx: 64, ty: 4, tk: 8, r: 4, c: 4 }, // 16 x 256, 256 threads
  { name: 'flat', tx: 128, ty: 1, tk: 4, r: 4, c: 4 }, // 4 x 512, 128 threads
  { name: 'tall', tx: 4, ty: 16, tk: 16, r: 4, c: 4 }, // 64 x 16, 64 threads
  { name: 'small', tx: 32, ty: 1, tk: 8, r: 4, c: 4 }, // 4 x 128, 32 threads
];
/**
 * Software-adapter tiles (`Engine.software`: SwiftShader and the like run 4 invocations per SIMD register and read
 * workgroup memory with per-lane gathers): 16 x 8 outputs per thread, so each gathered value feeds 8-16 FMAs instead
 * of 4, and few threads per workgroup. Per output the sum runs over K in the same order as with the GPU tiles, so
 * the results are bitwise the same. Measured in the package README (2.3x on a 32 -> 32 3x3x3 layer).
 */
const SOFTWARE_TILES: readonly Tile[] = [
  { name: 'sw64', tx: 16, ty: 4, tk: 8, r: 16, c: 8 }, // 64 x 128, 64 threads
  { name: 'sw32', tx: 16, ty: 2, tk: 8, r: 16, c: 8 }, // 32 x 128, 32 threads
  { name: 'sw16', tx: 16, ty: 1, tk: 8, r: 16, c: 8 }, // 16 x 128, 16 threads
  { name: 'sw4', tx: 32, ty: 1, tk: 8, r: 4, c: 8 }, // 4 x 256, 32 threads
  { name: 'swn', tx: 4, ty: 4, tk: 8, r: 16, c: 8 }, // 64 x 32, 16 threads
];

/** The tile with the least padded work `ceil(M / tm) tm * ceil(N / tn) tn` for an M x N output (ties: the earlier one). */
function tileFor(M: number, N: number, software: boolean): Tile {
  const padded = (t: Tile): number => Math.ceil(M / (t.r * t.ty)) * t.r * t.ty * Math.ceil(N / (t.c * t.tx)) * t.c * t.tx;
  return (software ? SOFTWARE_TILES : TILES).reduce((best, t) => (padded(t) < padded(best) ? t : best));
}

/**
 * The geometry, as WGSL pipeline-overridable constants `g_<name>` (`p.<name>` in the code below is rewritten to
 * them): each conv layer gets a pipeline specialised on its shape, so the im2col index arithmetic divides by
 * constants (multiply-shift) instead of by uniforms (a real division per element, which dominated the kernel).
 */
const GEOMETRY = ['n', 'ci', 'id', 'ih', 'iw', 'co', 'kd', 'kh', 'kw', 'od', 'oh', 'ow', 'sd', 'sh', 'sw', 'pd', 'ph', 'pw'] as const;

const PARAMS = /* wgsl */ `
struct P { M: u32, N: u32, K: u32, kchunk: u32, hasBias: u32 };
@group(0) @binding(0) var<uniform> p: P;
${GEOMETRY.map((g) => `override g_${g}: u32;`).join('\n')}`;

/** Decodes a kernel offset `r` in [0, kvol) into (kz, ky, kx). */
const KDECODE = /* wgsl */ `
fn kdec(r: u32) -> vec3<i32> {
  return vec3<i32>(i32(r / (p.kh * p.kw)), i32((r / p.kw) % p.kh), i32(r % p.kw));
}
fn xval(b: u32, c: u32, z: i32, y: i32, x: i32) -> f32 {
  if (z < 0 || y < 0 || x < 0 || z >= i32(p.id) || y >= i32(p.ih) || x >= i32(p.iw)) { return 0.0; }
  return X[((b * p.ci + c) * p.id + u32(z)) * p.ih * p.iw + u32(y) * p.iw + u32(x)];
}`;

/** Gathers and the store for each pass. A(m, k), B(k, n), store(m, n, v, z). */
const PASSES = {
  forward: /* wgsl */ `
@group(0) @binding(1) var<storage, read> Wt: array<f32>;
@group(0) @binding(2) var<storage, read> X: array<f32>;
@group(0) @binding(3) var<storage, read_write> Y: array<f32>;
@group(0) @binding(4) var<storage, read> Bias: array<f32>;
${KDECODE}
fn loadA(m: u32, k: u32) -> f32 { return Wt[m * p.K + k]; }
fn loadB(k: u32, n: u32) -> f32 {
  let kvol = p.kd * p.kh * p.kw;
  let c = k / kvol;
  let kk = kdec(k % kvol);
  let ovol = p.od * p.oh * p.ow;
  let b = n / ovol;
  let o = n % ovol;
  let oz = o / (p.oh * p.ow);
  let oy = (o / p.ow) % p.oh;
  let ox = o % p.ow;
  return xval(b, c, i32(oz * p.sd) + kk.x - i32(p.pd), i32(oy * p.sh) + kk.y - i32(p.ph), i32(ox * p.sw) + kk.z - i32(p.pw));
}
fn store(m: u32, n: u32, v: f32, z: u32) {
  let ovol = p.od * p.oh * p.ow;
  var bv = 0.0;
  if (p.hasBias != 0u) { bv = Bias[m]; }
  Y[((n / ovol) * p.co + m) * ovol + n % ovol] = v + bv;
}`,
  backwardData: /* wgsl */ `
@group(0) @binding(1) var<storage, read> Wt: array<f32>;
@group(0) @binding(2) var<storage, read> DY: array<f32>;
@group(0) @binding(3) var<storage, read_write> DX: array<f32>;
${KDECODE.replace(/fn xval[\s\S]*$/, '')}
fn loadA(m: u32, k: u32) -> f32 {
  let kvol = p.kd * p.kh * p.kw;
  return Wt[((k / kvol) * p.ci + m) * kvol + k % kvol];
}
fn tap(i: u32, pad: u32, kk: i32, s: u32, olen: u32) -> i32 {
  let t = i32(i + pad) - kk;
  if (t < 0 || (u32(t) % s) != 0u) { return -1; }
  let o = u32(t) / s;
  if (o >= olen) { return -1; }
  return i32(o);
}
fn loadB(k: u32, n: u32) -> f32 {
  let kvol = p.kd * p.kh * p.kw;
  let c = k / kvol;
  let kk = kdec(k % kvol);
  let ivol = p.id * p.ih * p.iw;
  let b = n / ivol;
  let i = n % ivol;
  let oz = tap(i / (p.ih * p.iw), p.pd, kk.x, p.sd, p.od);
  let oy = tap((i / p.iw) % p.ih, p.ph, kk.y, p.sh, p.oh);
  let ox = tap(i % p.iw, p.pw, kk.z, p.sw, p.ow);
  if (oz < 0 || oy < 0 || ox < 0) { return 0.0; }
  return DY[((b * p.co + c) * p.od + u32(oz)) * p.oh * p.ow + u32(oy) * p.ow + u32(ox)];
}
fn store(m: u32, n: u32, v: f32, z: u32) {
  let ivol = p.id * p.ih * p.iw;
  DX[((n / ivol) * p.ci + m) * ivol + n % ivol] = v;
}`,
  backwardFilter: /* wgsl */ `
@group(0) @binding(1) var<storage, read> DY: array<f32>;
@group(0) @binding(2) var<storage, read> X: array<f32>;
@group(0) @binding(3) var<storage, read_write> DW: array<f32>;
${KDECODE}
fn loadA(m: u32, k: u32) -> f32 {
  let ovol = p.od * p.oh * p.ow;
  return DY[((k / ovol) * p.co + m) * ovol + k % ovol];
}
fn loadB(k: u32, n: u32) -> f32 {
  let kvol = p.kd * p.kh * p.kw;
  let c = n / kvol;
  let kk = kdec(n % kvol);
  let ovol = p.od * p.oh * p.ow;
  let b = k / ovol;
  let o = k % ovol;
  let oz = o / (p.oh * p.ow);
  let oy = (o / p.ow) % p.oh;
  let ox = o % p.ow;
  return xval(b, c, i32(oz * p.sd) + kk.x - i32(p.pd), i32(oy * p.sh) + kk.y - i32(p.ph), i32(ox * p.sw) + kk.z - i32(p.pw));
}
fn store(m: u32, n: u32, v: f32, z: u32) { DW[(z * p.M + m) * p.N + n] = v; }`,
} as const;

type Pass = keyof typeof PASSES;

/** The tiled GEMM body for tile `t`; `kMajor` loads tiles with k fastest across threads (coalesced when k walks memory). */
function gemmKernel(pass: Pass, kMajor: boolean, t: Tile): KernelSource {
  const [tm, tn, tk, threads] = [t.r * t.ty, t.c * t.tx, t.tk, t.tx * t.ty];
  const rows = [...Array(t.r).keys()];
  const vecs = [...Array(t.c / 4).keys()];
  const load = (tile: number, name: string, bound: string, guard: string, fn: string, store: string): string => `
    for (var idx = tid; idx < ${tk * tile}u; idx += ${threads}u) {
      ${kMajor ? `let kk = idx % ${tk}u; let ${name} = idx / ${tk}u;` : `let kk = idx / ${tile}u; let ${name} = idx % ${tile}u;`}
      let ${bound} = ${bound}0 + ${name};
      let k = kt + kk;
      var v = 0.0;
      if (${guard} && k < k1) { v = ${fn}; }
      ${store}[kk * ${tile}u + ${name}] = v;
    }`;
  const acc = (i: number, h: number): string => `acc${i}_${h}`;
  const code = /* wgsl */ `${PARAMS}
${PASSES[pass]}
fn storeRow(m: u32, n: u32, v: vec4<f32>, z: u32) {
  if (m >= p.M) { return; }
  for (var j = 0u; j < 4u; j++) {
    if (n + ${t.tx}u * j < p.N) { store(m, n + ${t.tx}u * j, v[j], z); }
  }
}
var<workgroup> As: array<f32, ${tk * tm}>;
var<workgroup> Bs: array<f32, ${tk * tn}>;
@compute @workgroup_size(${t.tx}, ${t.ty}, 1)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let tid = lid.y * ${t.tx}u + lid.x;
  let m0 = wg.y * ${tm}u;
  let n0 = wg.x * ${tn}u;
  let k0 = wg.z * p.kchunk;
  let k1 = min(p.K, k0 + p.kchunk);
${rows.flatMap((i) => vecs.map((h) => `  var ${acc(i, h)} = vec4<f32>();`)).join('\n')}
  for (var kt = k0; kt < k1; kt += ${tk}u) {${load(tm, 'mm', 'm', 'm < p.M', 'loadA(m, k)', 'As')}${load(tn, 'nn', 'n', 'n < p.N', 'loadB(k, n)', 'Bs')}
    workgroupBarrier();
    for (var kk = 0u; kk < ${tk}u; kk++) {
${vecs.map((h) => `      let b${h} = vec4<f32>(${[0, 1, 2, 3].map((j) => `Bs[kk * ${tn}u + lid.x + ${t.tx * (4 * h + j)}u]`).join(', ')});`).join('\n')}
${rows.map((i) => `      let a${i} = vec4<f32>(As[kk * ${tm}u + lid.y + ${t.ty * i}u]);\n${vecs.map((h) => `      ${acc(i, h)} = fma(a${i}, b${h}, ${acc(i, h)});`).join('\n')}`).join('\n')}
    }
    workgroupBarrier();
  }
${rows.flatMap((i) => vecs.map((h) => `  storeRow(m0 + lid.y + ${t.ty * i}u, n0 + lid.x + ${4 * h * t.tx}u, ${acc(i, h)}, wg.z);`)).join('\n')}
}`;
  const geo = new RegExp(`\\bp\\.(${GEOMETRY.join('|')})\\b`, 'g');
  return { key: `conv-${pass}-${kMajor ? 'k' : 'm'}-${t.name}`, code: code.replace(geo, 'g_$1') };
}

const SPLIT_SUM: KernelSource = {
  key: 'split-sum',
  code: /* wgsl */ `
struct P { n: u32, parts: u32 };
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> T: array<f32>;
@group(0) @binding(2) var<storage, read_write> O: array<f32>;
@compute @workgroup_size(256)
fn main(${GRID_PARAMS}) {
  ${GRID_STRIDE}
  for (var i = start; i < p.n; i += nthreads) {
    var s = 0.0;
    for (var z = 0u; z < p.parts; z++) { s += T[z * p.n + i]; }
    O[i] = s;
  }
}`,
};

function uniforms(M: number, N: number, K: number, kchunk: number, hasBias: boolean): Uniform[] {
  return [M, N, K, kchunk, hasBias ? 1 : 0].map((u) => ({ u }));
}

const sources = new Map<string, KernelSource>();

/** The kernel specialised on the geometry `g` (override constants). */
function specialised(pass: Pass, kMajor: boolean, t: Tile, g: ConvGeometry): KernelSource {
  const v = [g.n, g.cIn, ...g.inS, g.cOut, ...g.k, ...g.outS, ...g.stride, ...g.pad];
  const id = `${pass}-${kMajor}-${t.name}`;
  if (!sources.has(id)) sources.set(id, gemmKernel(pass, kMajor, t));
  return { ...sources.get(id)!, constants: Object.fromEntries(GEOMETRY.map((name, i) => [`g_${name}`, v[i]!])) };
}

const tiles = (t: Tile, M: number, N: number): [number, number] => [Math.ceil(N / (t.c * t.tx)), Math.ceil(M / (t.r * t.ty))];
const vol = (s: number[]): number => s.reduce((a, b) => a * b, 1);

/** y = conv(x, w) + bias into `y` (`[n, cOut, ...outS]`). `bias` null: no bias (a dummy buffer is bound). */
export function convForward(e: Engine, g: ConvGeometry, x: GPUBuffer, w: GPUBuffer, bias: GPUBuffer | null, y: GPUBuffer): void {
  const M = g.cOut;
  const K = g.cIn * vol(g.k);
  const N = g.n * vol(g.outS);
  const t = tileFor(M, N, e.software);
  const [gx, gy] = tiles(t, M, N);
  e.dispatch(specialised('forward', false, t, g), [w, x, y, bias ?? e.dummy()], uniforms(M, N, K, K, bias != null), [gx, gy, 1]);
}

/** dx of `convForward` into `dx` (`[n, cIn, ...inS]`). */
export function convBackwardData(e: Engine, g: ConvGeometry, dy: GPUBuffer, w: GPUBuffer, dx: GPUBuffer): void {
  const M = g.cIn;
  const K = g.cOut * vol(g.k);
  const N = g.n * vol(g.inS);
  const t = tileFor(M, N, e.software);
  const [gx, gy] = tiles(t, M, N);
  e.dispatch(specialised('backwardData', false, t, g), [w, dy, dx], uniforms(M, N, K, K, false), [gx, gy, 1]);
}

/**
 * dW of `convForward` into `dw` (`[cOut, cIn, ...k]`). The reduction over n*outVox is split across up to 64
 * workgroup layers (about 2048 k per layer) into a scratch buffer, then summed.
 */
export function convBackwardFilter(e: Engine, g: ConvGeometry, x: GPUBuffer, dy: GPUBuffer, dw: GPUBuffer): void {
  const M = g.cOut;
  const N = g.cIn * vol(g.k);
  const K = g.n * vol(g.outS);
  const t = tileFor(M, N, e.software);
  const [gx, gy] = tiles(t, M, N);
  const maxParts = Math.max(1, Math.floor(e.limits.maxStorageBufferBindingSize / (M * N * 4)));
  const parts = Math.max(1, Math.min(64, maxParts, Math.ceil(K / 2048)));
  const kchunk = Math.ceil(K / parts / t.tk) * t.tk;
  const used = Math.ceil(K / kchunk);
  if (used === 1) {
    e.dispatch(specialised('backwardFilter', true, t, g), [dy, x, dw], uniforms(M, N, K, kchunk, false), [gx, gy, 1]);
    return;
  }
  const tmp = e.alloc(used * M * N * 4);
  e.dispatch(specialised('backwardFilter', true, t, g), [dy, x, tmp], uniforms(M, N, K, kchunk, false), [gx, gy, used]);
  e.dispatch(SPLIT_SUM, [tmp, dw], [{ u: M * N }, { u: used }], grid1d(M * N));
  e.release(tmp);
}
