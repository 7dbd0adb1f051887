import type { Geometry } from '../image/image.js';

/** Tolerances for "same grid" (defaults accept 1e-8 float noise, reject a 1 degree rotation or a half-voxel shift). */
export interface GridTolerance {
  /** Relative spacing tolerance. Default 1e-5. */
  spacingRel: number;
  /** Origin tolerance as a fraction of the smallest spacing. Default 1e-3 (a half-voxel shift is 0.5). */
  originFrac: number;
  /** Largest allowed rotation between direction matrices, degrees. Default 0.01. */
  directionDeg: number;
}

export const DEFAULT_GRID_TOLERANCE: GridTolerance = { spacingRel: 1e-5, originFrac: 1e-3, directionDeg: 0.01 };

/**
 * Rotation angle (degrees) between two 3x3 row-major direction matrices: angle of `A^T B`. Meaningful only when
 * `A^T B` is a proper rotation (determinant +1); see `directionRelation` for mirrored axes.
 */
export function rotationAngleDeg(a: readonly number[], b: readonly number[]): number {
  let trace = 0;
  for (let i = 0; i < 3; i++) for (let k = 0; k < 3; k++) trace += a[k * 3 + i]! * b[k * 3 + i]!;
  const c = Math.min(1, Math.max(-1, (trace - 1) / 2));
  return (Math.acos(c) * 180) / Math.PI;
}

const det3 = (m: readonly number[]): number =>
  m[0]! * (m[4]! * m[8]! - m[5]! * m[7]!) - m[1]! * (m[3]! * m[8]! - m[5]! * m[6]!) + m[2]! * (m[3]! * m[7]! - m[4]! * m[6]!);

/**
 * How direction matrix `b` relates to `a` (3x3 row-major, ITK: column i is the LPS direction of voxel axis i, i = x,
 * y, z), in words: `rotation N degrees` for a proper rotation (`det(A^T B) = +1`); axes whose columns are opposite
 * (`a_i . b_i < -0.999`) as `x axis mirrored` (a flip, not a rotation), plus any rotation left after undoing the flips;
 * any other reflection (`det(A^T B) = -1`, e.g. swapped axes) as a reflection.
 */
export function directionRelation(a: readonly number[], b: readonly number[]): string {
  const flipped: number[] = [];
  for (let i = 0; i < 3; i++) {
    let dot = 0;
    for (let k = 0; k < 3; k++) dot += a[k * 3 + i]! * b[k * 3 + i]!;
    if (dot < -0.999) flipped.push(i);
  }
  if (!flipped.length) {
    if (det3(a) * det3(b) < 0) return 'a reflection (determinant -1 relation, e.g. swapped axes), not a rotation';
    return `rotation ${+rotationAngleDeg(a, b).toFixed(3)} degrees`;
  }
  const unflipped = b.map((v, idx) => (flipped.includes(idx % 3) ? -v : v));
  const names = flipped.map((i) => 'xyz'[i]!);
  let text = `${names.join(', ')} ax${names.length > 1 ? 'es' : 'is'} mirrored`;
  if (flipped.length === 2) text += ' (together a 180 degree rotation)';
  const rest = rotationAngleDeg(a, unflipped);
  if (rest > 1e-3) text += `, then rotation ${+rest.toFixed(3)} degrees`;
  return text;
}

const fmt = (v: readonly number[]): string => `(${v.map((x) => +x.toFixed(6)).join(', ')})`;

/**
 * Differences between two grids, one human sentence per differing field with both values; [] when equal
 * within `tol`. Shapes are spatial `[z, y, x]`.
 */
export function compareGrids(
  a: Geometry & { shape: readonly number[] },
  b: Geometry & { shape: readonly number[] },
  tol: GridTolerance = DEFAULT_GRID_TOLERANCE,
  names?: [string, string],
): string[] {
  const out: string[] = [];
  // with names, each value says whose it is: "spacing image a.nii.gz: (1, 1, 2.5); label: (1, 1, 1) mm (x, y, z)"
  const vs = names ? (x: string, y: string) => `${names[0]}: ${x}; ${names[1]}: ${y}` : (x: string, y: string) => `${x} vs ${y}`;
  const sa = a.shape.slice(-3);
  const sb = b.shape.slice(-3);
  // report in NIfTI (x, y, z) order, as users see shapes and spacings in viewers
  if (sa.some((v, i) => v !== sb[i])) out.push(`shape ${vs(fmt([...sa].reverse()), fmt([...sb].reverse()))} (x, y, z voxels)`);
  if (a.spacing.some((v, i) => Math.abs(v - b.spacing[i]!) > tol.spacingRel * Math.max(Math.abs(v), 1e-3))) {
    out.push(`spacing ${vs(fmt([...a.spacing].reverse()), fmt([...b.spacing].reverse()))} mm (x, y, z)`);
  }
  const d = Math.hypot(a.origin[0] - b.origin[0], a.origin[1] - b.origin[1], a.origin[2] - b.origin[2]);
  const minSp = Math.min(...a.spacing, ...b.spacing);
  if (d > tol.originFrac * minSp) out.push(`origin ${vs(fmt(a.origin), fmt(b.origin))} mm (offset ${+d.toFixed(4)} mm)`);
  const ang = rotationAngleDeg(a.direction, b.direction);
  const maxDiff = Math.max(...a.direction.map((v, i) => Math.abs(v - b.direction[i]!)));
  if (ang > tol.directionDeg || maxDiff > 1e-3) {
    out.push(`direction ${vs(fmt(a.direction), fmt(b.direction))} (${directionRelation(a.direction, b.direction)})`);
  }
  return out;
}
