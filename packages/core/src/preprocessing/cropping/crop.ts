import { allocFloat32 } from '../resampling/pool.js';
import { fillHoles3d } from './fill-holes.js';

/** Result of `cropToNonzero`. */
export interface CropResult {
  /** Cropped image `[c, z', y', x']` float32 (the input array itself when nothing is cropped). */
  data: Float32Array;
  /** Cropped label map `[z', y', x']` Int16; -1 marks background outside the nonzero mask (RULES.md §3). */
  seg: Int16Array;
  /** `[c, z', y', x']`. */
  shape: number[];
  /** Half-open voxel ranges `[[z0, z1), [y0, y1), [x0, x1)]` of the crop in the input grid (nnU-Net's bbox). */
  bbox: [number, number][];
}

/** The label nnU-Net writes outside the nonzero mask (RULES.md §3). */
export const OUTSIDE_LABEL = -1;

/**
 * Nonzero mask of a multi-channel image: `OR_c (data[c] != 0)`, then 3D hole filling (RULES.md §3 steps 1-2).
 * NaN counts as nonzero (as in numpy). Returns Uint8 `[z, y, x]`.
 */
export function createNonzeroMask(data: Float32Array, shape: readonly number[]): Uint8Array {
  const [C, Z, Y, X] = shape as [number, number, number, number];
  const n = Z * Y * X;
  const mask = new Uint8Array(n);
  for (let c = 0; c < C; c++) {
    const o = c * n;
    for (let i = 0; i < n; i++) if (data[o + i] !== 0) mask[i] = 1;
  }
  return fillHoles3d(mask, [Z, Y, X]);
}

/**
 * Bounding box of a mask `[z, y, x]` as half-open ranges; an empty mask gives the whole volume (acvl_utils
 * `get_bbox_from_mask`).
 */
export function bboxOfMask(mask: Uint8Array, shape: readonly number[]): [number, number][] {
  const [Z, Y, X] = shape as [number, number, number];
  let z0 = Z, z1 = -1, y0 = Y, y1 = -1, x0 = X, x1 = -1;
  for (let z = 0, i = 0; z < Z; z++) {
    for (let y = 0; y < Y; y++) {
      for (let x = 0; x < X; x++, i++) {
        if (!mask[i]) continue;
        if (z < z0) z0 = z;
        if (z > z1) z1 = z;
        if (y < y0) y0 = y;
        if (y > y1) y1 = y;
        if (x < x0) x0 = x;
        if (x > x1) x1 = x;
      }
    }
  }
  if (z1 < 0) return [[0, Z], [0, Y], [0, X]];
  return [[z0, z1 + 1], [y0, y1 + 1], [x0, x1 + 1]];
}

/** Copies the bbox region of each of `channels` volumes `[z, y, x]` (typed array of any kind). */
export function cropArray<T extends Float32Array | Int16Array | Uint8Array>(arr: T, shape: readonly number[],
  bbox: readonly (readonly [number, number])[], channels = 1): T {
  const [Z, Y, X] = shape as [number, number, number];
  const [[z0, z1], [y0, y1], [x0, x1]] = bbox as [[number, number], [number, number], [number, number]];
  const w = x1 - x0;
  const h = y1 - y0;
  const d = z1 - z0;
  const Ctor = arr.constructor as new (n: number) => T;
  const n = channels * d * h * w;
  // float32 image crops go to shareable memory when the resampler runs threaded (then it can work in place)
  const out = arr instanceof Float32Array ? (allocFloat32(n) as T) : new Ctor(n);
  let q = 0;
  for (let c = 0; c < channels; c++) {
    for (let z = z0; z < z1; z++) {
      for (let y = y0; y < y1; y++) {
        const s = ((c * Z + z) * Y + y) * X + x0;
        out.set(arr.subarray(s, s + w) as never, q);
        q += w;
      }
    }
  }
  return out;
}

/**
 * nnU-Net's `crop_to_nonzero` (RULES.md §3): nonzero mask over channels, hole filling, crop to its bbox, and in the
 * label map set `seg == 0` voxels outside the mask to -1. Without a label map, one is made: 0 inside the mask,
 * -1 outside. When the bbox is the whole volume the input `data` is returned as is (no copy).
 * Note (bad-inputs B28): an image whose background is not exactly 0 (CT at -1024) is not cropped; exact zeros
 * inside the anatomy are kept inside by the hole filling.
 * @param data `[c, z, y, x]` float32
 * @param shape `[c, z, y, x]`
 * @param seg `[z, y, x]` Int16 or null
 */
export function cropToNonzero(data: Float32Array, shape: readonly number[], seg: Int16Array | null): CropResult {
  const [C, Z, Y, X] = shape as [number, number, number, number];
  if (data.length !== C * Z * Y * X) throw new RangeError(`cropToNonzero: data length ${data.length} != shape ${shape}`);
  if (seg && seg.length !== Z * Y * X) throw new RangeError(`cropToNonzero: seg length ${seg.length} != ${Z * Y * X}`);
  const spatial = [Z, Y, X];
  const mask = createNonzeroMask(data, shape);
  const bbox = bboxOfMask(mask, spatial);
  const full = bbox.every(([a, b], i) => a === 0 && b === spatial[i]);
  const cData = full ? data : cropArray(data, spatial, bbox, C);
  const cMask = full ? mask : cropArray(mask, spatial, bbox);
  let cSeg: Int16Array;
  if (seg) {
    cSeg = cropArray(seg, spatial, bbox);
    for (let i = 0; i < cSeg.length; i++) if (cSeg[i] === 0 && !cMask[i]) cSeg[i] = OUTSIDE_LABEL;
  } else {
    cSeg = new Int16Array(cMask.length);
    for (let i = 0; i < cSeg.length; i++) cSeg[i] = cMask[i] ? 0 : OUTSIDE_LABEL;
  }
  return { data: cData, seg: cSeg, shape: [C, ...bbox.map(([a, b]) => b - a)], bbox };
}
