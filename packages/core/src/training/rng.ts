import type { Rng } from '../contracts/augmentation.js';

/** Serializable state of a {@link SeededRng}: `[counter, hasSpare (0|1), spare]`. */
export type RngState = [number, number, number];

/**
 * Seeded pseudo random source (mulberry32, 32-bit state) implementing the augmentation `Rng` contract.
 * Normal deviates use the Box-Muller transform with a cached spare, so the full state is three numbers and a
 * run can be resumed bit-for-bit from {@link SeededRng.getState}. Not cryptographic; not numpy-compatible
 * (only the cross-validation splits need numpy's generator, see `util/random-state.ts`).
 */
export class SeededRng implements Rng {
  private a: number;
  private spare: number | null = null;

  /** `seed` is reduced to an unsigned 32-bit integer. */
  constructor(seed: number) {
    this.a = seed >>> 0;
  }

  /** Uniform in [0, 1), 32 bits of resolution. */
  next(): number {
    this.a = (this.a + 0x6d2b79f5) | 0;
    let t = Math.imul(this.a ^ (this.a >>> 15), 1 | this.a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Uniform in [lo, hi). */
  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }

  /** Integer uniform in [lo, hi) (`hi > lo`). */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo));
  }

  /** Standard normal deviate (mean 0, std 1). */
  normal(): number {
    if (this.spare !== null) {
      const s = this.spare;
      this.spare = null;
      return s;
    }
    let u = 0;
    while (u === 0) u = this.next();
    const v = this.next();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  /** Snapshot for checkpoints. */
  getState(): RngState {
    return [this.a, this.spare === null ? 0 : 1, this.spare ?? 0];
  }

  /** Restore a snapshot taken by `getState`. */
  setState(s: RngState): void {
    this.a = s[0] | 0;
    this.spare = s[1] ? s[2] : null;
  }
}

/** A seeded `Rng` (mulberry32). Same seed, same sequence, on every platform. */
export function createRng(seed: number): SeededRng {
  return new SeededRng(seed);
}

/** Derive an independent 32-bit seed from a base seed and a stream index (splitmix32-style hash). */
export function deriveSeed(seed: number, stream: number): number {
  let z = (Math.imul(seed >>> 0, 0x9e3779b1) + Math.imul(stream + 1, 0x85ebca6b)) | 0;
  z = Math.imul(z ^ (z >>> 16), 0x7feb352d);
  z = Math.imul(z ^ (z >>> 15), 0x846ca68b);
  return (z ^ (z >>> 16)) >>> 0;
}

export { roundHalfEven } from '../util/math.js';
