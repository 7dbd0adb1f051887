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
