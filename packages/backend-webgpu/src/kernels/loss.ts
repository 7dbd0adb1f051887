/**
 * Dice + cross-entropy (softmax) or Dice + BCE (regions) of one deep-supervision level, fused on the device:
 * nnU-Net's `DC_and_CE_loss` / `DC_and_BCE_loss` with `MemoryEfficientSoftDiceLoss` (RULES.md §15-§16).
 *
 * Three dispatches per level: (1) per-sample partial sums over voxel chunks of soft tp (`I`), sum of
 * probabilities (`P`), sum of one-hot (`G`) per channel, the CE/BCE sum and the voxel count; (2) one workgroup
 * reduces them, writes the level's `[loss, ce, dice]` (weighted, added over levels) and the per-(sample, channel)
 * coefficients of the Dice gradient `dL/dp = A y + B` (scaled by weightDice; the CE part by weightCe); (3) the logit gradient per voxel,
 * softmax: `w s ((p - y) / count + p (g - sum_j p_j g_j))`, regions: `w s ((q - y) / count + q (1 - q) g)`.
 */
import { type Engine, type KernelSource, WG } from '../engine.js';
import { header, f, u, WG_REDUCE } from './util.js';

/** Voxel chunks per sample in the statistics pass. */
const CHUNKS = 64;

/** Options of one level (see `DcCeLossOptions` in core). */
export interface LevelLoss {
  n: number;
  k: number;
  vol: number;
  weight: number;
  lossScale: number;
  batchDice: boolean;
  doBackground: boolean;
  smooth: number;
  ignoreLabel: number | undefined;
  /** Region table `[k, labels]` (1 where label belongs to region), or null for softmax. */
  regions: { table: GPUBuffer; labels: number } | null;
  /** Divisor of the BCE sum: voxels times channels (true) or voxels only (false). */
  bcePerChannel: boolean;
  /** nnU-Net `DC_and_CE_loss(weight_ce, weight_dice)`: loss = weightCe ce + weightDice dice (both 1 by default). */
  weightCe: number;
  weightDice: number;
}

// per-voxel code shared by the statistics and gradient passes: fills prob[c], y[c], contributes ce
function voxelCode(k: number, regions: boolean): string {
  if (!regions) {
    return `
    var m = L[base];
    for (var c = 1u; c < ${k}u; c++) { m = max(m, L[base + c * p.vol]); }
    var s = 0.0;
    for (var c = 0u; c < ${k}u; c++) { prob[c] = exp(L[base + c * p.vol] - m); s += prob[c]; }
    for (var c = 0u; c < ${k}u; c++) { prob[c] = prob[c] / s; y[c] = select(0.0, 1.0, i32(c) == t); }
    var lt = 0.0;
    if (t >= 0 && t < ${k}) { lt = L[base + u32(t) * p.vol]; }
    let ce = log(s) + m - lt;`;
  }
  return `
    var ce = 0.0;
    for (var c = 0u; c < ${k}u; c++) {
      let l = L[base + c * p.vol];
      prob[c] = 1.0 / (1.0 + exp(-l));
      var yy = 0.0;
      if (t >= 0 && u32(t) < p.labels) { yy = RT[c * p.labels + u32(t)]; }
      y[c] = yy;
      ce += max(l, 0.0) - l * yy + log(1.0 + exp(-abs(l)));
    }`;
}

function statsKernel(k: number, regions: boolean): KernelSource {
  const q = 3 * k + 2;
  return {
    key: `dcce-stats-${k}-${regions}`,
    code: `${header(['vol', 'hasIgnore', 'ignore: i32', 'labels', 'chunks'], [
      { name: 'L' }, { name: 'T', type: 'i32' }, { name: 'RT' }, { name: 'PS', write: true },
    ])}${WG_REDUCE}
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let b = wg.y;
  var acc: array<f32, ${q}>;
  var prob: array<f32, ${k}>;
  var y: array<f32, ${k}>;
  for (var v = wg.x * ${WG}u + lid.x; v < p.vol; v += ${WG}u * p.chunks) {
    let t = T[b * p.vol + v];
    if (p.hasIgnore != 0u && t == p.ignore) { continue; }
    let base = b * ${k}u * p.vol + v;
    ${voxelCode(k, regions)}
    for (var c = 0u; c < ${k}u; c++) {
      acc[3u * c] += prob[c] * y[c];
      acc[3u * c + 1u] += prob[c];
      acc[3u * c + 2u] += y[c];
    }
    acc[${3 * k}] += ce;
    acc[${3 * k + 1}] += 1.0;
  }
  for (var j = 0u; j < ${q}u; j++) {
    let r = red(acc[j], lid.x);
    if (lid.x == 0u) { PS[(b * p.chunks + wg.x) * ${q}u + j] = r; }
  }
}`,
  };
}

