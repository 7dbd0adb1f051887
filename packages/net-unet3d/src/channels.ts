/**
 * Channel concatenation `[n, c1, ...] ++ [n, c2, ...] -> [n, c1 + c2, ...]` into `out` (length n*(c1+c2)*sp),
 * `a` first (nnU-Net's decoder: upsampled, then skip). Throws `Error` when batch or spatial sizes differ.
 */
export function concatChannels(a: Float32Array, aShape: number[], b: Float32Array, bShape: number[], out: Float32Array): number[] {
  const n = aShape[0]!;
  if (bShape[0] !== n || aShape.slice(2).join() !== bShape.slice(2).join())
    throw new Error(`concat: shapes ${aShape} and ${bShape} differ outside the channel axis (patch not divisible by the strides?)`);
  const la = a.length / n;
  const lb = b.length / n;
  for (let i = 0; i < n; i++) {
    out.set(a.subarray(i * la, (i + 1) * la), i * (la + lb));
    out.set(b.subarray(i * lb, (i + 1) * lb), i * (la + lb) + la);
  }
  return [n, aShape[1]! + bShape[1]!, ...aShape.slice(2)];
}

/** Inverse of `concatChannels` for gradients: copies the first `c1` channels to `outA`, the rest to `outB`. */
export function splitChannels(src: Float32Array, n: number, outA: Float32Array, outB: Float32Array): void {
  const la = outA.length / n;
  const lb = outB.length / n;
  for (let i = 0; i < n; i++) {
    outA.set(src.subarray(i * (la + lb), i * (la + lb) + la), i * la);
    outB.set(src.subarray(i * (la + lb) + la, (i + 1) * (la + lb)), i * lb);
  }
}

/** `dst += src` elementwise. */
export function addInPlace(dst: Float32Array, src: Float32Array): void {
  for (let i = 0; i < dst.length; i++) dst[i]! += src[i]!;
}
