/**
 * numpy's legacy `RandomState` (MT19937), ported so that seeded sampling picks the same voxels and cases as
 * nnU-Net (fingerprint intensity sampling, RULES.md §2; class-location sampling, RULES.md §14; the
 * `KFold(shuffle=True, random_state=12345)` cross-validation splits, RULES.md §1): `RandomState(seed)` seeds with
 * `init_genrand`, `randint(0, n)` / `choice(n, replace=True)` draw masked 32-bit values with rejection, and
 * `permutation(n)` / `choice(n, replace=False)` run a Fisher-Yates shuffle with the same bounded draws.
 */
export class RandomState {
  private readonly mt = new Uint32Array(624);
  private mti = 624;

  /** @param seed integer in [0, 2^32) */
  constructor(seed: number) {
    let s = seed >>> 0;
    for (let i = 0; i < 624; i++) {
      this.mt[i] = s;
      s = (Math.imul(1812433253, s ^ (s >>> 30)) + i + 1) >>> 0;
    }
  }

  /** Next raw 32-bit output (MT19937 `genrand_int32`). */
  nextUint32(): number {
    const mt = this.mt;
    if (this.mti >= 624) {
      let kk = 0;
      for (; kk < 227; kk++) {
        const y = (mt[kk]! & 0x80000000) | (mt[kk + 1]! & 0x7fffffff);
        mt[kk] = mt[kk + 397]! ^ (y >>> 1) ^ (y & 1 ? 0x9908b0df : 0);
      }
      for (; kk < 623; kk++) {
        const y = (mt[kk]! & 0x80000000) | (mt[kk + 1]! & 0x7fffffff);
        mt[kk] = mt[kk - 227]! ^ (y >>> 1) ^ (y & 1 ? 0x9908b0df : 0);
      }
      const y = (mt[623]! & 0x80000000) | (mt[0]! & 0x7fffffff);
      mt[623] = mt[396]! ^ (y >>> 1) ^ (y & 1 ? 0x9908b0df : 0);
      this.mti = 0;
    }
    let y = mt[this.mti++]!;
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    y ^= y >>> 18;
    return y >>> 0;
  }

  /** Uniform integer in [0, max] by masked rejection (numpy `random_interval` / bounded masked draws). */
  interval(max: number): number {
    if (max === 0) return 0;
    if (max > 0xffffffff) throw new RangeError('RandomState.interval: max above 2^32 - 1 is not supported');
    let mask = max;
    mask |= mask >>> 1;
    mask |= mask >>> 2;
    mask |= mask >>> 4;
    mask |= mask >>> 8;
    mask |= mask >>> 16;
    mask >>>= 0;
    let v: number;
    do v = (this.nextUint32() & mask) >>> 0;
    while (v > max);
    return v;
  }

  /** `randint(0, high, size)`: `size` integers in [0, high). */
  randint(high: number, size: number): Float64Array {
    const out = new Float64Array(size);
    if (high <= 1) return out;
    for (let i = 0; i < size; i++) out[i] = this.interval(high - 1);
    return out;
  }

  /** `permutation(n)`: legacy Fisher-Yates from the end. */
  permutation(n: number): Int32Array {
    const a = new Int32Array(n);
    for (let i = 0; i < n; i++) a[i] = i;
    for (let i = n - 1; i >= 1; i--) {
      const j = this.interval(i);
      const t = a[i]!;
      a[i] = a[j]!;
      a[j] = t;
    }
    return a;
  }

  /** In-place Fisher-Yates exactly as numpy `RandomState.shuffle` on a 1-D array (same draws as `permutation`). */
  shuffle<T>(a: T[]): T[] {
    for (let i = a.length - 1; i >= 1; i--) {
      const j = this.interval(i);
      const t = a[i]!;
      a[i] = a[j]!;
      a[j] = t;
    }
    return a;
  }

  /** `choice(n, size, replace=False)`: the first `size` entries of `permutation(n)`. */
  choiceWithoutReplacement(n: number, size: number): Int32Array {
    return this.permutation(n).subarray(0, size);
  }
}