// TOT: n*q totals (scratch), CO: per (b, c) [A, B] then [1/count] at n*k*2; V: [loss, ce, dice] (+)=
function finishKernel(k: number): KernelSource {
  const q = 3 * k + 2;
  return {
    key: `dcce-finish-${k}`,
    code: `${header(['n', 'chunks', 'batchDice', 'c0', 'first', 'cePerChannel', 'smth: f32', 'w: f32', 'wce: f32', 'wdice: f32'], [
      { name: 'PS' }, { name: 'TOT', write: true }, { name: 'CO', write: true }, { name: 'V', write: true },
    ])}
@compute @workgroup_size(${WG})
fn main(@builtin(local_invocation_id) lid: vec3<u32>) {
  for (var j = lid.x; j < p.n * ${q}u; j += ${WG}u) {
    let b = j / ${q}u; let qq = j % ${q}u;
    var s = 0.0;
    for (var c = 0u; c < p.chunks; c++) { s += PS[(b * p.chunks + c) * ${q}u + qq]; }
    TOT[j] = s;
  }
  storageBarrier();
  workgroupBarrier();
  if (lid.x != 0u) { return; }
  var ceSum = 0.0; var count = 0.0;
  for (var b = 0u; b < p.n; b++) { ceSum += TOT[b * ${q}u + ${3 * k}u]; count += TOT[b * ${q}u + ${3 * k + 1}u]; }
  let nInc = ${k}u - p.c0;
  var terms = f32(nInc);
  if (p.batchDice == 0u) { terms = f32(nInc * p.n); }
  var dsum = 0.0;
  for (var c = 0u; c < ${k}u; c++) {
    for (var b = 0u; b < p.n; b++) {
      var I = 0.0; var P = 0.0; var G = 0.0;
      if (p.batchDice != 0u) {
        for (var bb = 0u; bb < p.n; bb++) { I += TOT[bb * ${q}u + 3u * c]; P += TOT[bb * ${q}u + 3u * c + 1u]; G += TOT[bb * ${q}u + 3u * c + 2u]; }
      } else {
        I = TOT[b * ${q}u + 3u * c]; P = TOT[b * ${q}u + 3u * c + 1u]; G = TOT[b * ${q}u + 3u * c + 2u];
      }
      var A = 0.0; var B = 0.0;
      if (c >= p.c0) {
        let num = 2.0 * I + p.smth;
        let raw = P + G + p.smth;
        let den = max(raw, 1e-8);
        if (p.batchDice == 0u || b == 0u) { dsum += num / den; }
        A = -2.0 / (terms * den);
        if (raw >= 1e-8) { B = num / (terms * den * den); }
      }
      CO[(b * ${k}u + c) * 2u] = p.wdice * A;
      CO[(b * ${k}u + c) * 2u + 1u] = p.wdice * B;
    }
  }
  var denom = count;
  if (p.cePerChannel != 0u) { denom = count * f32(${k}u); }
  var ce = 0.0;
  var cinv = 0.0;
  if (denom > 0.0) { ce = ceSum / denom; cinv = 1.0 / denom; }
  CO[p.n * ${k}u * 2u] = p.wce * cinv;
  let dice = -dsum / terms;
  if (p.first != 0u) { V[0] = 0.0; V[1] = 0.0; V[2] = 0.0; }
  V[0] += p.w * (p.wce * ce + p.wdice * dice);
  V[1] += p.w * p.wce * ce;
  V[2] += p.w * p.wdice * dice;
}`,
  };
}

