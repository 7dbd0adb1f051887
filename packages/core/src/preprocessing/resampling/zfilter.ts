import { isShared, toShared } from './pool.js';
import { filterConstants, reflectIndex, SPLINE_PAD } from './spline.js';

/** Planes of a z-padded coefficient volume: plane `k` is `arrs[k][offs[k] .. offs[k] + plane)`. */
export interface PlaneStack {
  arrs: Float32Array[];
  offs: number[];
}

/**
 * z B-spline coefficients of a channel over the edge-padded range `[-SPLINE_PAD, Z + SPLINE_PAD)` (x and y
 * untouched). The `Z` real planes are filtered in a copy, or in `src` itself when `inPlace` (then `src` is
 * overwritten); the 2 * SPLINE_PAD pad planes live in one extra buffer. The recursions run plane-wise over float32
 * storage (float64 arithmetic per element; relative error ~1e-7, far below the 1e-3 tolerance).
 */
export function prefilterAxis0(src: Float32Array, off: number, Z: number, plane: number, order: number,
  inPlace = false, shared = false): PlaneStack {
  const P = SPLINE_PAD;
  const len = Z + 2 * P;
  const reuse = inPlace && (!shared || isShared(src));
  const main = reuse ? src : shared ? toShared(src.subarray(off, off + Z * plane)) : src.slice(off, off + Z * plane);
  const mainOff = reuse ? off : 0;
  const pads = shared ? new Float32Array(new SharedArrayBuffer(2 * P * plane * 4)) : new Float32Array(2 * P * plane);
  const arrs: Float32Array[] = [];
  const offs: number[] = [];
  for (let k = 0; k < len; k++) {
    if (k < P) {
      arrs.push(pads);
      offs.push(k * plane);
    } else if (k < P + Z) {
      arrs.push(main);
      offs.push(mainOff + (k - P) * plane);
    } else {
      arrs.push(pads);
      offs.push((k - Z) * plane);
    }
  }
  for (let k = 0; k < P; k++) {
    pads.set(main.subarray(mainOff, mainOff + plane), k * plane);
    pads.set(main.subarray(mainOff + (Z - 1) * plane, mainOff + Z * plane), (P + k) * plane);
  }
  const f = filterConstants(order);
  const init = new Float64Array(plane);
  for (let pi = 0; pi < f.poles.length; pi++) {
    const zp = f.poles[pi]!;
    const g = pi === 0 ? f.gain : 1; // the gain is folded into the first causal pass
    init.fill(0);
    let zk = g;
    for (let k = 0; k < f.horizons[pi]!; k++) {
      const r = reflectIndex(-k, len);
      const a = arrs[r]!, o = offs[r]!;
      for (let x = 0; x < plane; x++) init[x] += zk * a[o + x]!;
      zk *= zp;
    }
    {
      const a = arrs[0]!, o = offs[0]!;
      for (let x = 0; x < plane; x++) a[o + x] = init[x]!;
    }
    for (let i = 1; i < len; i++) {
      const a = arrs[i]!, o = offs[i]!, b = arrs[i - 1]!, q = offs[i - 1]!;
      for (let x = 0; x < plane; x++) a[o + x] = g * a[o + x]! + zp * b[q + x]!;
    }
    const endScale = zp / (zp - 1);
    {
      const a = arrs[len - 1]!, o = offs[len - 1]!;
      for (let x = 0; x < plane; x++) a[o + x] = endScale * a[o + x]!;
    }
    for (let i = len - 2; i >= 0; i--) {
      const a = arrs[i]!, o = offs[i]!, b = arrs[i + 1]!, q = offs[i + 1]!;
      for (let x = 0; x < plane; x++) a[o + x] = zp * (b[q + x]! - a[o + x]!);
    }
  }
  return { arrs, offs };
}

