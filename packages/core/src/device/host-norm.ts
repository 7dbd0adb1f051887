/**
 * Host kernels of the device contract's normalisation and activation ops (float32 storage, float64 sums), the
 * same arithmetic as the layer-owned `InstanceNorm` of `nn/norm.ts` so training numbers do not change.
 */

/** Statistics of one plane `[o, o + sp)`: mean and 1 / sqrt(biased var + eps), float64 sums in two chains. */
function planeStats(xd: Float32Array, o: number, sp: number, eps: number): [number, number] {
  let s = 0;
  let s2 = 0;
  let t = 0;
  let t2 = 0;
  const end = o + sp;
  let i0 = o;
  for (; i0 + 1 < end; i0 += 2) {
    const v = xd[i0]!;
    const w = xd[i0 + 1]!;
    s += v;
    s2 += v * v;
    t += w;
    t2 += w * w;
  }
  if (i0 < end) {
    const v = xd[i0]!;
    s += v;
    s2 += v * v;
  }
  s += t;
  s2 += t2;
  const mean = s / sp;
  const variance = Math.max(s2 / sp - mean * mean, 0);
  return [mean, 1 / Math.sqrt(variance + eps)];
}

/**
 * Instance norm forward over `[n, c, ...]` (`sp` voxels per plane) with optional affine and fused LeakyReLU.
 * Writes `out`, and `xhat` / `invStd` (`[n*c]`) when given (training).
 */
export function instanceNormForward(xd: Float32Array, n: number, c: number, gamma: Float32Array | null, beta: Float32Array | null, eps: number, slope: number | undefined, out: Float32Array, xh: Float32Array | null, invStd: Float32Array | null): void {
  const sp = xd.length / (n * c);
  const lut = Float64Array.of(slope ?? 1, 1);
  for (let nc = 0; nc < n * c; nc++) {
    const ch = nc % c;
    const o = nc * sp;
    const end = o + sp;
    const [mean, inv] = planeStats(xd, o, sp, eps);
    if (invStd) invStd[nc] = inv;
    const g = gamma ? gamma[ch]! : 1;
    const b = beta ? beta[ch]! : 0;
    const scale = g * inv;
    const shift = b - mean * scale;
    if (xh) {
      if (slope === undefined)
        for (let i = o; i < end; i++) {
          const h = (xd[i]! - mean) * inv;
          xh[i] = h;
          out[i] = h * g + b;
        }
      else
        for (let i = o; i < end; i++) {
          const h = (xd[i]! - mean) * inv;
          xh[i] = h;
          const z = h * g + b;
          out[i] = z * lut[+(z > 0)]!;
        }
    } else if (slope === undefined) for (let i = o; i < end; i++) out[i] = xd[i]! * scale + shift;
    else
      for (let i = o; i < end; i++) {
        const z = xd[i]! * scale + shift;
        out[i] = z * lut[+(z > 0)]!;
      }
  }
}

/** Pass 1 of the backward for one plane: dz (LeakyReLU-masked dy, written to dx) and its sums `[sum dz, sum dz xhat]`. */
function planeDz(dyd: Float32Array, xh: Float32Array, dx: Float32Array, o: number, sp: number, g: number, b: number, slope: number | undefined): [number, number] {
  let sdz = 0;
  let sdzx = 0;
  const end = o + sp;
  if (slope === undefined) {
    for (let i = o; i < end; i++) {
      const d = dyd[i]!;
      sdz += d;
      sdzx += d * xh[i]!;
    }
    return [sdz, sdzx];
  }
  const lut = Float64Array.of(slope, 1);
  let u = 0;
  let ux = 0;
  let i = o;
  for (; i + 1 < end; i += 2) {
    const xv = xh[i]!;
    const xw = xh[i + 1]!;
    const d = dyd[i]! * lut[+(g * xv + b > 0)]!;
    const e = dyd[i + 1]! * lut[+(g * xw + b > 0)]!;
    dx[i] = d;
    dx[i + 1] = e;
    sdz += d;
    sdzx += d * xv;
    u += e;
    ux += e * xw;
  }
  if (i < end) {
    const xv = xh[i]!;
    const d = dyd[i]! * lut[+(g * xv + b > 0)]!;
    dx[i] = d;
    sdz += d;
    sdzx += d * xv;
  }
  return [sdz + u, sdzx + ux];
}

