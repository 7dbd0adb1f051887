/**
 * im2col / col2im over tiles of output positions, in JavaScript, for backends whose fast primitive is a matrix
 * product (tfjs-wasm's XNNPACK BatchMatMul). One sample at a time; all arrays NCDHW float32.
 *
 * Geometry `g` = `[n, ci, d, h, w, co, kd, kh, kw, sd, sh, sw, pd, ph, pw, od, oh, ow]`. Row r of the im2col
 * matrix is `(c, a, e, f)` (c slowest), column p an output position `(z, y, x)` (x fastest), value
 * `x[c, z*sd - pd + a, y*sh - ph + e, x*sw - pw + f]` or 0 in the padding.
 */
export type Geom = readonly number[];

/** Constants of row r over columns starting at p0 (see `walk`). */
interface RowPlan {
  lo: number;
  hi: number;
  base: number;
  a: number;
  e: number;
  f: number;
}

function rowPlan(g: Geom, r: number): RowPlan {
  const [, , d, h, w, , kd, kh, kw, , , sw, , , pw, , , ow] = g as number[] as [
    number, number, number, number, number, number, number, number, number,
    number, number, number, number, number, number, number, number, number,
  ];
  const khw = kh * kw;
  const kvol = kd * khw;
  const f = r % kw;
  return {
    a: Math.floor((r % kvol) / khw),
    e: Math.floor((r % khw) / kw),
    f,
    base: Math.floor(r / kvol) * d * h * w,
    lo: Math.max(0, Math.ceil((pw - f) / sw)),
    hi: Math.min(ow, Math.floor((w - 1 + pw - f) / sw) + 1),
  };
}

/**
 * Copies (mode 0: x -> col) or adds (mode 1: col -> dx) row r over columns [p0, p0 + np) of the im2col matrix;
 * column j of row r is `col[colOff + j * cs]`, `vol` the sample (`volOff`). Loops are inlined (no per-run callbacks).
 */
function walk(mode: 0 | 1, g: Geom, r: number, p0: number, np: number, col: Float32Array | ArrayLike<number>, colOff: number, cs: number, vol: Float32Array, volOff: number): void {
  const d = g[2]!, h = g[3]!, w = g[4]!, sd = g[9]!, sh = g[10]!, sw = g[11]!, pd = g[12]!, ph = g[13]!, pw = g[14]!;
  const oh = g[16]!, ow = g[17]!;
  const { lo, hi, base, a, e, f } = rowPlan(g, r);
  const ohw = oh * ow;
  let oz = Math.floor(p0 / ohw);
  let oy = Math.floor((p0 % ohw) / ow);
  let ox = p0 % ow;
  for (let j = 0; j < np; ) {
    const len = Math.min(ow - ox, np - j);
    const iz = oz * sd - pd + a;
    const iy = oy * sh - ph + e;
    if (iz >= 0 && iz < d && iy >= 0 && iy < h) {
      const s0 = Math.max(lo, ox);
      const t1 = Math.min(hi, ox + len);
      const o = colOff + (j + s0 - ox) * cs;
      const v = volOff + base + (iz * h + iy) * w + s0 * sw - pw + f;
      const n = t1 - s0;
      if (mode === 0) {
        const out = col as Float32Array;
        if (sw === 1 && cs === 1) for (let t = 0; t < n; t++) out[o + t] = vol[v + t]!;
        else for (let t = 0; t < n; t++) out[o + t * cs] = vol[v + t * sw]!;
      } else {
        for (let t = 0; t < n; t++) vol[v + t * sw]! += col[o + t * cs]!;
      }
    }
    j += len;
    ox = 0;
    if (++oy === oh) {
      oy = 0;
      oz++;
    }
  }
}

/** Number of im2col rows `ci * kd * kh * kw`. */
export function im2colRows(g: Geom): number {
  return g[1]! * g[6]! * g[7]! * g[8]!;
}

/**
 * Fills `out` (zeroed here) with columns `[p0, p0+np)` of one sample's im2col matrix: row-major `[R][np]`, or its
 * transpose `[np][R]` when `transposed`.
 */
export function im2colTile(x: Float32Array, xOffset: number, g: Geom, p0: number, np: number, out: Float32Array, transposed = false): void {
  const R = im2colRows(g);
  out.fill(0, 0, R * np);
  for (let r = 0; r < R; r++) walk(0, g, r, p0, np, out, transposed ? r : r * np, transposed ? R : 1, x, xOffset);
}

/** Adds the row-major `[R][np]` tile `col` (columns `[p0, p0+np)`) back into one sample of dx (col2im). */
export function col2imTile(col: Float32Array | ArrayLike<number>, g: Geom, p0: number, np: number, dx: Float32Array, dxOffset: number): void {
  const R = im2colRows(g);
  for (let r = 0; r < R; r++) walk(1, g, r, p0, np, col, r * np, 1, dx, dxOffset);
}
