import type { Geometry } from '@nnunet-ts/core';
import type { NiftiHeader } from './header.js';

/** 3x3 matrices here are arrays of 3 rows. */
type M3 = number[][];

const col = (m: M3, j: number): number[] => [m[0]![j]!, m[1]![j]!, m[2]![j]!];
const norm = (v: number[]): number => Math.hypot(v[0]!, v[1]!, v[2]!);
const transpose = (m: M3): M3 => [0, 1, 2].map((r) => [0, 1, 2].map((c) => m[c]![r]!));
const mul = (a: M3, b: M3): M3 =>
  [0, 1, 2].map((r) => [0, 1, 2].map((c) => a[r]![0]! * b[0]![c]! + a[r]![1]! * b[1]![c]! + a[r]![2]! * b[2]![c]!));
const det = (m: M3): number =>
  m[0]![0]! * (m[1]![1]! * m[2]![2]! - m[1]![2]! * m[2]![1]!) -
  m[0]![1]! * (m[1]![0]! * m[2]![2]! - m[1]![2]! * m[2]![0]!) +
  m[0]![2]! * (m[1]![0]! * m[2]![1]! - m[1]![1]! * m[2]![0]!);

function inverse(m: M3): M3 {
  const d = det(m);
  const a = m;
  const r: M3 = [
    [a[1]![1]! * a[2]![2]! - a[1]![2]! * a[2]![1]!, a[0]![2]! * a[2]![1]! - a[0]![1]! * a[2]![2]!, a[0]![1]! * a[1]![2]! - a[0]![2]! * a[1]![1]!],
    [a[1]![2]! * a[2]![0]! - a[1]![0]! * a[2]![2]!, a[0]![0]! * a[2]![2]! - a[0]![2]! * a[2]![0]!, a[0]![2]! * a[1]![0]! - a[0]![0]! * a[1]![2]!],
    [a[1]![0]! * a[2]![1]! - a[1]![1]! * a[2]![0]!, a[0]![1]! * a[2]![0]! - a[0]![0]! * a[2]![1]!, a[0]![0]! * a[1]![1]! - a[0]![1]! * a[1]![0]!],
  ];
  return r.map((row) => row.map((v) => v / d));
}

/** Max |R Rᵀ - I| of a matrix: 0 for an orthonormal matrix. */
export function orthonormalityError(m: M3): number {
  const p = mul(m, transpose(m));
  let e = 0;
  for (let r = 0; r < 3; r++) for (let c = 0; c < 3; c++) e = Math.max(e, Math.abs(p[r]![c]! - (r === c ? 1 : 0)));
  return e;
}

/**
 * Nearest orthonormal matrix (orthogonal polar factor U Vᵀ of the SVD) by Newton iteration
 * `X <- (X + X^-T) / 2`, which converges quadratically for non-singular input. Keeps the sign of the determinant.
 */
export function nearestOrthonormal(m: M3): M3 {
  let x = m.map((r) => [...r]);
  for (let it = 0; it < 100; it++) {
    const xit = transpose(inverse(x));
    const next = x.map((row, r) => row.map((v, c) => (v + xit[r]![c]!) / 2));
    let diff = 0;
    for (let r = 0; r < 3; r++) for (let c = 0; c < 3; c++) diff = Math.max(diff, Math.abs(next[r]![c]! - x[r]![c]!));
    x = next;
    if (diff < 1e-15) break;
  }
  return x;
}

/**
 * Rotation matrix of the NIfTI-1 quaternion (b, c, d), a = sqrt(1 - b² - c² - d²) (nifti1.h, "METHOD 2").
 * When b²+c²+d² > 1 (rounding), a = 0 and (b, c, d) is renormalised, as nifti1_io.c does.
 */
