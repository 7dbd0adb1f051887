/**
 * Flip `[c, z, y, x]` data (any leading count `c`, e.g. `n * c` of a batch) along z, y and/or x into a new array of
 * the same type. x is the fastest axis.
 */
export function flipZYX<T extends Float32Array | Int16Array>(a: T, C: number, Z: number, Y: number, X: number, fz: boolean, fy: boolean, fx: boolean): T {
  const out = new (a.constructor as { new (n: number): T })(a.length);
  const n = Z * Y * X;
  for (let c = 0; c < C; c++) {
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
  }
  return out;
}

/**
 * Test-time mirroring passes in nnU-Net's order (spec 1.18): the identity, then every non-empty combination of
 * `axes` in `itertools.combinations` order (singles, pairs, ...): 8 passes for 3 axes, 4 for 2.
 */
export function mirrorCombinations(axes: number[]): number[][] {
  const out: number[][] = [[]];
  const rec = (start: number, k: number, cur: number[]) => {
    if (cur.length === k) return void out.push([...cur]);
    for (let i = start; i < axes.length; i++) rec(i + 1, k, [...cur, axes[i]!]);
  };
  for (let k = 1; k <= axes.length; k++) rec(0, k, []);
  return out;
}
