/**
 * Per-plane reductions: instance norm forward/backward (one workgroup per `(n, c)` plane, two passes over the
 * plane for a centred variance) and per-channel sums (bias gradient, gamma/beta gradients).
 * nnU-Net: `InstanceNorm3d(eps=1e-5, affine=True)` followed by `LeakyReLU(0.01)` (RULES.md §7).
 */
import { type Engine, type KernelSource, WG } from '../engine.js';
import { header, f, u, WG_REDUCE } from './util.js';

// flags: 1 affine, 2 leaky, 4 training (store xhat)
const NORM_FWD: KernelSource = {
  key: 'inorm-fwd',
  code: `${header(['vol', 'c', 'flags', 'eps: f32', 'slope: f32'], [
    { name: 'X' }, { name: 'G' }, { name: 'Bt' }, { name: 'Y', write: true }, { name: 'XH', write: true }, { name: 'IS', write: true },
  ])}${WG_REDUCE}
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let plane = wg.y * 65535u + wg.x;
  let t = lid.x;
  let base = plane * p.vol;
  var s = 0.0;
  for (var i = t; i < p.vol; i += ${WG}u) { s += X[base + i]; }
  let mean = red(s, t) / f32(p.vol);
  var s2 = 0.0;
  for (var i = t; i < p.vol; i += ${WG}u) { let d = X[base + i] - mean; s2 += d * d; }
  let inv = inverseSqrt(red(s2, t) / f32(p.vol) + p.eps);
  if (t == 0u) { IS[plane] = inv; }
  let ch = plane % p.c;
  var g = 1.0; var b = 0.0;
  if ((p.flags & 1u) != 0u) { g = G[ch]; b = Bt[ch]; }
  for (var i = t; i < p.vol; i += ${WG}u) {
    let xh = (X[base + i] - mean) * inv;
    if ((p.flags & 4u) != 0u) { XH[base + i] = xh; }
    var z = g * xh + b;
    if ((p.flags & 2u) != 0u && z <= 0.0) { z = z * p.slope; }
    Y[base + i] = z;
  }
}`,
};

// writes dx and per-plane [sum dz * xhat, sum dz] into PS[2 * plane + {0, 1}]
const NORM_BWD: KernelSource = {
  key: 'inorm-bwd',
  code: `${header(['vol', 'c', 'flags', 'slope: f32'], [
    { name: 'DY' }, { name: 'XH' }, { name: 'IS' }, { name: 'G' }, { name: 'Bt' }, { name: 'DX', write: true }, { name: 'PS', write: true },
  ])}${WG_REDUCE}
fn dz(i: u32, g: f32, b: f32) -> f32 {
  let d = DY[i];
  if ((p.flags & 2u) != 0u && g * XH[i] + b <= 0.0) { return d * p.slope; }
  return d;
}
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let plane = wg.y * 65535u + wg.x;
  let t = lid.x;
  let base = plane * p.vol;
  let ch = plane % p.c;
  var g = 1.0; var b = 0.0;
  if ((p.flags & 1u) != 0u) { g = G[ch]; b = Bt[ch]; }
  var s = 0.0; var sx = 0.0;
  for (var i = t; i < p.vol; i += ${WG}u) { let d = dz(base + i, g, b); s += d; sx += d * XH[base + i]; }
  let sum = red(s, t);
  let sumx = red(sx, t);
  if (t == 0u) { PS[2u * plane] = sumx; PS[2u * plane + 1u] = sum; }
  let inv = IS[plane];
  let m = sum / f32(p.vol);
  let mx = sumx / f32(p.vol);
  for (var i = t; i < p.vol; i += ${WG}u) {
    DX[base + i] = g * inv * (dz(base + i, g, b) - m - XH[base + i] * mx);
  }
}`,
};

