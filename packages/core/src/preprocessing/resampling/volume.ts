import { PlaneResampler, prefilterRows } from './inplane.js';
import { axisPlan, checkOrder, SPLINE_PAD } from './spline.js';

/**
 * Resizes one channel `[Z, Y, X]` (x fastest) to `[Z', Y', X']`, streaming over z so that besides input and output
 * only a few planes (plus, for z order >= 2, one z-prefiltered copy of the input) are held.
 *
 * - `separate = false` (nnU-Net without separate z): one tensor-product spline of `order` on all three axes, then the
 *   result is clipped to the input's [min, max] (scikit-image `resize(..., clip=True)`).
 * - `separate = true` (spec 1.13 separate-z, axis 0 here): every z slice is resized in-plane with `order` and
 *   clipped to that slice's [min, max] (one skimage call per slice), then axis 0 is interpolated with `orderZ`
 *   (`map_coordinates(mode='nearest')`, no clipping).
 *
 * Writes float32 into `out[outOffset ..]`.
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
  const pr = new PlaneResampler(Y, X, Yo, Xo, order);
  // Source of plane p (in the padded z frame of zPlan): raw slices, or z-prefiltered coefficients.
  let coef: Float32Array | null = null;
  if (zPlan.pad > 0) coef = prefilterAxis0(src, srcOffset, Z, plane, zOrder);
  const planeSrc = (p: number): [ArrayLike<number>, number] =>
    coef ? [coef, p * plane] : [src, srcOffset + p * plane];

  let lo = Infinity;
  let hi = -Infinity;
  if (!separate && order >= 2) {
    for (let i = 0; i < Z * plane; i++) {
      const v = src[srcOffset + i]!;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
  }
  const cache = new Map<number, Float64Array>();
  const spare: Float64Array[] = [];
  const getPlane = (p: number): Float64Array => {
    let buf = cache.get(p);
    if (buf) return buf;
    buf = spare.pop() ?? new Float64Array(planeOut);
    const [arr, off] = planeSrc(p);
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
  const acc = new Float64Array(planeOut);
  for (let zo = 0; zo < Zo; zo++) {
    const first = zPlan.index[zo * taps]!;
    for (const k of [...cache.keys()]) {
      if (k < first) {
        spare.push(cache.get(k)!);
        cache.delete(k);
      }
    }
    const o = outOffset + zo * planeOut;
    if (taps === 1) {
      const p = getPlane(first);
      for (let i = 0; i < planeOut; i++) out[o + i] = p[i]!;
    } else {
      acc.fill(0);
      for (let t = 0; t < taps; t++) {
        const w = zPlan.weight[zo * taps + t]!;
        if (w === 0) continue;
        const p = getPlane(zPlan.index[zo * taps + t]!);
        for (let i = 0; i < planeOut; i++) acc[i] += w * p[i]!;
      }
      for (let i = 0; i < planeOut; i++) out[o + i] = acc[i]!;
    }
    if (lo <= hi) for (let i = 0; i < planeOut; i++) out[o + i] = Math.min(Math.max(out[o + i]!, lo), hi);
  }
}

/**
 * z-prefiltered, edge-padded copy of a channel: `(Z + 2*SPLINE_PAD)` planes of float32 B-spline coefficients along
 * axis 0 (x and y untouched). Filtered in float64 column blocks.
 */
export function prefilterAxis0(src: Float32Array, off: number, Z: number, plane: number, order: number): Float32Array {
  const P = SPLINE_PAD;
  const len = Z + 2 * P;
  const coef = new Float32Array(len * plane);
  const B = Math.max(1, Math.min(plane, Math.floor(262144 / len)));
  const buf = new Float64Array(len * B);
  for (let c0 = 0; c0 < plane; c0 += B) {
    const w = Math.min(B, plane - c0);
    for (let k = 0; k < len; k++) {
      const z = Math.min(Math.max(k - P, 0), Z - 1);
      const s = off + z * plane + c0;
      for (let x = 0; x < w; x++) buf[k * w + x] = src[s + x]!;
    }
    prefilterRows(buf, len, w, order);
    for (let k = 0; k < len; k++) {
      const d = k * plane + c0;
      for (let x = 0; x < w; x++) coef[d + x] = buf[k * w + x]!;
    }
  }
  return coef;
}

/** Moves axis `axis` of a `[Z, Y, X]` volume to the front; returns the data and the permuted shape. */
export function moveAxisToFront(src: Float32Array, off: number, shape: readonly number[], axis: number):
  { data: Float32Array; shape: number[] } {
  const [Z, Y, X] = shape as [number, number, number];
  if (axis === 0) return { data: src.subarray(off, off + Z * Y * X), shape: [Z, Y, X] };
  const out = new Float32Array(Z * Y * X);
  if (axis === 1) {
    // [Z, Y, X] -> [Y, Z, X]
    for (let z = 0; z < Z; z++) for (let y = 0; y < Y; y++) {
      out.set(src.subarray(off + (z * Y + y) * X, off + (z * Y + y + 1) * X), (y * Z + z) * X);
    }
    return { data: out, shape: [Y, Z, X] };
  }
  // [Z, Y, X] -> [X, Z, Y]
  for (let z = 0; z < Z; z++) for (let y = 0; y < Y; y++) {
    const s = off + (z * Y + y) * X;
    for (let x = 0; x < X; x++) out[(x * Z + z) * Y + y] = src[s + x]!;
  }
  return { data: out, shape: [X, Z, Y] };
}

/** Inverse of `moveAxisToFront`: `data` has the permuted shape; writes `[Z, Y, X]` into `out[off ..]`. */
export function moveFrontAxisBack(data: Float32Array, permShape: readonly number[], axis: number, out: Float32Array,
  off: number): void {
  if (axis === 0) {
    out.set(data, off);
    return;
  }
  if (axis === 1) {
    const [Y, Z, X] = permShape as [number, number, number];
    for (let y = 0; y < Y; y++) for (let z = 0; z < Z; z++) {
      out.set(data.subarray((y * Z + z) * X, (y * Z + z + 1) * X), off + (z * Y + y) * X);
    }
    return;
  }
  const [X, Z, Y] = permShape as [number, number, number];
  for (let x = 0; x < X; x++) for (let z = 0; z < Z; z++) {
    const s = (x * Z + z) * Y;
    for (let y = 0; y < Y; y++) out[off + (z * Y + y) * X + x] = data[s + y]!;
  }
}
