import { axisPlan, filterConstants, prefilterLine, reflectIndex, SPLINE_PAD, type AxisPlan } from './spline.js';

/**
 * Resizes one 2D plane `[rows, cols]` (x fastest) with separable B-splines (see spline.ts for the exact scipy
 * conventions). Keeps its scratch buffers between calls so a volume is processed plane by plane without
 * reallocating. Output is float32 `[rowsOut, colsOut]` (float64 arithmetic, float32 storage).
 */
export class PlaneResampler {
  readonly rowPlan: AxisPlan;
  readonly colPlan: AxisPlan;
  private readonly line: Float64Array;
  private readonly tmp: Float32Array;
  private readonly colBuf: Float32Array | null;

  constructor(
    readonly rows: number,
    readonly cols: number,
    readonly rowsOut: number,
    readonly colsOut: number,
    order: number,
  ) {
    this.rowPlan = axisPlan(rows, rowsOut, order);
    this.colPlan = axisPlan(cols, colsOut, order);
    this.line = new Float64Array(cols + 2 * SPLINE_PAD);
    const padR = this.rowPlan.pad;
    this.tmp = new Float32Array((rows + 2 * padR) * colsOut);
    this.colBuf = padR > 0 ? this.tmp : null;
  }

  /** Resample `src[offset .. offset + rows*cols)` into `out` (length rowsOut*colsOut). */
  run(src: Float32Array, offset: number, out: Float32Array): Float32Array {
    const { rows, cols, colsOut, rowsOut } = this;
    const cp = this.colPlan;
    const rp = this.rowPlan;
    const padR = rp.pad;
    const tmp = this.tmp;
    // pass 1: along x (contiguous rows), into tmp rows padR .. padR+rows
    for (let r = 0; r < rows; r++) {
      const base = offset + r * cols;
      const dst = (r + padR) * colsOut;
      if (cp.identity) {
        for (let x = 0; x < cols; x++) tmp[dst + x] = src[base + x]!;
        continue;
      }
      const line = this.line;
      const pad = cp.pad;
      if (pad > 0) {
        const first = src[base]!;
        const last = src[base + cols - 1]!;
        for (let k = 0; k < pad; k++) {
          line[k] = first;
          line[pad + cols + k] = last;
        }
        for (let x = 0; x < cols; x++) line[pad + x] = src[base + x]!;
        prefilterLine(line, cols + 2 * pad, cp.order);
      } else {
        for (let x = 0; x < cols; x++) line[x] = src[base + x]!;
      }
      applyTaps(line, cp, tmp, dst);
    }
    if (rp.identity) {
      out.set(tmp.subarray(0, rowsOut * colsOut));
      return out;
    }
    // pass 2: along y, vectorised over the contiguous output columns
    if (padR > 0) {
      const buf = this.colBuf!;
      const len = rows + 2 * padR;
      const firstRow = padR * colsOut;
      const lastRow = (padR + rows - 1) * colsOut;
      for (let k = 0; k < padR; k++) {
        buf.copyWithin(k * colsOut, firstRow, firstRow + colsOut);
        buf.copyWithin((padR + rows + k) * colsOut, lastRow, lastRow + colsOut);
      }
      prefilterRows(buf, len, colsOut, rp.order);
    }
    const taps = rp.taps;
    for (let r = 0; r < rowsOut; r++) {
      const o = r * colsOut;
      const j = r * taps;
      if (taps === 4) {
        const i0 = rp.index[j]! * colsOut, i1 = rp.index[j + 1]! * colsOut;
        const i2 = rp.index[j + 2]! * colsOut, i3 = rp.index[j + 3]! * colsOut;
        const w0 = rp.weight[j]!, w1 = rp.weight[j + 1]!, w2 = rp.weight[j + 2]!, w3 = rp.weight[j + 3]!;
        for (let x = 0; x < colsOut; x++) {
          out[o + x] = w0 * tmp[i0 + x]! + w1 * tmp[i1 + x]! + w2 * tmp[i2 + x]! + w3 * tmp[i3 + x]!;
        }
      } else if (taps === 2) {
        const i0 = rp.index[j]! * colsOut, i1 = rp.index[j + 1]! * colsOut;
        const w0 = rp.weight[j]!, w1 = rp.weight[j + 1]!;
        for (let x = 0; x < colsOut; x++) out[o + x] = w0 * tmp[i0 + x]! + w1 * tmp[i1 + x]!;
      } else {
        for (let x = 0; x < colsOut; x++) {
          let acc = 0;
          for (let t = 0; t < taps; t++) acc += rp.weight[j + t]! * tmp[rp.index[j + t]! * colsOut + x]!;
          out[o + x] = acc;
        }
      }
    }
    return out;
  }
}

/** `dst[dstOff + i] = sum_t w[i,t] * line[index[i,t]]` for every output sample `i` of the plan. */
export function applyTaps(line: Float64Array, p: AxisPlan, dst: Float32Array, dstOff: number): void {
  const { m, taps, index, weight } = p;
  if (taps === 4) {
    for (let i = 0, j = 0; i < m; i++, j += 4) {
      dst[dstOff + i] =
        weight[j]! * line[index[j]!]! +
        weight[j + 1]! * line[index[j + 1]!]! +
        weight[j + 2]! * line[index[j + 2]!]! +
        weight[j + 3]! * line[index[j + 3]!]!;
    }
    return;
  }
  for (let i = 0, j = 0; i < m; i++, j += taps) {
    let s = 0;
    for (let t = 0; t < taps; t++) s += weight[j + t]! * line[index[j + t]!]!;
    dst[dstOff + i] = s;
  }
}

/**
 * Spline prefilter along the slow axis of a `[len, width]` float32 block (each of the `width` columns is one
 * line), vectorised across the contiguous width. Same boundary rule and result as `prefilterLine`.
 */
export function prefilterRows(buf: Float32Array, len: number, width: number, order: number): void {
  const f = filterConstants(order);
  if (f.poles.length === 0 || len < 2) return;
  const gain = f.gain;
  const total = len * width;
  for (let i = 0; i < total; i++) buf[i]! *= gain;
  const init = new Float64Array(width);
  for (let pi = 0; pi < f.poles.length; pi++) {
    const z = f.poles[pi]!;
    const horizon = f.horizons[pi]!;
    init.fill(0);
    let zk = 1;
    for (let k = 0; k < horizon; k++) {
      const r = reflectIndex(-k, len) * width;
      for (let x = 0; x < width; x++) init[x] += zk * buf[r + x]!;
      zk *= z;
    }
    buf.set(init, 0);
    for (let i = 1; i < len; i++) {
      const o = i * width;
      const p = o - width;
      for (let x = 0; x < width; x++) buf[o + x] += z * buf[p + x]!;
    }
    const last = (len - 1) * width;
    const endScale = z / (z - 1);
    for (let x = 0; x < width; x++) buf[last + x]! *= endScale;
    for (let i = len - 2; i >= 0; i--) {
      const o = i * width;
      const n = o + width;
      for (let x = 0; x < width; x++) buf[o + x] = z * (buf[n + x]! - buf[o + x]!);
    }
  }
}
