import type { Rng } from '../contracts/augmentation.js';
import type { ClassOrRegion } from '../dataset/label-manager.js';
import { sampleClassLocations } from '../preprocessing/class-locations.js';
import type { PreprocessedCaseData } from './case-source.js';

/** Python's `round` (half to even) for the oversampling threshold. */
function pyRound(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  return d > 0.5 ? f + 1 : d < 0.5 ? f : f % 2 === 0 ? f : f + 1;
}

/**
 * nnU-Net's foreground oversampling rule (RULES.md §15, `data_loader.py`): sample `j` of a batch is forced to contain
 * foreground when `j >= round(batchSize * (1 - p))` (Python rounding), p = 0.33 by default.
 */
export function forceForeground(j: number, batchSize: number, p = 0.33): boolean {
  return !(j < pyRound(batchSize * (1 - p)));
}

/**
 * Voxel lists `[z, y, x]` per class-or-region key of a case (`locationKey`), from `class_locations` or, when
 * preprocessing stored none, computed from the seg (`sampleClassLocations` over `classes`). Empty lists are dropped.
 * @param classes what to compute when nothing is stored (default: every label > 0 present in the seg). Pass the
 *   label manager's `locationClasses` so that an ignore label is never a class and its annotated union is present.
 */
export function classLocations(c: PreprocessedCaseData, classes?: readonly ClassOrRegion[]): Map<string, number[][]> {
  const out = new Map<string, number[][]>();
  let stored = c.properties.class_locations;
  if (!stored) {
    const seg = c.seg;
    if (!seg) return out;
    const present = new Set<number>();
    for (let i = 0; i < seg.length; i++) if (seg[i]! > 0) present.add(seg[i]!);
    stored = sampleClassLocations(seg, c.shape.slice(1), classes ?? [...present].sort((a, b) => a - b));
  }
  for (const [k, v] of Object.entries(stored)) if (k !== '0' && v.length) out.set(k, v);
  return out;
}

/**
 * Which class-or-region key a window is centred on, as nnU-Net v2 `get_bbox` (`data_loader.py`): not forced and no
 * ignore label: none (random window); not forced with an ignore label: the annotated union (`annotated`), so every
 * patch sits on annotated voxels; forced: a random non-empty key, the annotated union excluded when another key is
 * non-empty. Returns null for a random window (also when the case has no voxel of any key).
 */
export function chooseLocationKey(locs: Map<string, number[][]>, force: boolean, annotated: string | null, rng: Rng): string | null {
  if (!force) return annotated !== null && locs.has(annotated) ? annotated : null;
  let eligible = [...locs.keys()];
  if (annotated !== null && eligible.length > 1) eligible = eligible.filter((k) => k !== annotated);
  return eligible.length ? eligible[rng.int(0, eligible.length)]! : null;
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
