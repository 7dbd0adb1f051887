import type { Geometry, MedicalImage, VoxelArray } from './image.js';
import { DataError } from '../util/errors.js';

/**
 * Reorientation to the closest canonical RAS orientation, as nnU-Net's `NibabelIOWithReorient`
 * (nnunetv2/imageio/nibabel_reader_writer.py) reads every image: nibabel `as_reoriented(io_orientation(affine))`, i.e.
 * `as_closest_canonical`. Only axis permutations and flips: no voxel is resampled and the world geometry is unchanged.
 *
 * In our conventions (image.ts) index axis 0 = x (fastest), 1 = y, 2 = z; after reorientation index axis n points
 * (closest) along RAS world axis n: x towards Right (-x of LPS), y towards Anterior (-y of LPS), z towards Superior.
 * nnU-Net then transposes nibabel's `[i, j, k]` array to `[k, j, i]`, which is our `[z, y, x]`, and takes the spacing
 * from the reoriented zooms reversed, `[sz, sy, sx]`: the array the network sees is the one `reorientImage` gives.
 */
export interface Orientation {
  /** `perm[n]`: the input index axis (0 = x, 1 = y, 2 = z) that becomes index axis n of the reoriented image. */
  perm: [number, number, number];
  /** `flip[n]`: that input axis is reversed (it points away from RAS world axis n). */
  flip: [boolean, boolean, boolean];
}

/** Names of nnU-Net v2's reader/writers (`LIST_OF_IO_CLASSES`, nnunetv2/imageio/reader_writer_registry.py). */
export const NNUNET_READER_WRITERS = ['SimpleITKIO', 'NibabelIO', 'NibabelIOWithReorient', 'Tiff3DIO', 'NaturalImage2DIO'] as const;

function det3(m: number[]): number {
  return m[0]! * (m[4]! * m[8]! - m[5]! * m[7]!) - m[1]! * (m[3]! * m[8]! - m[5]! * m[6]!) + m[2]! * (m[3]! * m[7]! - m[4]! * m[6]!);
}

/** Inverse transpose of a row-major 3x3 (cofactor matrix over the determinant). */
function invT3(m: number[]): number[] {
  const d = det3(m);
  const c = (r: number, k: number) => {
    const rs = [0, 1, 2].filter((x) => x !== r);
    const ks = [0, 1, 2].filter((x) => x !== k);
    const minor = m[rs[0]! * 3 + ks[0]!]! * m[rs[1]! * 3 + ks[1]!]! - m[rs[0]! * 3 + ks[1]!]! * m[rs[1]! * 3 + ks[0]!]!;
    return ((r + k) % 2 ? -1 : 1) * minor;
  };
  return [0, 1, 2].flatMap((r) => [0, 1, 2].map((k) => c(r, k) / d));
}

/**
 * The closest canonical (RAS) orientation of a grid with `direction` (LPS, row-major, column j = index axis j), as
 * nibabel's `io_orientation`: the columns normalised, replaced by the closest orthogonal matrix (polar factor, which
 * nibabel takes by SVD; here by Newton iteration), then for input axes x, y, z in turn the world axis with the largest
 * absolute component is taken (that world axis then dropped for the later input axes) and its sign gives the flip.
 * @throws DataError when the direction is singular (no orientation exists)
 */
export function closestCanonical(direction: readonly number[]): Orientation {
  // LPS -> RAS: negate the first two world rows; normalise the columns
  let m = [0, 1, 2].flatMap((r) => [0, 1, 2].map((c) => (r < 2 ? -1 : 1) * direction[r * 3 + c]!));
  for (let c = 0; c < 3; c++) {
    const n = Math.hypot(m[c]!, m[3 + c]!, m[6 + c]!) || 1;
    for (let r = 0; r < 3; r++) m[r * 3 + c] = m[r * 3 + c]! / n;
  }
  if (!(Math.abs(det3(m)) > 1e-12)) throw new DataError(`the image direction ${JSON.stringify(direction)} is singular: no closest canonical orientation`, { hint: 'fix the image header (qform/sform) so its axes are independent' });
  for (let it = 0; it < 100; it++) {
    const t = invT3(m);
    const next = m.map((v, i) => (v + t[i]!) / 2);
    const delta = Math.max(...next.map((v, i) => Math.abs(v - m[i]!)));
    m = next;
    if (delta < 1e-15) break;
  }
  const perm: [number, number, number] = [0, 1, 2];
  const flip: [boolean, boolean, boolean] = [false, false, false];
  for (let inAx = 0; inAx < 3; inAx++) {
    let outAx = 0;
    for (let r = 1; r < 3; r++) if (Math.abs(m[r * 3 + inAx]!) > Math.abs(m[outAx * 3 + inAx]!)) outAx = r;
    perm[outAx] = inAx;
    flip[outAx] = m[outAx * 3 + inAx]! < 0;
    for (let c = 0; c < 3; c++) m[outAx * 3 + c] = 0;
  }
  return { perm, flip };
}

/** True when `o` changes nothing (the grid is already closest to RAS). */
export function isIdentityOrientation(o: Orientation): boolean {
  return o.perm.every((p, n) => p === n) && o.flip.every((f) => !f);
}

/** Sizes `[x, y, z]` of a `[c, z, y, x]` shape. */
function xyz(shape: readonly number[]): [number, number, number] {
  return [shape[3]!, shape[2]!, shape[1]!];
}

/**
 * Walk the reoriented grid in storage order and call `f(newOffset, oldOffset)` for each voxel of each channel.
 * `inShape`: `[c, z, y, x]` of the input (not reoriented) grid.
 */
