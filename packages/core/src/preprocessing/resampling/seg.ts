import { axisPlan, checkOrder, type AxisPlan } from './spline.js';
import { resampleChannel } from './volume.js';

/**
 * Label-map resizing as nnU-Net's `resize_segmentation` (batchgenerators) and the separate-z branch of
 * `resample_data_or_seg` (RULES.md §13).
 *
 * Orders 0/1 use a gather formulation that is exact for one-hot interpolation: the order-1 value of class `c` at an
 * output voxel is the sum of the interpolation weights of the input neighbours labelled `c`, so every class is
 * scored at once (cost independent of the number of classes). A class wins where its value is >= 0.5; when several
 * do (only possible at exactly 0.5), the highest label wins, as nnU-Net writes classes in ascending order and later
 * ones overwrite. Where no class reaches 0.5, nnU-Net leaves 0; if 0 is not a label of the input we take the
 * highest-scoring input label instead, so the output never invents a value (bad-inputs B08).
 */

interface GatherOpts {
  /** `>` instead of `>=` 0.5 (nnU-Net's separate-z step: `round(v) > 0.5`). */
  strict: boolean;
  /** Label for voxels no class claims (nnU-Net: 0), or null for "best-scoring input label". */
  fallback: number | null;
}

/** Sorted distinct values of a label map. */
export function uniqueLabels(seg: Int16Array): number[] {
  const seen = new Uint8Array(65536);
  for (let i = 0; i < seg.length; i++) seen[seg[i]! + 32768] = 1;
  const out: number[] = [];
  for (let v = 0; v < 65536; v++) if (seen[v]) out.push(v - 32768);
  return out;
}

/** Two taps per axis (order 0/1 and identity axes): indices and weights, `w1 = 0` when a single tap suffices. */
interface Taps2 {
  i0: Int32Array;
  i1: Int32Array;
  w0: Float64Array;
  w1: Float64Array;
}

function taps2(p: AxisPlan, stride: number): Taps2 {
  const m = p.m;
  const t: Taps2 = { i0: new Int32Array(m), i1: new Int32Array(m), w0: new Float64Array(m), w1: new Float64Array(m) };
  for (let i = 0; i < m; i++) {
    t.i0[i] = p.index[i * p.taps]! * stride;
    t.w0[i] = p.weight[i * p.taps]!;
    if (p.taps > 1 && p.weight[i * p.taps + 1]! !== 0) {
      t.i1[i] = p.index[i * p.taps + 1]! * stride;
      t.w1[i] = p.weight[i * p.taps + 1]!;
    } else {
      t.i1[i] = t.i0[i]!;
      t.w1[i] = 0;
    }
  }
  return t;
}

function gather(seg: Int16Array, shape: readonly number[], plans: AxisPlan[], o: GatherOpts): Int16Array {
  const [, Y, X] = shape as [number, number, number];
  const [pz, py, px] = plans as [AxisPlan, AxisPlan, AxisPlan];
  if (pz.taps > 2 || py.taps > 2 || px.taps > 2) throw new RangeError('gather: orders 0 and 1 only');
  const tz = taps2(pz, Y * X);
  const ty = taps2(py, X);
  const tx = taps2(px, 1);
  const out = new Int16Array(pz.m * py.m * px.m);
  const labs = new Int32Array(8);
  const sums = new Float64Array(8);
  const idx = new Int32Array(8);
  const wts = new Float64Array(8);
  let q = 0;
  for (let zo = 0; zo < pz.m; zo++) {
    const z0 = tz.i0[zo]!, z1 = tz.i1[zo]!, wz0 = tz.w0[zo]!, wz1 = tz.w1[zo]!;
    for (let yo = 0; yo < py.m; yo++) {
      const a0 = z0 + ty.i0[yo]!, a1 = z0 + ty.i1[yo]!, a2 = z1 + ty.i0[yo]!, a3 = z1 + ty.i1[yo]!;
      const wy0 = ty.w0[yo]!, wy1 = ty.w1[yo]!;
      for (let xo = 0; xo < px.m; xo++, q++) {
        const x0 = tx.i0[xo]!, x1 = tx.i1[xo]!;
        const l = seg[a0 + x0]!;
        if (seg[a0 + x1] === l && seg[a1 + x0] === l && seg[a1 + x1] === l && seg[a2 + x0] === l &&
          seg[a2 + x1] === l && seg[a3 + x0] === l && seg[a3 + x1] === l) {
          out[q] = l;
          continue;
        }
        const wx0 = tx.w0[xo]!, wx1 = tx.w1[xo]!;
        idx[0] = a0 + x0; wts[0] = wz0 * wy0 * wx0;
        idx[1] = a0 + x1; wts[1] = wz0 * wy0 * wx1;
        idx[2] = a1 + x0; wts[2] = wz0 * wy1 * wx0;
        idx[3] = a1 + x1; wts[3] = wz0 * wy1 * wx1;
        idx[4] = a2 + x0; wts[4] = wz1 * wy0 * wx0;
        idx[5] = a2 + x1; wts[5] = wz1 * wy0 * wx1;
        idx[6] = a3 + x0; wts[6] = wz1 * wy1 * wx0;
        idx[7] = a3 + x1; wts[7] = wz1 * wy1 * wx1;
        let cnt = 0;
        for (let t = 0; t < 8; t++) {
          const w = wts[t]!;
          if (w === 0) continue;
          const lab = seg[idx[t]!]!;
          let k = 0;
          while (k < cnt && labs[k] !== lab) k++;
          if (k === cnt) {
            labs[k] = lab;
            sums[k] = 0;
            cnt++;
          }
          sums[k] += w;
        }
        let best = -Infinity;
        let arg = 0;
        let argW = -1;
        for (let k = 0; k < cnt; k++) {
          const sk = sums[k]!;
          const lk = labs[k]!;
          if ((o.strict ? sk > 0.5 : sk >= 0.5) && lk > best) best = lk;
          if (sk > argW || (sk === argW && lk > arg)) {
            argW = sk;
            arg = lk;
          }
        }
        out[q] = best !== -Infinity ? best : (o.fallback ?? arg);
      }
    }
  }
  return out;
}