// O[ch * stride + off] (+)= sum over n of PS[(n * c + ch) * stride + off]  (per-channel totals of plane sums)
const PLANE_TO_CHANNEL: KernelSource = {
  key: 'plane-to-channel',
  code: `${header(['n', 'c', 'stride', 'off', 'acc'], [{ name: 'PS' }, { name: 'O', write: true }])}
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let ch = gid.x;
  if (ch >= p.c) { return; }
  var s = 0.0;
  for (var b = 0u; b < p.n; b++) { s += PS[(b * p.c + ch) * p.stride + p.off]; }
  if (p.acc != 0u) { O[ch] += s; } else { O[ch] = s; }
}`,
};

// PS[plane] = sum of the plane (one workgroup per plane)
const PLANE_SUM: KernelSource = {
  key: 'plane-sum',
  code: `${header(['vol'], [{ name: 'X' }, { name: 'PS', write: true }])}${WG_REDUCE}
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let plane = wg.y * 65535u + wg.x;
  var s = 0.0;
  for (var i = lid.x; i < p.vol; i += ${WG}u) { s += X[plane * p.vol + i]; }
  let r = red(s, lid.x);
  if (lid.x == 0u) { PS[plane] = r; }
}`,
};

const planeGrid = (planes: number): [number, number] => [Math.min(planes, 65535), Math.ceil(planes / 65535)];

/** Instance norm forward over `planes = n * c` planes of `vol` voxels. `xh` is written only when training. */
export function instanceNormForward(
  e: Engine, planes: number, c: number, vol: number, x: GPUBuffer, gamma: GPUBuffer | null, beta: GPUBuffer | null,
  y: GPUBuffer, xh: GPUBuffer | null, invStd: GPUBuffer, eps: number, slope: number | undefined,
): void {
  const flags = (gamma ? 1 : 0) | (slope !== undefined ? 2 : 0) | (xh ? 4 : 0);
  e.dispatch(NORM_FWD, [x, gamma ?? e.dummy(), beta ?? e.dummy(), y, xh ?? e.dummy(1), invStd], [u(vol), u(c), u(flags), f(eps), f(slope ?? 0)], planeGrid(planes));
}

/**
 * Instance norm backward: dx, and (when given) dgamma/dbeta (+)= per-channel sums of `dz * xhat` / `dz`.
 */
export function instanceNormBackward(
  e: Engine, n: number, c: number, vol: number, dy: GPUBuffer, xh: GPUBuffer, invStd: GPUBuffer,
  gamma: GPUBuffer | null, beta: GPUBuffer | null, slope: number | undefined, dx: GPUBuffer,
  dgamma: GPUBuffer | null, dbeta: GPUBuffer | null, accumulate: boolean,
): void {
  const flags = (gamma ? 1 : 0) | (slope !== undefined ? 2 : 0);
  const ps = e.alloc(n * c * 2 * 4);
  e.dispatch(NORM_BWD, [dy, xh, invStd, gamma ?? e.dummy(), beta ?? e.dummy(), dx, ps], [u(vol), u(c), u(flags), f(slope ?? 0)], planeGrid(n * c));
  const acc = u(accumulate ? 1 : 0);
  if (dgamma) e.dispatch(PLANE_TO_CHANNEL, [ps, dgamma], [u(n), u(c), u(2), u(0), acc], [Math.ceil(c / 64)]);
  if (dbeta) e.dispatch(PLANE_TO_CHANNEL, [ps, dbeta], [u(n), u(c), u(2), u(1), acc], [Math.ceil(c / 64)]);
  e.release(ps);
}

/** `grad[c]` (+)= sum over n and space of `dy[:, c]` (`[n, c, vol]`). */
export function channelSum(e: Engine, n: number, c: number, vol: number, dy: GPUBuffer, grad: GPUBuffer, accumulate: boolean): void {
  const ps = e.alloc(n * c * 4);
  e.dispatch(PLANE_SUM, [dy, ps], [u(vol)], planeGrid(n * c));
  e.dispatch(PLANE_TO_CHANNEL, [ps, grad], [u(n), u(c), u(1), u(0), u(accumulate ? 1 : 0)], [Math.ceil(c / 64)]);
  e.release(ps);
}
