/**
 * Layout conversions between the contract's NCDHW / OIDHW tensors and tfjs's NDHWC / DHWIO, with the explicit
 * zero padding tfjs's Conv3D lacks (it only knows 'valid' and 'same').
 */

/**
 * NCDHW `[n, c, d, h, w]` -> NDHWC with `pad = [pd, ph, pw]` zeros added on both sides of each spatial axis.
 * Returns the data and the padded NDHWC shape `[n, d + 2pd, h + 2ph, w + 2pw, c]`.
 */
export function toNdhwcPadded(x: Float32Array, shape: number[], pad: readonly number[]): { data: Float32Array; shape: number[] } {
  const [n, c, d, h, w] = shape as [number, number, number, number, number];
  const [pd, ph, pw] = pad as [number, number, number];
  const D = d + 2 * pd;
  const H = h + 2 * ph;
  const W = w + 2 * pw;
  const out = new Float32Array(n * D * H * W * c);
  for (let b = 0; b < n; b++)
    for (let ch = 0; ch < c; ch++) {
      const src = (b * c + ch) * d * h * w;
      for (let z = 0; z < d; z++)
        for (let y = 0; y < h; y++) {
          const s = src + (z * h + y) * w;
          let o = (((b * D + z + pd) * H + y + ph) * W + pw) * c + ch;
          for (let i = 0; i < w; i++, o += c) out[o] = x[s + i]!;
        }
    }
  return { data: out, shape: [n, D, H, W, c] };
}

/**
 * NDHWC `[n, D, H, W, c]` -> NCDHW, dropping `crop = [pd, ph, pw]` voxels on both sides of each spatial axis.
 * Returns the data and `[n, c, D - 2pd, H - 2ph, W - 2pw]`.
 */
export function fromNdhwcCropped(
  x: Float32Array | ArrayLike<number>,
  shape: number[],
  crop: readonly number[] = [0, 0, 0],
): { data: Float32Array; shape: number[] } {
  const [n, D, H, W, c] = shape as [number, number, number, number, number];
  const [pd, ph, pw] = crop as [number, number, number];
  const d = D - 2 * pd;
  const h = H - 2 * ph;
  const w = W - 2 * pw;
  const out = new Float32Array(n * c * d * h * w);
  for (let b = 0; b < n; b++)
    for (let ch = 0; ch < c; ch++) {
      const dst = (b * c + ch) * d * h * w;
      for (let z = 0; z < d; z++)
        for (let y = 0; y < h; y++) {
          const o = dst + (z * h + y) * w;
          let s = (((b * D + z + pd) * H + y + ph) * W + pw) * c + ch;
          for (let xx = 0; xx < w; xx++, s += c) out[o + xx] = x[s]!;
        }
    }
  return { data: out, shape: [n, c, d, h, w] };
}

/** OIDHW `[o, i, kd, kh, kw]` -> DHWIO `[kd, kh, kw, i, o]` (tfjs filter layout). */
export function oidhwToDhwio(w: Float32Array, shape: number[]): { data: Float32Array; shape: number[] } {
  const [o, i, kd, kh, kw] = shape as [number, number, number, number, number];
  const k = kd * kh * kw;
  const out = new Float32Array(w.length);
  for (let a = 0; a < o; a++) for (let b = 0; b < i; b++) for (let t = 0; t < k; t++) out[(t * i + b) * o + a] = w[(a * i + b) * k + t]!;
  return { data: out, shape: [kd, kh, kw, i, o] };
}

/** DHWIO `[kd, kh, kw, i, o]` -> OIDHW `[o, i, kd, kh, kw]`. */
export function dhwioToOidhw(w: ArrayLike<number>, shape: number[]): { data: Float32Array; shape: number[] } {
  const [kd, kh, kw, i, o] = shape as [number, number, number, number, number];
  const k = kd * kh * kw;
  const out = new Float32Array(w.length);
  for (let a = 0; a < o; a++) for (let b = 0; b < i; b++) for (let t = 0; t < k; t++) out[(a * i + b) * k + t] = w[(t * i + b) * o + a]!;
  return { data: out, shape: [o, i, kd, kh, kw] };
}

/**
 * NCDHW `dy` `[n, c, d, h, w]` -> NDHWC `[n, T0, T1, T2, c]` of zeros with `dy[z, y, x]` placed at
 * `before + [z, y, x] * stride` (zero insertion for strided convolutions). Throws when it does not fit.
 */
export function dilateToNdhwc(
  dy: Float32Array,
  shape: number[],
  stride: readonly number[],
  before: readonly number[],
  total: readonly number[],
): { data: Float32Array; shape: number[] } {
  const [n, c, d, h, w] = shape as [number, number, number, number, number];
  const [sd, sh, sw] = stride as [number, number, number];
  const [bd, bh, bw] = before as [number, number, number];
  const [D, H, W] = total as [number, number, number];
  if (bd + (d - 1) * sd >= D || bh + (h - 1) * sh >= H || bw + (w - 1) * sw >= W) {
    throw new Error(`dilateToNdhwc: [${shape}] with stride ${stride} does not fit in [${total}]`);
  }
  const out = new Float32Array(n * D * H * W * c);
  for (let b = 0; b < n; b++)
    for (let ch = 0; ch < c; ch++)
      for (let z = 0; z < d; z++)
        for (let y = 0; y < h; y++) {
          const s = (((b * c + ch) * d + z) * h + y) * w;
          let o = (((b * D + bd + z * sd) * H + bh + y * sh) * W + bw) * c + ch;
          for (let i = 0; i < w; i++, o += sw * c) out[o] = dy[s + i]!;
        }
  return { data: out, shape: [n, D, H, W, c] };
}

/** OIDHW `[o, i, kd, kh, kw]` -> spatially flipped DHWIO with the channel roles swapped: `[kd, kh, kw, o, i]`. */
export function oidhwToFlippedDhwoi(w: Float32Array, shape: number[]): { data: Float32Array; shape: number[] } {
  const [o, i, kd, kh, kw] = shape as [number, number, number, number, number];
  const k = kd * kh * kw;
  const out = new Float32Array(w.length);
  for (let a = 0; a < o; a++) for (let b = 0; b < i; b++) for (let t = 0; t < k; t++) out[((k - 1 - t) * o + a) * i + b] = w[(a * i + b) * k + t]!;
  return { data: out, shape: [kd, kh, kw, o, i] };
}