/**
 * Instance norm backward: writes dx; adds (or writes, `accumulate` false) `sum dz xhat` / `sum dz` per channel into
 * `dGamma` / `dBeta` when given.
 */
export function instanceNormBackward(dyd: Float32Array, xh: Float32Array, invStd: Float32Array, n: number, c: number, gamma: Float32Array | null, beta: Float32Array | null, slope: number | undefined, dx: Float32Array, dGamma: Float32Array | null, dBeta: Float32Array | null, accumulate: boolean): void {
  const sp = xh.length / (n * c);
  if (!accumulate) {
    dGamma?.fill(0);
    dBeta?.fill(0);
  }
  for (let nc = 0; nc < n * c; nc++) {
    const ch = nc % c;
    const o = nc * sp;
    const g = gamma ? gamma[ch]! : 1;
    const b = beta ? beta[ch]! : 0;
    const [sdz, sdzx] = planeDz(dyd, xh, dx, o, sp, g, b, slope);
    if (dGamma) dGamma[ch]! += sdzx;
    if (dBeta) dBeta[ch]! += sdz;
    const k = g * invStd[nc]!;
    const m1 = sdz / sp;
    const m2 = sdzx / sp;
    const src = slope === undefined ? dyd : dx;
    const end = o + sp;
    for (let i = o; i < end; i++) dx[i] = k * (src[i]! - m1 - xh[i]! * m2);
  }
}

/** Average pooling (kernel = stride, floor) forward of `[n, c, D, H, W]` into a new array; returns it and its shape. */
export function avgPoolForward(xd: Float32Array, shape: readonly number[], k: readonly number[]): { data: Float32Array; shape: number[] } {
  const [n, c, D, H, W] = shape as [number, number, number, number, number];
  const [kd, kh, kw] = k as [number, number, number];
  const [od, oh, ow] = [Math.floor(D / kd), Math.floor(H / kh), Math.floor(W / kw)];
  const out = new Float32Array(n * c * od * oh * ow);
  const inv = 1 / (kd * kh * kw);
  for (let b = 0; b < n * c; b++)
    for (let z = 0; z < od * kd; z++)
      for (let y = 0; y < oh * kh; y++) {
        const src = ((b * D + z) * H + y) * W;
        const dst = ((b * od + Math.floor(z / kd)) * oh + Math.floor(y / kh)) * ow;
        for (let x = 0; x < ow * kw; x++) out[dst + Math.floor(x / kw)]! += xd[src + x]! * inv;
      }
  return { data: out, shape: [n, c, od, oh, ow] };
}

/** Backward of `avgPoolForward`: spreads `dy / prod(k)` over each window (voxels outside every window get 0). */
export function avgPoolBackward(dy: Float32Array, xShape: readonly number[], k: readonly number[]): Float32Array {
  const [n, c, D, H, W] = xShape as [number, number, number, number, number];
  const [kd, kh, kw] = k as [number, number, number];
  const [od, oh, ow] = [Math.floor(D / kd), Math.floor(H / kh), Math.floor(W / kw)];
  const dx = new Float32Array(n * c * D * H * W);
  const inv = 1 / (kd * kh * kw);
  for (let b = 0; b < n * c; b++)
    for (let z = 0; z < od * kd; z++)
      for (let y = 0; y < oh * kh; y++) {
        const dst = ((b * D + z) * H + y) * W;
        const src = ((b * od + Math.floor(z / kd)) * oh + Math.floor(y / kh)) * ow;
        for (let x = 0; x < ow * kw; x++) dx[dst + x] = dy[src + Math.floor(x / kw)]! * inv;
      }
  return dx;
}