export function quaternToMatrix(b: number, c: number, d: number): M3 {
  let a = 1 - (b * b + c * c + d * d);
  if (a < 1e-7) {
    const s = 1 / Math.hypot(b, c, d); // hypot: no overflow for huge (corrupt) values
    b *= s;
    c *= s;
    d *= s;
    a = 0;
  } else {
    a = Math.sqrt(a);
  }
  return [
    [a * a + b * b - c * c - d * d, 2 * (b * c - a * d), 2 * (b * d + a * c)],
    [2 * (b * c + a * d), a * a + c * c - b * b - d * d, 2 * (c * d - a * b)],
    [2 * (b * d - a * c), 2 * (c * d + a * b), a * a + d * d - c * c - b * b],
  ];
}

/**
 * Quaternion (b, c, d) and qfac of an orthonormal matrix (inverse of `quaternToMatrix`, nifti1.h METHOD 2):
 * when det < 0 the third column is negated and qfac = -1. `a` is made non-negative, as NIfTI requires.
 */
export function matrixToQuatern(m: M3): { b: number; c: number; d: number; qfac: 1 | -1 } {
  const r = m.map((row) => [...row]);
  let qfac: 1 | -1 = 1;
  if (det(r) < 0) {
    qfac = -1;
    for (let i = 0; i < 3; i++) r[i]![2] = -r[i]![2]!;
  }
  const [r11, r12, r13] = r[0]!;
  const [r21, r22, r23] = r[1]!;
  const [r31, r32, r33] = r[2]!;
  const tr = r11! + r22! + r33!;
  let a: number, b: number, c: number, d: number;
  if (tr > 0) {
    const s = 2 * Math.sqrt(1 + tr);
    a = s / 4;
    b = (r32! - r23!) / s;
    c = (r13! - r31!) / s;
    d = (r21! - r12!) / s;
  } else if (r11! > r22! && r11! > r33!) {
    const s = 2 * Math.sqrt(1 + r11! - r22! - r33!);
    a = (r32! - r23!) / s;
    b = s / 4;
    c = (r12! + r21!) / s;
    d = (r13! + r31!) / s;
  } else if (r22! > r33!) {
    const s = 2 * Math.sqrt(1 + r22! - r11! - r33!);
    a = (r13! - r31!) / s;
    b = (r12! + r21!) / s;
    c = s / 4;
    d = (r23! + r32!) / s;
  } else {
    const s = 2 * Math.sqrt(1 + r33! - r11! - r22!);
    a = (r21! - r12!) / s;
    b = (r13! + r31!) / s;
    c = (r23! + r32!) / s;
    d = s / 4;
  }
  if (a < 0) {
    b = -b;
    c = -c;
    d = -d;
  }
  return { b, c, d, qfac };
}

/** Result of decoding a header's geometry. */
export interface NiftiGeometry extends Geometry {
  /** Which transform the geometry came from. */
  from: 'sform' | 'qform' | 'none';
  warnings: string[];
}

/** Tolerance of ITK's orthonormality test on the column-normalised sform (itkNiftiImageIO.cxx). */
const ORTHO_TOL = 1e-4;

/**
 * Geometry (LPS, ITK convention; see core image.ts) of a NIfTI header.
 *
 * Choice between sform and qform follows ITK's NiftiImageIO (ITK 5.3+, `SetImageIOOrientationFromNIfTI`), so this
 * reader agrees with io-itk:
 * - both codes 0: origin 0, identity direction, spacing |pixdim| (ITK; the NIfTI-1 "method 1" has no orientation).
 * - the sform (code > 0) is used when, after normalising its columns, it is orthonormal (|R Rᵀ - I| <= 1e-4) and
 *   qform_code = 0, or sform_code = 1 (SCANNER_ANAT), or the sform and qform describe the same grid (directions,
 *   spacings and offsets within 1e-4).
 * - otherwise the qform when qform_code > 0; a non-orthonormal sform with qform_code = 0 (which ITK refuses) is
 *   replaced by its nearest orthonormal matrix with a warning (bad-inputs B30).
 *
 * sform: spacing = |pixdim| when it matches the srow column norms within 1e-3 (as ITK, which always uses pixdim),
 * else the column norms with a warning (bad-inputs B30); direction = normalised columns. qform: quaternion rotation, third column times qfac (pixdim[0] < 0 -> -1),
 * spacing = |pixdim[1..3]|, a negative pixdim flips its direction column with a warning (bad-inputs B32; the world
 * position of every voxel is kept). Zero or non-finite pixdim counts as 1 (nifti1_io.c). RAS -> LPS negates the
 * first two rows of the direction and the first two origin components.
 */
