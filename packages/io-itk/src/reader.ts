import { open, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { readImageNode } from '@itk-wasm/image-io';
import { DataError, type MedicalImage, type VoxelArray } from '@nnunet-ts/core';
import { itkToImage, type ItkImage } from './convert.js';
import { cachedRead } from './pipeline-cache.js';
import { dicomSizeProblem, walkDicom } from './dicom-lengths.js';
import { checkMetaHeader } from './meta-header.js';

/** Bytes of a file's start read to walk its DICOM element headers (`walkDicom`); headers beyond are not checked. */
const DICOM_HEAD_BYTES = 256 * 1024;

/**
 * Refuse a DICOM file one of whose top-level elements declares more bytes than the file holds (truncated or corrupt),
 * or whose image size fields (Rows, Columns, SamplesPerPixel, BitsAllocated, NumberOfFrames) disagree with its Pixel
 * Data or declare an implausibly large image (`dicomSizeProblem`): GDCM would first allocate and clear a buffer of
 * that size. Files that are not DICOM Part 10 pass unchecked. Throws `DataError` naming the file, the element or the
 * fields and their values.
 */
async function checkDicomLengths(path: string, size: number): Promise<void> {
  let head: Uint8Array;
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(Math.min(size, DICOM_HEAD_BYTES));
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
    head = new Uint8Array(buf.buffer, buf.byteOffset, bytesRead);
  } finally {
    await fh.close();
  }
  const walk = walkDicom(head, size);
  if (!walk) return;
  if (walk.lengthProblem) {
    throw new DataError(`truncated or corrupt DICOM file: ${walk.lengthProblem}`, {
      file: path,
      hint: 'copy or export the file again; a DICOM element cannot be longer than the file',
    });
  }
  const sizes = dicomSizeProblem(walk, size);
  if (sizes) throw new DataError(`corrupt DICOM header: ${sizes.message}`, { file: path, hint: sizes.hint });
}

/**
 * Run an itk-wasm read (the pipeline of the file's ending, or `pipeline`), turning its errors (plain `Error`s,
 * sometimes numbers from wasm aborts) into a `DataError`.
 */
async function itkRead(path: string, pipeline?: string): Promise<ItkImage> {
  const cached = await cachedRead(path, false, pipeline);
  if (cached && 'image' in cached) return cached.image;
  if (cached) {
    throw new DataError(`itk-wasm could not read ${path} (${cached.error})`, {
      file: path,
      hint: 'check that the file is a complete image in a format ITK reads (NRRD, MetaImage, NIfTI, DICOM)',
    });
  }
  try {
    return (await readImageNode(path)) as ItkImage;
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    throw new DataError(`itk-wasm could not read ${path} (${msg.split('\n')[0]!.slice(0, 200)})`, {
      file: path,
      hint: 'check that the file is a complete image in a format ITK reads (NRRD, MetaImage, NIfTI, DICOM)',
      cause: e,
    });
  }
}

