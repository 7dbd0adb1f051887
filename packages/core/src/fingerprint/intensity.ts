import type { IntensityProperties } from '../contracts/normalizer.js';
import { RandomState } from '../util/random-state.js';

/**
 * A multiset of float32 intensities kept as sorted distinct values with counts: the exact information that
 * nnU-Net's pooled sample array carries (statistics and percentiles depend on nothing else), at a fraction of
 * its memory (1e8 samples per channel upstream).
 */
export interface WeightedSamples {
  /** Distinct values, ascending. */
  values: Float64Array;
  /** Number of samples of each value. */
  counts: Float64Array;
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** Order-preserving uint32 key of a finite float32. */
function keyOf(v: number): number {
  f32[0] = v;
  const b = u32[0]!;
  return (b & 0x80000000 ? ~b : b | 0x80000000) >>> 0;
}
function valueOf(k: number): number {
  u32[0] = (k & 0x80000000 ? k & 0x7fffffff : ~k) >>> 0;
  return f32[0]!;
}

/** LSD radix sort (2 x 16-bit passes) of `keys` carrying `payload`. */
function radixSort(keys: Uint32Array, payload: Float64Array): [Uint32Array, Float64Array] {
  let k: Uint32Array = keys;
  let p: Float64Array = payload;
  let k2: Uint32Array = new Uint32Array(k.length);
  let p2: Float64Array = new Float64Array(k.length);
  const count = new Uint32Array(65537);
  for (const shift of [0, 16]) {
    count.fill(0);
    for (let i = 0; i < k.length; i++) count[((k[i]! >>> shift) & 0xffff) + 1]!++;
    for (let i = 1; i < 65537; i++) count[i]! += count[i - 1]!;
    for (let i = 0; i < k.length; i++) {
      const b = (k[i]! >>> shift) & 0xffff;
      const d = count[b]!++;
      k2[d] = k[i]!;
      p2[d] = p[i]!;
    }
    [k, k2] = [k2, k];
    [p, p2] = [p2, p];
  }
  return [k, p];
}

/** Weighted multiset of `values[i]` taken `counts[i]` times (entries with count 0 and non-finite values skipped). */
export function toWeighted(values: Float32Array, counts?: ArrayLike<number>): WeightedSamples {
  let n = 0;
  for (let i = 0; i < values.length; i++) if ((!counts || counts[i]! > 0) && Number.isFinite(values[i]!)) n++;
  const keys = new Uint32Array(n);
  const w = new Float64Array(n);
  for (let i = 0, j = 0; i < values.length; i++) {
    const c = counts ? counts[i]! : 1;
    if (c > 0 && Number.isFinite(values[i]!)) {
      keys[j] = keyOf(values[i]!);
      w[j++] = c;
    }
  }
  const [sk, sw] = radixSort(keys, w);
  const outV: number[] = [];
  const outC: number[] = [];
  for (let i = 0; i < sk.length; i++) {
    if (i > 0 && sk[i] === sk[i - 1]) outC[outC.length - 1]! += sw[i]!;
    else {
      outV.push(valueOf(sk[i]!));
      outC.push(sw[i]!);
    }
  }
  return { values: Float64Array.from(outV), counts: Float64Array.from(outC) };
}

/** Merge of two weighted multisets. */
export function mergeWeighted(a: WeightedSamples, b: WeightedSamples): WeightedSamples {
  const v = new Float64Array(a.values.length + b.values.length);
  const c = new Float64Array(v.length);
  let i = 0, j = 0, k = 0;
  while (i < a.values.length || j < b.values.length) {
    const av = i < a.values.length ? a.values[i]! : Infinity;
    const bv = j < b.values.length ? b.values[j]! : Infinity;
    if (j >= b.values.length || (i < a.values.length && av < bv)) {
      v[k] = av; c[k++] = a.counts[i++]!;
    } else if (i >= a.values.length || bv < av) {
      v[k] = bv; c[k++] = b.counts[j++]!;
    } else {
      v[k] = av; c[k++] = a.counts[i++]! + b.counts[j++]!;
    }
  }
  return { values: v.slice(0, k), counts: c.slice(0, k) };
}

/** Merges many multisets pairwise (balanced, O(N log k)). */
export function mergeAll(list: WeightedSamples[]): WeightedSamples {
  if (list.length === 0) return { values: new Float64Array(0), counts: new Float64Array(0) };
  let cur = list;
  while (cur.length > 1) {
    const next: WeightedSamples[] = [];
    for (let i = 0; i < cur.length; i += 2) next.push(i + 1 < cur.length ? mergeWeighted(cur[i]!, cur[i + 1]!) : cur[i]!);
    cur = next;
  }
  return cur[0]!;
}

/**
 * Sample `numSamples` of `fg` with replacement as `RandomState.choice(fg, numSamples, replace=True)` (RULES.md §2),
 * returned as a weighted multiset. `rs` is advanced exactly as numpy's would be.
 */
export function sampleWithReplacement(fg: Float32Array, numSamples: number, rs: RandomState): WeightedSamples {
  if (fg.length === 0) return { values: new Float64Array(0), counts: new Float64Array(0) };
  const counts = new Uint32Array(fg.length);
  const max = fg.length - 1;
  for (let i = 0; i < numSamples; i++) counts[rs.interval(max)]!++;
  return toWeighted(fg, counts);
}

/**
 * numpy `percentile(..., method='linear')` of the expanded multiset: position `q/100 * (N-1)`, linear between the
 * neighbouring order statistics.
 */
export function weightedPercentile(s: WeightedSamples, q: number): number {
  const N = s.counts.reduce((a, b) => a + b, 0);
  const pos = (q / 100) * (N - 1);
  const lo = Math.floor(pos);
  const frac = pos - lo;
  const at = (rank: number): number => {
    let acc = 0;
    for (let i = 0; i < s.values.length; i++) {
      acc += s.counts[i]!;
      if (rank < acc) return s.values[i]!;
    }
    return s.values[s.values.length - 1]!;
  };
  const a = at(lo);
  return frac === 0 ? a : a + frac * (at(lo + 1) - a);
}

/**
 * `foreground_intensity_properties_per_channel` entry (RULES.md §2): mean, median, std (ddof 0), min, max and the
 * 0.5 / 99.5 percentiles (numpy linear) of the pooled samples, in float64. Empty input gives zeros.
 */
export function intensityProperties(s: WeightedSamples): IntensityProperties {
  const N = s.counts.reduce((a, b) => a + b, 0);
  if (N === 0) return { mean: 0, median: 0, std: 0, min: 0, max: 0, percentile_99_5: 0, percentile_00_5: 0 };
  let sum = 0;
  for (let i = 0; i < s.values.length; i++) sum += s.values[i]! * s.counts[i]!;
  const mean = sum / N;
  let ss = 0;
  for (let i = 0; i < s.values.length; i++) ss += s.counts[i]! * (s.values[i]! - mean) ** 2;
  return {
    mean,
    median: weightedPercentile(s, 50),
    std: Math.sqrt(ss / N),
    min: s.values[0]!,
    max: s.values[s.values.length - 1]!,
    percentile_99_5: weightedPercentile(s, 99.5),
    percentile_00_5: weightedPercentile(s, 0.5),
  };
}
