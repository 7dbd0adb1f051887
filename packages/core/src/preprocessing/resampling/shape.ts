/**
 * Output shapes and the separate-z decision (RULES.md §13, nnU-Net `default_resampling.py`).
 */

/** nnU-Net's `ANISO_THRESHOLD`: separate z when max(spacing)/min(spacing) > 3 (RULES.md §13). */
export const ANISO_THRESHOLD = 3;

/** Relative tolerance under which two spacings count as equal (float32 header noise is ~6e-8 relative). */
const SPACING_RTOL = 1e-5;
/** Distance from an integer / a half below which a shape value counts as exactly that (bad-inputs ghost-slice row). */
const SHAPE_TOL = 1e-5;

/**
 * Python's `round()` (half to even) of `v`, robust to float noise: values within 1e-5 of an integer snap to it and
 * values within 1e-5 of a half count as that half. So 3 slices of 0.44999998 mm resampled to 0.45 mm stay 3
 * (bad-inputs B25).
 */
export function roundShapeValue(v: number): number {
  const r = Math.round(v);
  if (Math.abs(v - r) < SHAPE_TOL) return r;
  const f = Math.floor(v);
  if (Math.abs(v - (f + 0.5)) < SHAPE_TOL) return f % 2 === 0 ? f : f + 1;
  return r;
}

/**
 * `compute_new_shape`: `round(old_spacing / new_spacing * old_shape)` per axis (RULES.md §13), at least 1.
 * @param shape spatial shape `[z, y, x]` in voxels
 * @param spacing current spacing `[sz, sy, sx]` (mm)
 * @param newSpacing target spacing `[sz, sy, sx]` (mm)
 * @throws RangeError on length mismatch or non-positive spacing
 */
export function computeNewShape(shape: readonly number[], spacing: readonly number[],
  newSpacing: readonly number[]): number[] {
  if (shape.length !== spacing.length || shape.length !== newSpacing.length) {
    throw new RangeError(`computeNewShape: shape ${shape} / spacing ${spacing} / new spacing ${newSpacing} differ in length`);
  }
  return shape.map((s, i) => {
    const a = spacing[i]!;
    const b = newSpacing[i]!;
    if (!(a > 0) || !(b > 0)) throw new RangeError(`computeNewShape: spacings must be > 0, got ${a} and ${b}`);
    return Math.max(1, roundShapeValue((a / b) * s));
  });
}

/** `get_do_separate_z`: max(spacing)/min(spacing) > threshold (RULES.md §13). */
export function getDoSeparateZ(spacing: readonly number[], threshold = ANISO_THRESHOLD): boolean {
  return Math.max(...spacing) / Math.min(...spacing) > threshold;
}

/** `get_lowres_axis`: the axes whose spacing equals the maximum (within float32 noise). */
export function getLowresAxes(spacing: readonly number[]): number[] {
  const m = Math.max(...spacing);
  return spacing.flatMap((s, i) => (Math.abs(m - s) <= SPACING_RTOL * m ? [i] : []));
}

/**
 * `determine_do_sep_z_and_axis` with `force_separate_z=None` (RULES.md §13): check the current spacing first, then the
 * target; the low-resolution axis is the one with the largest spacing; two or three tied axes mean no separate z.
 * @returns the separate axis (0..2) or null
 */
export function determineSeparateZAxis(currentSpacing: readonly number[], newSpacing: readonly number[],
  threshold = ANISO_THRESHOLD): number | null {
  let axes: number[] | null = null;
  if (getDoSeparateZ(currentSpacing, threshold)) axes = getLowresAxes(currentSpacing);
  else if (getDoSeparateZ(newSpacing, threshold)) axes = getLowresAxes(newSpacing);
  return axes && axes.length === 1 ? axes[0]! : null;
}