/**
 * Resize a label map `[Z, Y, X]` to `newShape`.
 * - `separateAxis === null`: one-hot interpolation with `order` on all axes, >= 0.5 per class (resize_segmentation).
 * - otherwise: slices across `separateAxis` are resized in-plane as above, then that axis is interpolated with
 *   `orderZ` (0: nearest; 1: one-hot linear with > 0.5), as nnU-Net's separate-z branch.
 * Orders 2..5 run the (slower) per-class spline path. Returns Int16 `[Z', Y', X']` with values from the input only
 * (except nnU-Net's 0 where 0 is an input label).
 */
export function resampleSegmentation(
  seg: Int16Array,
  shape: readonly number[],
  newShape: readonly number[],
  order: number,
  orderZ: number,
  separateAxis: number | null,
): Int16Array {
  checkOrder(order);
  checkOrder(orderZ, 'orderZ');
  if (shape.every((s, i) => s === newShape[i])) return seg.slice();
  const labels = uniqueLabels(seg);
  const fallback = labels.includes(0) ? 0 : null;
  if (separateAxis === null) return resizeAll(seg, shape, newShape, order, labels, fallback);
  const mid = shape.map((s, i) => (i === separateAxis ? s : newShape[i]!));
  const inPlane = resizeAll(seg, shape, mid, order, labels, fallback);
  if (mid[separateAxis] === newShape[separateAxis]) return inPlane;
  if (orderZ > 1) return resizeAll(inPlane, mid, newShape, orderZ, uniqueLabels(inPlane), 0);
  const plans = mid.map((s, i) => axisPlan(s, newShape[i]!, i === separateAxis ? orderZ : 0));
  return gather(inPlane, mid, plans, { strict: true, fallback: 0 });
}

function resizeAll(seg: Int16Array, shape: readonly number[], newShape: readonly number[], order: number,
  labels: number[], fallback: number | null): Int16Array {
  if (order <= 1) {
    const plans = shape.map((s, i) => axisPlan(s, newShape[i]!, order));
    if (order === 0) return gather(seg, shape, plans, { strict: false, fallback: null });
    return gather(seg, shape, plans, { strict: false, fallback });
  }
  // Spline one-hot per class (resize_segmentation with order >= 2).
  const n = newShape[0]! * newShape[1]! * newShape[2]!;
  const out = new Int16Array(n);
  const claimed = new Uint8Array(n);
  const best = new Float32Array(n).fill(-Infinity);
  const mask = new Float32Array(seg.length);
  const res = new Float32Array(n);
  for (const c of labels) {
    for (let i = 0; i < seg.length; i++) mask[i] = seg[i] === c ? 1 : 0;
    resampleChannel(mask, 0, shape, newShape, order, order, false, res, 0);
    for (let i = 0; i < n; i++) {
      const v = res[i]!;
      if (v >= 0.5) {
        out[i] = c;
        claimed[i] = 1;
      } else if (!claimed[i] && fallback === null && v >= best[i]!) {
        best[i] = v;
        out[i] = c;
      }
    }
  }
  if (fallback !== null) for (let i = 0; i < n; i++) if (!claimed[i]) out[i] = fallback;
  return out;
}
