import type { Normalizer } from '../contracts/normalizer.js';
import type { Resampler } from '../contracts/resampler.js';

/**
 * Framework-free contract checks for normalizer and resampler plugins (defaults and third-party ones): each returns
 * the list of violated rules (empty when the plugin conforms), so any test runner can assert on it.
 */

const props = { mean: 10, std: 4, median: 10, min: 0, max: 20, percentile_00_5: 1, percentile_99_5: 19 };

/** Normalizer contract (RULES.md §12): in place, returns `data`, finite output for constant input (B15), named. */
export function checkNormalizerContract(n: Normalizer): string[] {
  const bad: string[] = [];
  if (!n.name) bad.push('name is empty');
  if (typeof n.leavesOutsideMaskAtZero !== 'boolean') bad.push('leavesOutsideMaskAtZero is not a boolean');
  const data = Float32Array.from({ length: 64 }, (_, i) => (i * 37) % 200);
  const seg = Int16Array.from({ length: 64 }, (_, i) => (i < 8 ? -1 : i % 3));
  const out = n.normalize({ data, seg, useMaskForNorm: true, intensityProperties: props });
  if (out !== data) bad.push('normalize must work in place and return its input array');
  if (!out.every(Number.isFinite)) bad.push('non-finite output for ordinary input');
  for (const v of [0, 5, 200]) {
    const c = new Float32Array(27).fill(v);
    const r = n.normalize({ data: c, useMaskForNorm: false, intensityProperties: props });
    if (!r.every(Number.isFinite)) bad.push(`non-finite output for a constant channel of ${v} (B15)`);
  }
  if (n.leavesOutsideMaskAtZero) {
    const d = Float32Array.from([0, 3, 5, 0]);
    n.normalize({ data: d, seg: Int16Array.from([-1, 0, 1, -1]), useMaskForNorm: true, intensityProperties: props });
    if (d[0] !== 0 || d[3] !== 0) bad.push('claims leavesOutsideMaskAtZero but changed voxels outside the mask');
  }
  return bad;
}

/** Resampler contract (RULES.md §13): output sizes, identity at equal shapes, labels only from the input (B08). */
export function checkResamplerContract(r: Resampler): string[] {
  const bad: string[] = [];
  if (!r.name) bad.push('name is empty');
  const shape = [2, 3, 4, 5];
  const data = Float32Array.from({ length: 120 }, (_, i) => Math.sin(i));
  const o = { order: 3, orderZ: 0, separateZAxis: null };
  const out = r.resampleData(data, shape, [5, 6, 3], o);
  if (out.length !== 2 * 5 * 6 * 3) bad.push(`resampleData returned ${out.length} values, expected 180`);
  if (!out.every(Number.isFinite)) bad.push('resampleData produced non-finite values');
  const same = r.resampleData(data, shape, [3, 4, 5], o);
  if (same.some((v, i) => Math.abs(v - data[i]!) > 1e-5)) bad.push('resampleData is not the identity at equal shapes');
  const seg = Int16Array.from({ length: 60 }, (_, i) => (i % 5 < 2 ? 2 : 4));
  for (const separateZAxis of [null, 0]) {
    const s = r.resampleSeg(seg, [3, 4, 5], [7, 9, 11], { order: 1, orderZ: 0, separateZAxis });
    if (s.length !== 7 * 9 * 11) bad.push(`resampleSeg returned ${s.length} values, expected 693`);
    if (s.some((v) => v !== 2 && v !== 4)) bad.push(`resampleSeg invented labels (separateZAxis ${separateZAxis}, B08)`);
  }
  return bad;
}
