import { resampleOntoGrid } from './align.js';
import { open, stat } from 'node:fs/promises';
import { basename } from 'node:path';
import type { ImageReader } from '../contracts/image-io.js';
import type { MedicalImage } from '../image/image.js';
import { closestCanonical, reorientImage, type Orientation } from '../image/reorient.js';
import type { Registry } from '../registry/registry.js';
import { DataError, NnunetError } from '../util/errors.js';
import { compareGrids, type GridTolerance } from './geometry.js';
import type { DatasetCase } from './types.js';

async function head(path: string, n = 1024): Promise<Uint8Array> {
  const fh = await open(path, 'r').catch((e: unknown) => {
    throw new DataError('file not found or unreadable', { file: path, cause: e });
  });
  try {
    const buf = Buffer.alloc(n);
    const { bytesRead } = await fh.read(buf, 0, n, 0);
    return new Uint8Array(buf.buffer, buf.byteOffset, bytesRead);
  } finally {
    await fh.close();
  }
}

/**
 * The reader for a file: the registered reader whose longest extension ends the (lower-case) name, else the first
 * whose `sniff` accepts the leading bytes.
 * @throws DataError naming the file and listing the registered readers and their endings.
 */
export async function pickReader(registry: Registry, path: string): Promise<ImageReader> {
  const readers = registry.all('reader');
  const lower = basename(path).toLowerCase();
  let best: ImageReader | undefined;
  let bestLen = 0;
  for (const r of readers) {
    for (const e of r.extensions) {
      if (lower.endsWith(e.toLowerCase()) && e.length > bestLen) {
        best = r;
        bestLen = e.length;
      }
    }
  }
  if (best) return best;
  const h = await head(path);
  for (const r of readers) if (r.sniff?.(h, path)) return r;
  const list = readers.map((r) => `${r.name} (${r.extensions.join(' ')})`).join(', ') || '(none)';
  throw new DataError(`no image reader for this file (by ending or content); registered readers: ${list}`, {
    file: path,
    hint: 'convert the file to a supported format or register a reader with --plugin <module>',
  });
}

/**
 * Read one image through the registry (see `pickReader`). Output follows the image model (`[c, z, y, x]`).
 * @throws DataError "the file is empty (0 bytes)" for any format (a failed copy), else from `pickReader` or the reader.
 */
export async function readImage(registry: Registry, path: string): Promise<MedicalImage> {
  const st = await stat(path).catch(() => undefined);
  if (st?.isFile() && st.size === 0) {
    throw new DataError('the file is empty (0 bytes)', { file: path, hint: 'an interrupted or failed copy, download or export leaves an empty file: copy or export the image again' });
  }
  const reader = await pickReader(registry, path);
  return reader.read(path);
}

/**
 * Spatial shape `[z, y, x]` and spacing `[sz, sy, sx]` (mm) of a case from the header of its first channel file
 * (the reader's `readInfo`: no voxels are read), or null when the file's reader has no `readInfo` or the header
 * cannot be read (the callers are estimates, which fall back to other shapes; reading the case reports the error).
 */
export async function readCaseGeometry(registry: Registry, c: DatasetCase): Promise<{ shape: number[]; spacing: number[] } | null> {
  const path = c.images[0];
  if (!path) return null;
  try {
    const reader = await pickReader(registry, path);
    const info = await reader.readInfo?.(path);
    return info ? { shape: info.shape.slice(1), spacing: [...info.spacing] } : null;
  } catch (e) {
    if (e instanceof NnunetError || (e as NodeJS.ErrnoException).code) return null;
    throw e;
  }
}

/** A case read into memory: channels stacked float32 `[c, z, y, x]`, label int16 `[1, z, y, x]`. */
export interface CaseImages {
  id: string;
  image: MedicalImage;
  seg: MedicalImage;
  /**
   * With `reorient`: the orientation applied (`closestCanonical` of the first channel file) and the grid of that file
   * as read (its header kept, its voxels dropped), to bring outputs back (`restoreOrientation`) and write them with the input's header.
   */
  reoriented?: { orientation: Orientation; original: MedicalImage };
}

/**
 * Stack channel images (or one 4D image) into float32 `[c, z, y, x]`, checking every channel shares one grid
 * (bad inputs B01, B04).
 * @throws DataError naming both files and each differing field with both values.
 */