function walk(inShape: readonly number[], o: Orientation, f: (to: number, from: number) => void): void {
  const n = xyz(inShape);
  const stride = [1, n[0], n[0] * n[1]];
  const size = [n[o.perm[0]]!, n[o.perm[1]]!, n[o.perm[2]]!];
  const step = [0, 1, 2].map((a) => (o.flip[a] ? -1 : 1) * stride[o.perm[a]]!);
  let base = 0;
  for (let a = 0; a < 3; a++) if (o.flip[a]) base += (n[o.perm[a]]! - 1) * stride[o.perm[a]]!;
  const vox = n[0] * n[1] * n[2];
  let to = 0;
  for (let c = 0; c < inShape[0]!; c++) {
    for (let k = 0; k < size[2]!; k++) {
      for (let j = 0; j < size[1]!; j++) {
        let from = c * vox + base + k * step[2]! + j * step[1]!;
        for (let i = 0; i < size[0]!; i++, from += step[0]!) f(to++, from);
      }
    }
  }
}

/** The `[c, z, y, x]` shape of `inShape` reoriented by `o`. */
export function reorientedShape(inShape: readonly number[], o: Orientation): [number, number, number, number] {
  const n = xyz(inShape);
  return [inShape[0]!, n[o.perm[2]]!, n[o.perm[1]]!, n[o.perm[0]]!];
}

/**
 * The geometry of a grid (`shape` `[c, z, y, x]`, spacing, origin, direction) reoriented by `o`: index axis n is the
 * input axis `perm[n]`, reversed when `flip[n]`; the origin is the world position of the input voxel that becomes
 * voxel (0, 0, 0), so every voxel keeps its world position.
 */
export function reorientGeometry(g: Geometry, inShape: readonly number[], o: Orientation): Geometry {
  const n = xyz(inShape);
  const sp = [g.spacing[2], g.spacing[1], g.spacing[0]];
  const corner = [0, 0, 0];
  for (let a = 0; a < 3; a++) if (o.flip[a]) corner[o.perm[a]!] = n[o.perm[a]!]! - 1;
  const origin = [0, 1, 2].map((r) => g.origin[r]! + [0, 1, 2].reduce((s, c) => s + g.direction[r * 3 + c]! * sp[c]! * corner[c]!, 0)) as [number, number, number];
  const direction = [0, 1, 2].flatMap((r) => [0, 1, 2].map((a) => (o.flip[a] ? -1 : 1) * g.direction[r * 3 + o.perm[a]!]!));
  return { spacing: [sp[o.perm[2]]!, sp[o.perm[1]]!, sp[o.perm[0]]!], origin, direction };
}

/**
 * `img` (all channels) reoriented by `o` (default: `closestCanonical(img.direction)`), a new image with permuted and
 * flipped voxels, the geometry of `reorientGeometry`, the same data type and warnings. Its `header` is dropped (it
 * describes the input file's grid): write outputs on the input's grid (`restoreOrientation`) with the input's header.
 */
export function reorientImage(img: MedicalImage, o: Orientation = closestCanonical(img.direction)): MedicalImage {
  const { header: _header, ...rest } = img;
  if (isIdentityOrientation(o)) return { ...rest };
  const data = new (img.data.constructor as new (n: number) => VoxelArray)(img.data.length);
  const src = img.data;
  walk(img.shape, o, (to, from) => (data[to] = src[from]!));
  return { ...rest, ...reorientGeometry(img, img.shape, o), data, shape: reorientedShape(img.shape, o) };
}

/**
 * Voxels on a reoriented grid (`[c, z', y', x']`, as `reorientImage` gave) brought back onto the input grid whose
 * shape is `inShape` (`[c, z, y, x]`, c taken from the data's length): the inverse permutation and flips, same type.
 */
export function restoreOrientation<T extends VoxelArray>(data: T, inShape: readonly number[], o: Orientation): T {
  if (isIdentityOrientation(o)) return data;
  const vox = inShape[1]! * inShape[2]! * inShape[3]!;
  const out = new (data.constructor as new (n: number) => T)(data.length);
  walk([data.length / vox, inShape[1]!, inShape[2]!, inShape[3]!], o, (to, from) => (out[from] = data[to]!));
  return out;
}

/**
 * Whether the plans' (or dataset.json's `overwrite_image_reader_writer`) reader/writer reorients images:
 * `NibabelIOWithReorient` does; nnU-Net's other reader/writers and an absent name ('None') do not. Our readers give the
 * array order of SimpleITKIO and NibabelIO alike (`[z, y, x]`, x fastest: NibabelIO transposes nibabel's `[i, j, k]`).
 * Any other name is not one nnU-Net ships (`NNUNET_READER_WRITERS`): `note` is called with a note saying the images
 * are read by file ending without reorientation (nnU-Net itself warns and falls back to the file ending for an
 * unknown `overwrite_image_reader_writer`, and fails for an unknown plans `image_reader_writer`).
 */
export function readerWriterReorients(name: string | undefined, where: string, note?: (message: string) => void): boolean {
  if (name === 'NibabelIOWithReorient') return true;
  if (name === undefined || name === 'None' || (NNUNET_READER_WRITERS as readonly string[]).includes(name)) return false;
  note?.(`note: ${where}: image_reader_writer '${name}' is not one of nnU-Net's (${NNUNET_READER_WRITERS.join(', ')}); images are read by their file ending, in their own orientation (not reoriented)`);
  return false;
}
