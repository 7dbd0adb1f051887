import { PlaneResampler } from './inplane.js';
import { bindRunZRange, isShared, PARALLEL_MAX_VOXELS, PARALLEL_MIN_VOXELS, resamplePool, toShared } from './pool.js';
import { axisPlan, checkOrder } from './spline.js';
import { prefilterAxis0 } from './zfilter.js';

/**
 * Resizes one channel `[Z, Y, X]` (x fastest) to `[Z', Y', X']`, streaming over z so that besides input and output
 * only a few planes (plus, for z order >= 2, one z-prefiltered copy of the input) are held.
 *
 * - `separate = false` (nnU-Net without separate z): one tensor-product spline of `order` on all three axes, then the
 *   result is clipped to the input's [min, max] (scikit-image `resize(..., clip=True)`).
 * - `separate = true` (RULES.md §13 separate-z, axis 0 here): every z slice is resized in-plane with `order` and
 *   clipped to that slice's [min, max] (one skimage call per slice), then axis 0 is interpolated with `orderZ`
 *   (`map_coordinates(mode='nearest')`, no clipping).
 *
 * Writes float32 into `out[outOffset ..]`. With `inPlace` the input channel may be overwritten (saves one copy of
 * it when z needs spline prefiltering).
 */
export function resampleChannel(
  src: Float32Array,
  srcOffset: number,
  shape: readonly number[],
  newShape: readonly number[],
  order: number,
  orderZ: number,
  separate: boolean,
  out: Float32Array,
  outOffset: number,
  inPlace = false,
): void {
  checkOrder(order);
  checkOrder(orderZ, 'orderZ');
  const [Z, Y, X] = shape as [number, number, number];
  const [Zo, Yo, Xo] = newShape as [number, number, number];
  const plane = Y * X;
  const planeOut = Yo * Xo;
  const zOrder = separate ? orderZ : order;
  if (separate && zOrder >= 2 && Z !== Zo) {
    // Rare (nnU-Net uses order_z 0): materialise the clipped in-plane result, then spline along z alone.
    const mid = new Float32Array(Z * planeOut);
    resampleChannel(src, srcOffset, shape, [Z, Yo, Xo], order, 0, true, mid, 0);
    resampleChannel(mid, 0, [Z, Yo, Xo], newShape, zOrder, zOrder, false, out, outOffset);
    return;
  }
  const zPlan = axisPlan(Z, Zo, zOrder);
  let lo = Infinity;
  let hi = -Infinity;
  if (!separate && order >= 2) {
    for (let i = 0; i < Z * plane; i++) {
      const v = src[srcOffset + i]!;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
  }
  // Threads for mid-sized channels only: workers keep shared buffers alive until their own GC runs, which would
  // undo the peak-memory bound on very large cases (those run on the calling thread, in place).
  const voxels = Z * plane + Zo * planeOut;
  const pool = Zo * planeOut >= PARALLEL_MIN_VOXELS && voxels <= PARALLEL_MAX_VOXELS ? resamplePool() : null;
  const share = pool !== null;
  // Source planes in the padded z frame of zPlan: raw slices, or z-prefiltered coefficients.
  let arrs: Float32Array[];
  let offs: number[];
  if (zPlan.pad > 0) {
    ({ arrs, offs } = prefilterAxis0(src, srcOffset, Z, plane, zOrder, inPlace, share));
  } else {
    const base = share && !isShared(src) ? toShared(src.subarray(srcOffset, srcOffset + Z * plane)) : src;
    const bo = base === src ? srcOffset : 0;
    arrs = new Array<Float32Array>(Z).fill(base);
    offs = Array.from({ length: Z }, (_, k) => bo + k * plane);
  }
  const job: ZJob = {
    arrs, offs, Z, Y, X, Zo, Yo, Xo, order, zOrder, separate,
    lo: lo <= hi ? lo : -Infinity, hi: lo <= hi ? hi : Infinity,
    out: share && !isShared(out) ? new Float32Array(new SharedArrayBuffer(Zo * planeOut * 4)) : out,
    outOffset: share && !isShared(out) ? 0 : outOffset,
  };
  if (pool) pool.run(job);
  else runZRange(job, 0, Zo);
  if (job.out !== out) out.set(job.out, outOffset);
}

/** Everything needed to produce output planes `[zoStart, zoEnd)` of one channel (shareable with workers). */
export interface ZJob {
  arrs: Float32Array[];
  offs: number[];
  Z: number; Y: number; X: number;
  Zo: number; Yo: number; Xo: number;
  order: number; zOrder: number; separate: boolean;
  /** Output clip range (-Infinity/Infinity for none). */
  lo: number; hi: number;
  out: Float32Array;
  outOffset: number;
}

/**
 * Output planes `[zoStart, zoEnd)` of a job: each needed source plane is resized in-plane once (an LRU of
 * order+1 planes, since z taps advance monotonically), then combined along z with the clip fused in.
 */
export function runZRange(job: ZJob, zoStart: number, zoEnd: number): void {
  const { arrs, offs, Z, Y, X, Zo, Yo, Xo, order, zOrder, separate, out, outOffset } = job;
  const plane = Y * X;
  const planeOut = Yo * Xo;
  const zPlan = axisPlan(Z, Zo, zOrder);
  const pr = new PlaneResampler(Y, X, Yo, Xo, order);
  const cache = new Map<number, Float32Array>();
  const spare: Float32Array[] = [];
  const getPlane = (p: number): Float32Array => {
    let buf = cache.get(p);
    if (buf) return buf;
    buf = spare.pop() ?? new Float32Array(planeOut);
    const arr = arrs[p]!;
    const off = offs[p]!;
    pr.run(arr, off, buf);
    if (separate && order >= 2 && !(pr.rowPlan.identity && pr.colPlan.identity)) {
      let a = Infinity;
      let b = -Infinity;
      for (let i = 0; i < plane; i++) {
        const v = arr[off + i]!;
        if (v < a) a = v;
        if (v > b) b = v;
      }
      for (let i = 0; i < planeOut; i++) buf[i] = Math.min(Math.max(buf[i]!, a), b);
    }
    cache.set(p, buf);
    return buf;
  };
  const taps = zPlan.taps;
  const planes: Float32Array[] = [];
  const w: number[] = [];
  for (let zo = zoStart; zo < zoEnd; zo++) {
    const first = zPlan.index[zo * taps]!;
    for (const k of [...cache.keys()]) {
      if (k < first) {
        spare.push(cache.get(k)!);
        cache.delete(k);
      }
    }
    planes.length = 0;
    w.length = 0;
    for (let t = 0; t < taps; t++) {
      const wt = zPlan.weight[zo * taps + t]!;
      if (wt === 0) continue;
      planes.push(getPlane(zPlan.index[zo * taps + t]!));
      w.push(wt);
    }
    combinePlanes(planes, w, out, outOffset + zo * planeOut, planeOut, job.lo, job.hi);
  }
}

/** `out[o + i] = clamp(sum_t w[t] * planes[t][i], lo, hi)`, with unrolled cases for 1, 2 and 4 planes. */
function combinePlanes(p: Float32Array[], w: number[], out: Float32Array, o: number, n: number, lo: number,
  hi: number): void {
  if (p.length === 4) {
    const a = p[0]!, b = p[1]!, c = p[2]!, d = p[3]!, wa = w[0]!, wb = w[1]!, wc = w[2]!, wd = w[3]!;
    for (let i = 0; i < n; i++) {
      let v = wa * a[i]! + wb * b[i]! + wc * c[i]! + wd * d[i]!;
      if (v < lo) v = lo;
      else if (v > hi) v = hi;
      out[o + i] = v;
    }
  } else if (p.length === 2) {
    const a = p[0]!, b = p[1]!, wa = w[0]!, wb = w[1]!;
    for (let i = 0; i < n; i++) {
      let v = wa * a[i]! + wb * b[i]!;
      if (v < lo) v = lo;
      else if (v > hi) v = hi;
      out[o + i] = v;
    }
  } else if (p.length === 1) {
    const a = p[0]!, wa = w[0]!;
    for (let i = 0; i < n; i++) {
      let v = wa * a[i]!;
      if (v < lo) v = lo;
      else if (v > hi) v = hi;
      out[o + i] = v;
    }
  } else {
    for (let i = 0; i < n; i++) {
      let v = 0;
      for (let t = 0; t < p.length; t++) v += w[t]! * p[t]![i]!;
      if (v < lo) v = lo;
      else if (v > hi) v = hi;
      out[o + i] = v;
    }
  }
}

bindRunZRange(runZRange);