function gradKernel(k: number, regions: boolean): KernelSource {
  const combine = regions
    ? `for (var c = 0u; c < ${k}u; c++) {
      let gd = CO[(b * ${k}u + c) * 2u] * y[c] + CO[(b * ${k}u + c) * 2u + 1u];
      D[base + c * p.vol] = p.scale * ((prob[c] - y[c]) * cinv + prob[c] * (1.0 - prob[c]) * gd);
    }`
    : `var gd: array<f32, ${k}>;
    var dot = 0.0;
    for (var c = 0u; c < ${k}u; c++) { gd[c] = CO[(b * ${k}u + c) * 2u] * y[c] + CO[(b * ${k}u + c) * 2u + 1u]; dot += prob[c] * gd[c]; }
    for (var c = 0u; c < ${k}u; c++) { D[base + c * p.vol] = p.scale * ((prob[c] - y[c]) * cinv + prob[c] * (gd[c] - dot)); }`;
  return {
    key: `dcce-grad-${k}-${regions}`,
    code: `${header(['n', 'vol', 'hasIgnore', 'ignore: i32', 'labels', 'scale: f32'], [
      { name: 'L' }, { name: 'T', type: 'i32' }, { name: 'RT' }, { name: 'CO' }, { name: 'D', write: true },
    ])}
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let nthreads = ${WG}u * nwg.x * nwg.y;
  var prob: array<f32, ${k}>;
  var y: array<f32, ${k}>;
  let cinv = CO[p.n * ${k}u * 2u];
  for (var i = (wid.y * nwg.x + wid.x) * ${WG}u + lid.x; i < p.n * p.vol; i += nthreads) {
    let b = i / p.vol; let v = i % p.vol;
    let t = T[i];
    let base = b * ${k}u * p.vol + v;
    if (p.hasIgnore != 0u && t == p.ignore) {
      for (var c = 0u; c < ${k}u; c++) { D[base + c * p.vol] = 0.0; }
      continue;
    }
    ${voxelCode(k, regions)}
    ${combine}
  }
}`,
  };
}

/**
 * One level: adds `weight * [loss, ce, dice]` to `values` (`first` overwrites) and, when `grad` is given, writes
 * `lossScale * weight * dLoss/dLogits` into it. `logits` `[n, k, vol]` f32, `targets` `[n, vol]` int32.
 */
export function dcCeLevel(e: Engine, o: LevelLoss, logits: GPUBuffer, targets: GPUBuffer, values: GPUBuffer, grad: GPUBuffer | null, first: boolean): void {
  const q = 3 * o.k + 2;
  const chunks = Math.max(1, Math.min(CHUNKS, Math.ceil(o.vol / WG)));
  const regions = o.regions != null;
  const rt = o.regions?.table ?? e.dummy();
  const labels = o.regions?.labels ?? 0;
  const ign = o.ignoreLabel;
  const ps = e.alloc(o.n * chunks * q * 4);
  const tot = e.alloc(o.n * q * 4);
  const co = e.alloc((o.n * o.k * 2 + 1) * 4);
  e.dispatch(statsKernel(o.k, regions), [logits, targets, rt, ps], [u(o.vol), u(ign === undefined ? 0 : 1), { i: ign ?? 0 }, u(labels), u(chunks)], [chunks, o.n]);
  const c0 = regions || o.doBackground ? 0 : 1;
  const cePerChannel = regions && o.bcePerChannel ? 1 : 0;
  e.dispatch(finishKernel(o.k), [ps, tot, co, values], [u(o.n), u(chunks), u(o.batchDice ? 1 : 0), u(c0), u(first ? 1 : 0), u(cePerChannel), f(o.smooth), f(o.weight), f(o.weightCe), f(o.weightDice)], [1]);
  if (grad) {
    const n = o.n * o.vol;
    const groups = Math.max(1, Math.ceil(n / WG));
    const grid: [number, number] = groups <= 65535 ? [groups, 1] : [65535, Math.ceil(groups / 65535)];
    e.dispatch(gradKernel(o.k, regions), [logits, targets, rt, co, grad], [u(o.n), u(o.vol), u(ign === undefined ? 0 : 1), { i: ign ?? 0 }, u(labels), f(o.weight * o.lossScale)], grid);
  }
  e.release(ps);
  e.release(tot);
  e.release(co);
}
