import type { Rng } from '../contracts/augmentation.js';
import type { PreprocessedCaseData } from './case-source.js';

/** Python's `round` (half to even) for the oversampling threshold. */
function pyRound(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  return d > 0.5 ? f + 1 : d < 0.5 ? f : f % 2 === 0 ? f : f + 1;
}

/**
 * nnU-Net's foreground oversampling rule (spec 1.15, `data_loader.py`): sample `j` of a batch is forced to contain
 * foreground when `j >= round(batchSize * (1 - p))` (Python rounding), p = 0.33 by default.
 */
export function forceForeground(j: number, batchSize: number, p = 0.33): boolean {
  return !(j < pyRound(batchSize * (1 - p)));
}

/** Foreground voxel lists `[z, y, x]` per label of a case, from `class_locations` or computed from the seg. */
export function classLocations(c: PreprocessedCaseData): Map<string, number[][]> {
  const stored = c.properties.class_locations;
  const out = new Map<string, number[][]>();
  if (stored) {
    for (const [k, v] of Object.entries(stored)) if (Number(k) > 0 && v.length) out.set(k, v);
    return out;
  }
  // Fallback when preprocessing stored none: every foreground voxel, subsampled to at most 10000 per label (spec 1.14).
  const [, Z, Y, X] = c.shape as [number, number, number, number];
  const seg = c.seg;
  if (!seg) return out;
  const all = new Map<number, number[]>();
  for (let i = 0; i < seg.length; i++) {
    const v = seg[i]!;
    if (v > 0) (all.get(v) ?? all.set(v, []).get(v)!).push(i);
  }
  for (const [label, idx] of [...all].sort((a, b) => a[0] - b[0])) {
    const step = Math.max(1, Math.ceil(idx.length / 10000));
    const pts: number[][] = [];
    for (let k = 0; k < idx.length; k += step) {
      const i = idx[k]!;
      pts.push([Math.floor(i / (Y * X)), Math.floor(i / X) % Y, i % X]);
    }
    out.set(String(label), pts);
  }
  void Z;
  return out;
}

/**
 * nnU-Net `get_bbox` (v2 `data_loader.py`): lower corner of a `patch` window (the loader's initial patch) in an image of
 * spatial size `size`. `needToPad = patch - finalPatch` (raised so the window fits a small image); lower bounds
 * `floor(-pad/2)`, upper `size + pad//2 + pad%2 - patch`; random corner, or, when `fgVoxel` is given, the window
 * centred on it (clamped below only, as nnU-Net).
 */
export function getBbox(size: number[], patch: number[], finalPatch: number[], rng: Rng, fgVoxel: number[] | null): number[] {
  return size.map((s, i) => {
    let pad = patch[i]! - finalPatch[i]!;
    if (pad + s < patch[i]!) pad = patch[i]! - s;
    const lb = Math.floor(-pad / 2);
    const ub = s + Math.floor(pad / 2) + (pad % 2) - patch[i]!;
    if (fgVoxel) return Math.max(lb, fgVoxel[i]! - Math.floor(patch[i]! / 2));
    return rng.int(lb, ub + 1);
  });
}

/**
 * Copy a window `[lo, lo + size)` of `[c, z, y, x]` data (and a `[z, y, x]` seg) into new arrays, padding outside the
 * image with 0 (data) and -1 (seg) as nnU-Net's loader does.
 */
export function cropWithPadding(data: Float32Array, seg: Int16Array | null, shape: number[], lo: number[], size: number[]): { image: Float32Array; seg: Int16Array } {
  const [C, Z, Y, X] = shape as [number, number, number, number];
  const [pz, py, px] = size as [number, number, number];
  const n = pz * py * px;
  const image = new Float32Array(C * n);
  const s = new Int16Array(n).fill(-1);
  const x0 = Math.max(0, lo[2]!);
  const x1 = Math.min(X, lo[2]! + px);
  if (x1 <= x0) return { image, seg: s };
  for (let z = 0; z < pz; z++) {
    const iz = lo[0]! + z;
    if (iz < 0 || iz >= Z) continue;
    for (let y = 0; y < py; y++) {
      const iy = lo[1]! + y;
      if (iy < 0 || iy >= Y) continue;
      const dst = (z * py + y) * px + (x0 - lo[2]!);
      const src = (iz * Y + iy) * X + x0;
      for (let c = 0; c < C; c++) image.set(data.subarray(c * Z * Y * X + src, c * Z * Y * X + src + x1 - x0), c * n + dst);
      if (seg) s.set(seg.subarray(src, src + x1 - x0), dst);
    }
  }
  return { image, seg: s };
}