export function stackChannels(images: MedicalImage[], paths: string[], tol?: GridTolerance): MedicalImage {
  const first = images[0]!;
  for (let i = 1; i < images.length; i++) {
    const diffs = compareGrids(first, images[i]!, tol);
    if (diffs.length) {
      throw new DataError(
        `channel files ${paths[0]} and ${paths[i]} are on different grids: ${diffs.join('; ')}. All channels of a case must share one grid`,
        { file: paths[i], hint: 'resample (register) the channels onto one grid before using them' },
      );
    }
  }
  const n = first.shape[1] * first.shape[2] * first.shape[3];
  const c = images.reduce((s, im) => s + im.shape[0], 0);
  const data = new Float32Array(c * n);
  let off = 0;
  for (const im of images) {
    for (let i = 0; i < im.data.length; i++) data[off + i] = im.data[i]!;
    off += im.data.length;
  }
  return {
    data,
    shape: [c, first.shape[1], first.shape[2], first.shape[3]],
    spacing: [...first.spacing],
    origin: [...first.origin],
    direction: [...first.direction],
    source: paths[0],
    header: first.header,
    warnings: images.flatMap((im) => im.warnings ?? []),
  };
}

/** Convert a label image to int16, rounding near-integers. @throws DataError for non-integer values. */
export function toLabelMap(img: MedicalImage, file: string): MedicalImage {
  if (img.data instanceof Int16Array) return img;
  const out = new Int16Array(img.data.length);
  for (let i = 0; i < out.length; i++) {
    const v = img.data[i]!;
    const r = Math.round(v);
    if (Math.abs(v - r) > 1e-3 || r < -32768 || r > 32767) {
      throw new DataError(`label holds a non-integer or out-of-range value ${v} (voxel ${i})`, {
        file,
        hint: 'labels must be integers 0..K; re-save the label as uint8/int16',
      });
    }
    out[i] = r;
  }
  return { ...img, data: out };
}

/**
 * Read a case: channel files stacked to `[c, z, y, x]` float32 (one 4D file gives all channels), the label as
 * int16 `[1, z, y, x]` checked to share the image grid. Only with `alignGrids` (explicit opt-in) are channels on
 * other grids resampled onto the first channel's grid (linear) and the label onto it (nearest), each one logged.
 * With `reorient` (plans `image_reader_writer` NibabelIOWithReorient, `readerWriterReorients`) every file, channels
 * and label, is first brought to its closest canonical RAS orientation (`reorientImage`), as that reader/writer reads
 * each file; `reoriented` then holds what is needed to restore outputs onto the input grid.
 * @throws DataError on unreadable files, channel/label grid mismatch (both files and values named).
 */
export async function readCase(
  registry: Registry,
  c: DatasetCase,
  tol?: GridTolerance,
  opts: { alignGrids?: boolean; log?: (message: string) => void; reorient?: boolean } = {},
): Promise<CaseImages> {
  const images = [];
  for (const p of c.images) images.push(await readImage(registry, p));
  const first = images[0]!;
  const reoriented = opts.reorient && first ? { orientation: closestCanonical(first.direction), original: { ...first, data: first.data.subarray(0, 0) } } : undefined;
  if (opts.reorient) for (let i = 0; i < images.length; i++) images[i] = reorientImage(images[i]!);
  if (opts.alignGrids) {
    // explicit opt-in (B01, B03): channels onto the first channel's grid (linear), logged per file
    for (let i = 1; i < images.length; i++) {
      const diffs = compareGrids(images[0]!, images[i]!, tol);
      if (!diffs.length) continue;
      opts.log?.(`${c.images[i]}: resampled (linear) onto the grid of ${c.images[0]} (${diffs.join('; ')})`);
      images[i] = resampleOntoGrid(images[i]!, images[0]!, 1);
    }
  }
  const image = stackChannels(images, c.images, tol);
  let seg: MedicalImage;
  if (c.label) {
    seg = toLabelMap(await readImage(registry, c.label), c.label);
    if (opts.reorient) seg = reorientImage(seg);
    if (opts.alignGrids && seg.shape[0] === 1) {
      const diffs = compareGrids(image, seg, tol);
      if (diffs.length) {
        opts.log?.(`${c.label}: resampled (nearest) onto the grid of ${c.images[0]} (${diffs.join('; ')})`);
        seg = resampleOntoGrid(seg, image, 0);
      }
    }
    const diffs = compareGrids(image, seg, tol);
    if (diffs.length || seg.shape[0] !== 1) {
      throw new DataError(`label ${c.label} and image ${c.images[0]} are on different grids: ${diffs.join('; ') || `label has ${seg.shape[0]} channels`}`, {
        file: c.label,
        hint: 'image and label must share shape, spacing, origin and direction (resample the label onto the image grid)',
      });
    }
  } else {
    seg = { ...image, data: new Int16Array(image.shape[1] * image.shape[2] * image.shape[3]), shape: [1, image.shape[1], image.shape[2], image.shape[3]] };
  }
  return { id: c.id, image, seg, ...(reoriented ? { reoriented } : {}) };
}