async function fileSize(path: string): Promise<{ size: number; dir: boolean }> {
  try {
    const s = await stat(path);
    return { size: s.size, dir: s.isDirectory() };
  } catch (e) {
    throw new DataError(`cannot open ${path} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, {
      file: path,
      hint: 'check the path and the file permissions',
      cause: e,
    });
  }
}

/**
 * Read one image file through itk-wasm (`readImageNode` of @itk-wasm/image-io, wasm modules bundled in the package,
 * no network): NRRD (.nrrd, .nhdr + data file), MetaImage (.mha, .mhd + .raw), NIfTI (.nii, .nii.gz), a single
 * DICOM file (.dcm, GDCM; JPEG 2000 and other compressed transfer syntaxes GDCM decodes). A directory is read as a
 * DICOM series (`readDicomSeries`).
 *
 * Output follows the core image model (see `itkToImage`): `[c, z, y, x]`, spacing `[sz, sy, sx]`, LPS
 * origin/direction from ITK. ITK applies NIfTI scl_slope/scl_inter and DICOM rescale itself.
 * Throws `DataError` naming the file when it is missing, empty or unreadable.
 */
export async function readItk(path: string): Promise<MedicalImage> {
  const { size, dir } = await fileSize(path);
  if (dir) return readDicomSeries(path);
  if (size === 0) throw new DataError(`file is empty (0 bytes)`, { file: path, hint: 're-copy or re-export the file' });
  await checkDicomLengths(path, size);
  await checkMetaHeader(path, size);
  return itkToImage(await itkRead(path), path);
}

/** Options for `readDicomSeries`. */
export interface DicomSeriesOptions {
  /** Relative tolerance on slice spacing before the series counts as irregular (default 1e-3, i.e. 0.1 %). */
  spacingTolerance?: number;
}

/**
 * Read a DICOM series: every file of `dirOrFiles` (a folder: all regular files in it, non-recursive, hidden files
 * skipped) is read as one slice with GDCM, then slices are sorted by their position along the slice normal
 * (ImagePositionPatient projected onto the cross product of the ImageOrientationPatient rows, i.e. the third
 * column of ITK's direction), the z spacing is the distance between consecutive positions, and the origin is
 * the first slice's position.
 *
 * Refuses (DataError naming the folder) instead of guessing (bad-inputs B39): unreadable or empty files (all named),
 * slices with different sizes, orientations or pixel types, duplicate positions, and irregular spacing (each gap is
 * reported with its position; no resampling, so the z spacing is never wrong).
 */
export async function readDicomSeries(dirOrFiles: string | string[], opts: DicomSeriesOptions = {}): Promise<MedicalImage> {
  const tol = opts.spacingTolerance ?? 1e-3;
  let files: string[];
  let where: string;
  if (typeof dirOrFiles === 'string') {
    where = dirOrFiles;
    const entries = await readdir(dirOrFiles, { withFileTypes: true });
    files = entries
      .filter((e) => e.isFile() && !e.name.startsWith('.'))
      .map((e) => join(dirOrFiles, e.name))
      .sort();
  } else {
    files = [...dirOrFiles];
    where = files[0] ?? '(no files)';
  }
  if (files.length === 0) throw new DataError(`no DICOM files in ${where}`, { file: where });
  const slices: { file: string; img: ItkImage }[] = [];
  const bad: string[] = [];
  for (const f of files) {
    const { size } = await fileSize(f);
    if (size === 0) {
      bad.push(`${f} (0 bytes)`);
      continue;
    }
    try {
      await checkDicomLengths(f, size);
      slices.push({ file: f, img: await itkRead(f, 'gdcm-read-image') });
    } catch (e) {
      bad.push(`${f} (${(e as Error).message.replace(`${f}: `, '').replace(/^.*could not read \S+ /, '')})`);
    }
  }
  if (bad.length) {
    // One message for every problem (B39): also check the readable slices, so a gap is reported with the bad files.
    let more = '';
    if (slices.length > 1) {
      try {
        assembleSeries(slices, where, tol);
      } catch (e) {
        if (!(e instanceof DataError)) throw e;
        more = `; among the readable slices: ${e.message.replace(`${where}: `, '').replace(`DICOM series ${where}: `, '')}`;
      }
    }
    throw new DataError(`DICOM series ${where}: ${bad.length} unreadable file(s): ${bad.join('; ')}${more}`, {
      file: where,
      hint: 'remove or replace the unreadable files, then read the series again',
    });
  }
  return assembleSeries(slices, where, tol);
}

/**
 * Check that readable slices form one regular series (same size, pixel type and orientation, distinct positions,
 * regular spacing) and stack them along the slice normal. Throws `DataError` naming the folder otherwise.
 */
function assembleSeries(slices: { file: string; img: ItkImage }[], where: string, tol: number): MedicalImage {
  if (slices.length === 1) return itkToImage(slices[0]!.img, slices[0]!.file);
  const first = slices[0]!.img;
  const key = (i: ItkImage): string =>
    `${i.size[0]}x${i.size[1]}x${i.size[2] ?? 1} ${i.imageType.componentType}/${i.imageType.pixelType}/${i.imageType.components}`;
  const dirOf = (i: ItkImage): number[] => Array.from(i.direction as ArrayLike<number>);
  for (const s of slices) {
    if (s.img.imageType.dimension !== 3 || (s.img.size[2] ?? 1) !== 1) {
      throw new DataError(`DICOM series ${where}: ${s.file} is a multi-frame image (${key(s.img)}), not one slice`, {
        file: where,
        hint: 'read multi-frame DICOM files one by one',
      });
    }
    if (key(s.img) !== key(first)) {
      throw new DataError(`DICOM series ${where}: ${s.file} has ${key(s.img)} but ${slices[0]!.file} has ${key(first)}`, {
        file: where,
        hint: 'the folder mixes series; put each series in its own folder',
      });
    }
    const d = dirOf(s.img);
    const d0 = dirOf(first);
    if (d.some((v, i) => Math.abs(v - d0[i]!) > 1e-4)) {
      throw new DataError(`DICOM series ${where}: ${s.file} has a different ImageOrientationPatient than ${slices[0]!.file}`, {
        file: where,
        hint: 'the folder mixes series or orientations; put each series in its own folder',
      });
    }
  }
  const d0 = dirOf(first);
  const normal = [d0[2]!, d0[5]!, d0[8]!];
  const pos = (i: ItkImage): number => i.origin[0]! * normal[0]! + i.origin[1]! * normal[1]! + i.origin[2]! * normal[2]!;
  const sorted = slices.map((s) => ({ ...s, p: pos(s.img) })).sort((a, b) => a.p - b.p);
  const gaps = sorted.slice(1).map((s, i) => s.p - sorted[i]!.p);
  const sortedGaps = [...gaps].sort((a, b) => a - b);
  const median = sortedGaps[Math.floor(sortedGaps.length / 2)]!;
  const dup = gaps.findIndex((g) => g < 1e-6);
  if (dup >= 0) {
    throw new DataError(
      `DICOM series ${where}: ${sorted[dup]!.file} and ${sorted[dup + 1]!.file} are at the same position ${sorted[dup]!.p.toFixed(3)} mm`,
      { file: where, hint: 'the folder holds duplicate slices or several series; keep one series per folder' },
    );
  }
  const irregular = gaps
    .map((g, i) => ({ g, i }))
    .filter(({ g }) => Math.abs(g - median) > tol * Math.max(1, Math.abs(median)));
  if (irregular.length) {
    const list = irregular.map(({ g, i }) => `${g.toFixed(3)} mm between ${sorted[i]!.p.toFixed(3)} and ${sorted[i + 1]!.p.toFixed(3)}`);
    throw new DataError(
      `DICOM series ${where}: irregular slice spacing (usual ${median.toFixed(3)} mm; ${list.join('; ')}); missing or extra slices?`,
      { file: where, hint: 'complete the series, or resample/split it explicitly before using it' },
    );
  }
  const zSpacing = (sorted[sorted.length - 1]!.p - sorted[0]!.p) / (sorted.length - 1);
  const nx = first.size[0]!;
  const ny = first.size[1]!;
  const per = nx * ny;
  const Ctor = (first.data as unknown as VoxelArray).constructor as new (n: number) => VoxelArray;
  const data = new Ctor(per * sorted.length);
  sorted.forEach((s, k) => data.set(s.img.data as unknown as ArrayLike<number>, k * per));
  const base = itkToImage(sorted[0]!.img, where);
  return { ...base, data, shape: [1, sorted.length, ny, nx], spacing: [zSpacing, base.spacing[1], base.spacing[2]], source: where };
}