export function niftiGeometry(h: NiftiHeader): NiftiGeometry {
  const warnings: string[] = [];
  const units = h.xyztUnits & 7;
  if (units === 1 || units === 3) {
    warnings.push(`spatial units are ${units === 1 ? 'meters' : 'microns'} (xyzt_units); values are used as mm unchanged`);
  }
  const pix = pixdimSpacing(h, warnings);
  const { qUsable, sUsable } = usableTransforms(h, warnings);
  const q = qUsable ? qformTransform(h, pix) : null;
  const s = sUsable ? sformTransform(h) : null;
  if (!q && !s) {
    const sp = pix.map(Math.abs);
    // Already LPS identity (ITK convention): no RAS->LPS flip.
    warnings.push(
      h.qformCode > 0 || h.sformCode > 0
        ? 'no usable qform or sform: origin 0 and identity direction assumed'
        : 'qform_code and sform_code are both 0: origin 0 and identity direction assumed (as ITK)',
    );
    return { spacing: [sp[2]!, sp[1]!, sp[0]!], origin: [0, 0, 0], direction: identity3().flat(), from: 'none', warnings };
  }
  const useS = !!s && s.ortho && (!q || h.sformCode === 1 || sameGrid(s, q));
  let from: NiftiGeometry['from'];
  let t: RasGeometry;
  if (useS && s) {
    from = 'sform';
    t = fromSform(s, pix, warnings);
  } else if (q) {
    from = 'qform';
    t = q;
    if (s && !s.ortho) warnings.push('sform is not orthonormal (shear or degenerate); qform used instead');
    if (pix.some((p) => p < 0)) {
      warnings.push(`negative pixdim (${pix.join(', ')}) folded into the direction; spacing = |pixdim|`);
    }
  } else {
    from = 'sform';
    t = fromShearedSform(s!, pix, warnings);
  }
  const { m, off, sp } = saneOrFallback(t, from, q, pix, warnings);
  // RAS -> LPS: negate rows 0 and 1.
  const dir = m.map((row, i) => row.map((v) => (i < 2 ? -v : v)));
  const origin: [number, number, number] = [-off[0]!, -off[1]!, off[2]!];
  return {
    spacing: [sp[2]!, sp[1]!, sp[0]!],
    origin: origin.map((v) => v + 0) as [number, number, number],
    direction: dir.flat().map((v) => v + 0),
    from,
    warnings,
  };
}

/**
 * Whether the qform and the sform can be used: code > 0 and finite numbers (a quaternion of absurd size, |bcd| >=
 * 1e10, counts as corrupt). A transform with non-finite numbers is ignored with a warning instead of giving a NaN
 * geometry.
 */
function usableTransforms(h: NiftiHeader, warnings: string[]): { qUsable: boolean; sUsable: boolean } {
  const qUsable = h.qformCode > 0 && [...h.quatern, ...h.qoffset].every(Number.isFinite) && Math.hypot(...h.quatern) < 1e10;
  const sUsable = h.sformCode > 0 && h.srow.flat().every(Number.isFinite);
  if (h.qformCode > 0 && !qUsable) warnings.push(`qform (code ${h.qformCode}) has non-finite or absurd quaternion/offset values and is ignored`);
  if (h.sformCode > 0 && !sUsable) warnings.push(`sform (code ${h.sformCode}) has non-finite values and is ignored`);
  return { qUsable, sUsable };
}

/** Direction (RAS; columns = voxel axes i, j, k), offset (mm) and spacing of one of the header's transforms. */
type RasGeometry = { m: M3; off: number[]; sp: number[] };

