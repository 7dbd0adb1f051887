/**
 * Spatial transposition (nnU-Net `transpose_forward` / `transpose_backward`, RULES.md §5): output spatial axis `i` is
 * input spatial axis `perm[i]`. Works on `[c, z, y, x]` arrays of any typed-array kind; returns the input itself for
 * the identity permutation.
 */
export function transposeSpatial<T extends Float32Array | Int16Array>(arr: T, shape: readonly number[],
  perm: readonly number[]): { data: T; shape: number[] } {
  const [C, ...sp] = shape as [number, number, number, number];
  if (perm.length !== 3 || [...perm].sort().join() !== '0,1,2') throw new RangeError(`bad transpose ${perm}`);
  const newSp = perm.map((p) => sp[p]!);
  if (perm[0] === 0 && perm[1] === 1 && perm[2] === 2) return { data: arr, shape: [C, ...sp] };
  const strides = [sp[1]! * sp[2]!, sp[2]!, 1];
  const [s0, s1, s2] = perm.map((p) => strides[p]!) as [number, number, number];
  const [n0, n1, n2] = newSp as [number, number, number];
  const Ctor = arr.constructor as new (n: number) => T;
  const out = new Ctor(arr.length);
  const vol = sp[0]! * sp[1]! * sp[2]!;
  let q = 0;
  for (let c = 0; c < C; c++) {
    const base = c * vol;
    for (let a = 0; a < n0; a++) {
      for (let b = 0; b < n1; b++) {
        let i = base + a * s0 + b * s1;
        for (let k = 0; k < n2; k++, i += s2) out[q++] = arr[i]!;
      }
    }
  }
  return { data: out, shape: [C, ...newSp] };
}

/** Applies `perm` to a per-axis list (shapes, spacings): `out[i] = v[perm[i]]`. */
export function permuteList<T>(v: readonly T[], perm: readonly number[]): T[] {
  return perm.map((p) => v[p]!);
}
