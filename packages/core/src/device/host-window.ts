/** Host kernels of the contract's sliding-window and layout ops (flip, crop, accumulate, normalise, argmax). */

/** Reverses the spatial axes `axes` (0 = z, 1 = y, 2 = x) of `[lead, Z, Y, X]` data into a new array. */
export function flipSpatial<T extends Float32Array | Int32Array>(a: T, lead: number, Z: number, Y: number, X: number, axes: readonly number[]): T {
  const [fz, fy, fx] = [axes.includes(0), axes.includes(1), axes.includes(2)];
  const out = new (a.constructor as new (n: number) => T)(a.length);
  const n = Z * Y * X;
  for (let c = 0; c < lead; c++)
    for (let z = 0; z < Z; z++) {
      const sz = fz ? Z - 1 - z : z;
      for (let y = 0; y < Y; y++) {
        const sy = fy ? Y - 1 - y : y;
        const dst = c * n + (z * Y + y) * X;
        const src = c * n + (sz * Y + sy) * X;
        if (fx) for (let x = 0; x < X; x++) out[dst + x] = a[src + X - 1 - x]!;
        else out.set(a.subarray(src, src + X), dst);
      }
    }
  return out;
}

/** Copies the window `start + [0, size)` of `[C, Z, Y, X]` (`src` from offset `srcOff`) into `dst` at `dstOff`. */
export function copyWindow(src: Float32Array, srcOff: number, dims: readonly number[], start: readonly number[], size: readonly number[], C: number, dst: Float32Array, dstOff: number): void {
  const [, Y, X] = dims as [number, number, number];
  const Z = dims[0]!;
  const [pz, py, px] = size as [number, number, number];
  let o = dstOff;
  for (let c = 0; c < C; c++)
    for (let z = 0; z < pz; z++)
      for (let y = 0; y < py; y++) {
        const s = srcOff + ((c * Z + start[0]! + z) * Y + start[1]! + y) * X + start[2]!;
        dst.set(src.subarray(s, s + px), o);
        o += px;
      }
}

/** `acc[:, start + p] += scale * tile[:, p] * gauss[p]`, `weight[start + p] += gauss[p]` for one tile. */
export function accumulateTile(acc: Float32Array, weight: Float32Array, dims: readonly number[], K: number, tile: Float32Array, tileOff: number, gauss: Float32Array, patch: readonly number[], start: readonly number[], scale: number): void {
  const [Z, Y, X] = dims as [number, number, number];
  const [pz, py, px] = patch as [number, number, number];
  const NP = Z * Y * X;
  const tileN = pz * py * px;
  for (let z = 0; z < pz; z++)
    for (let y = 0; y < py; y++) {
      const g0 = (z * py + y) * px;
      const dst0 = ((start[0]! + z) * Y + start[1]! + y) * X + start[2]!;
      for (let x = 0; x < px; x++) weight[dst0 + x]! += gauss[g0 + x]!;
      for (let k = 0; k < K; k++) {
        const src = tileOff + k * tileN + g0;
        const dst = k * NP + dst0;
        for (let x = 0; x < px; x++) acc[dst + x]! += tile[src + x]! * scale * gauss[g0 + x]!;
      }
    }
}

/** `acc / weight` over the window `start + [0, size)` of `[K, Z, Y, X]`, into a new `[K, ...size]` array. */
export function normalizeWindow(acc: Float32Array, weight: Float32Array, dims: readonly number[], K: number, start: readonly number[], size: readonly number[]): Float32Array {
  const [, Yp, Xp] = dims as [number, number, number];
  const NP = dims[0]! * Yp * Xp;
  const [Z, Y, X] = size as [number, number, number];
  const out = new Float32Array(K * Z * Y * X);
  for (let k = 0; k < K; k++)
    for (let z = 0; z < Z; z++)
      for (let y = 0; y < Y; y++) {
        const src = ((z + start[0]!) * Yp + y + start[1]!) * Xp + start[2]!;
        const dst = ((k * Z + z) * Y + y) * X;
        for (let x = 0; x < X; x++) out[dst + x] = acc[k * NP + src + x]! / weight[src + x]!;
      }
  return out;
}

/** Index of the largest of K channels per voxel of `[K, N]` (first on ties). */
export function argmaxChannels(x: Float32Array, K: number): Int32Array {
  const N = x.length / K;
  const out = new Int32Array(N);
  const best = x.slice(0, N);
  for (let k = 1; k < K; k++)
    for (let i = 0; i < N; i++) {
      const v = x[k * N + i]!;
      if (v > best[i]!) {
        best[i] = v;
        out[i] = k;
      }
    }
  return out;
}