/** The sform with its column norms as spacing; `ok` when no column is zero, `ortho` when the directions are orthonormal. */
interface SformTransform extends RasGeometry {
  ortho: boolean;
  ok: boolean;
}

/** The 3x3 identity. */
function identity3(): M3 {
  return [
    [1, 0, 0],
    [0, 1, 0],
    [0, 0, 1],
  ];
}

/**
 * pixdim[1..3], zero or non-finite values counted as 1 (nifti1_io.c); signs kept. The warning is given for axes the
 * image has (i <= dim[0]) only: a 2D image (dim[0] = 2) often stores pixdim[3] = 0, which is legal, since pixdim[i] for
 * i > dim[0] is unused (nifti1.h, "pixdim[i] = voxel width along dimension #i, i=1..dim[0]").
 */
function pixdimSpacing(h: NiftiHeader, warnings: string[]): number[] {
  return [1, 2, 3].map((i) => {
    const p = h.pixdim[i]!;
    if (p === 0 || !Number.isFinite(p)) {
      if (i <= h.dim[0]!) warnings.push(`pixdim[${i}] = ${p} is not a valid spacing; 1 mm assumed`);
      return 1;
    }
    return p;
  });
}

/** The qform: quaternion rotation, third column times qfac, a negative pixdim flips its column; spacing |pixdim|. */
function qformTransform(h: NiftiHeader, pix: number[]): RasGeometry {
  const r = quaternToMatrix(h.quatern[0], h.quatern[1], h.quatern[2]);
  const qfac = h.pixdim[0]! < 0 ? -1 : 1;
  for (let i = 0; i < 3; i++) r[i]![2] = r[i]![2]! * qfac;
  const sp = pix.map(Math.abs);
  pix.forEach((p, j) => {
    if (p < 0) for (let i = 0; i < 3; i++) r[i]![j] = -r[i]![j]!;
  });
  return { m: r, off: [...h.qoffset], sp };
}

/** The sform split into normalised columns and column norms. */
function sformTransform(h: NiftiHeader): SformTransform {
  const a = h.srow.map((row) => row.slice(0, 3));
  const sp = [0, 1, 2].map((j) => norm(col(a, j)));
  const ok = sp.every((s) => s > 0 && Number.isFinite(s));
  const m = a.map((row) => row.map((v, j) => v / (sp[j] || 1)));
  return { m, off: h.srow.map((row) => row[3]!), sp, ortho: ok && orthonormalityError(m) <= ORTHO_TOL, ok };
}

/** sform and qform describe the same grid: directions, spacings and offsets within 1e-4 (ITK). */
function sameGrid(s: RasGeometry, q: RasGeometry): boolean {
  return (
    [0, 1, 2].every((j) => Math.abs(s.sp[j]! - q.sp[j]!) <= 1e-4) &&
    [0, 1, 2].every((i) => [0, 1, 2].every((j) => Math.abs(s.m[i]![j]! - q.m[i]![j]!) <= 1e-4)) &&
    [0, 1, 2].every((i) => Math.abs(s.off[i]! - q.off[i]!) <= 1e-4)
  );
}

/** An orthonormal sform: spacing |pixdim| when it agrees with the column norms within 1e-3 (ITK), else the norms. */
function fromSform(s: SformTransform, pix: number[], warnings: string[]): RasGeometry {
  // pixdim when it agrees with the column norms (float32 sform rounding; ITK's 1e-3 test), else the column norms.
  const bad = [0, 1, 2].filter((j) => Math.abs(s.sp[j]! - Math.abs(pix[j]!)) > 1e-3);
  if (bad.length) {
    warnings.push(
      `sform column norms (${s.sp.map((v) => +v.toFixed(6)).join(', ')}) differ from pixdim ` +
        `(${pix.map((v) => +Math.abs(v).toFixed(6)).join(', ')}); spacing taken from the sform`,
    );
  }
  if (pix.some((p) => p < 0)) warnings.push('negative pixdim ignored: the sform defines the geometry');
  return { m: s.m, off: s.off, sp: bad.length ? s.sp : pix.map(Math.abs) };
}

/** A non-orthonormal sform and no qform: the nearest orthonormal direction (bad-inputs B30), or identity for a zero column. */
function fromShearedSform(sf: SformTransform, pix: number[], warnings: string[]): RasGeometry {
  if (!sf.ok) {
    warnings.push('sform has a zero column and there is no qform: identity direction and |pixdim| spacing assumed');
    return { m: identity3(), sp: pix.map(Math.abs), off: sf.off };
  }
  const err = orthonormalityError(sf.m);
  warnings.push(
    `sform is not orthonormal (|R R^T - I| = ${err.toExponential(2)}, shear); direction replaced by the nearest ` +
      'orthonormal matrix, spacing = sform column norms',
  );
  return { m: nearestOrthonormal(sf.m), sp: sf.sp, off: sf.off };
}

/**
 * A corrupt header can defeat the sform/qform rules (huge or denormal numbers): never return a direction that is not
 * orthonormal or a non-finite origin/spacing. Falls back to the qform, else to origin 0, identity direction and
 * |pixdim| spacing, with a warning. Works in RAS (before the LPS flip).
 */
function saneOrFallback(g: RasGeometry, from: string, q: RasGeometry | null, pix: number[], warnings: string[]): RasGeometry {
  if (geometryIsSane(g.m, g.off, g.sp)) return g;
  const qq = q && from !== 'qform' && geometryIsSane(q.m, q.off, q.sp) ? q : null;
  warnings.push(`the ${from} gives no valid geometry (non-orthonormal direction or non-finite values); ${qq ? 'qform used' : 'origin 0, identity direction and |pixdim| spacing assumed'}`);
  if (qq) return qq;
  // identity in LPS is diag(-1, -1, 1) in RAS
  return { m: [[-1, 0, 0], [0, -1, 0], [0, 0, 1]], off: [0, 0, 0], sp: pix.map(Math.abs) };
}

/** True when a direction is orthonormal (|R^T R - I| <= 1e-3) and offset and spacing are finite (spacing > 0). */
function geometryIsSane(m: M3, off: number[], sp: number[]): boolean {
  return m.flat().every(Number.isFinite) && orthonormalityError(m) <= 1e-3 && off.every(Number.isFinite) && sp.every((v) => Number.isFinite(v) && v > 0);
}

/** NIfTI transform fields (RAS) for an LPS geometry. */
export interface NiftiTransform {
  srow: number[][];
  quatern: [number, number, number];
  qoffset: [number, number, number];
  qfac: 1 | -1;
  /** pixdim[1..3] = spacing x, y, z (mm). */
  pixdim: [number, number, number];
}

/**
 * The sform rows and qform fields that encode `g` (LPS -> RAS: negate rows 0 and 1). The sform is
 * `diag(-1,-1,1) * direction * diag(sx,sy,sz)` with offset `diag(-1,-1,1) * origin`; the qform is the same rotation
 * as a quaternion (a non-orthonormal direction is first replaced by its nearest orthonormal matrix).
 */
export function geometryToNifti(g: Geometry): NiftiTransform {
  const sx = g.spacing[2];
  const sy = g.spacing[1];
  const sz = g.spacing[0];
  const s = [sx, sy, sz];
  const d: M3 = [0, 1, 2].map((r) => [0, 1, 2].map((c) => (r < 2 ? -1 : 1) * g.direction[r * 3 + c]!));
  const srow = d.map((row, r) => [...row.map((v, c) => v * s[c]!), (r < 2 ? -1 : 1) * g.origin[r]!]);
  const rot = orthonormalityError(d) > 1e-6 ? nearestOrthonormal(d) : d;
  const { b, c, d: qd, qfac } = matrixToQuatern(rot);
  return {
    srow: srow.map((row) => row.map((v) => v + 0)),
    quatern: [b, c, qd],
    qoffset: [srow[0]![3]!, srow[1]![3]!, srow[2]![3]!],
    qfac,
    pixdim: [sx, sy, sz],
  };
}
