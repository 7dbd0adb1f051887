import { mkdtemp, readdir, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { writeImageNode } from '@itk-wasm/image-io';
import { DataError, writeError, type MedicalImage, type WriteOptions } from '@nnunet-ts/core';
import { imageToItk } from './convert.js';

/**
 * Write `image` through itk-wasm (`writeImageNode`); the format follows the ending: .nrrd/.nhdr, .mha/.mhd, .nii,
 * .nii.gz (NIfTI written by ITK: qform and sform codes 1). Compression is used where the format has it, except
 * for .nii. `opts.dtype` casts the voxels (integers rounded; out-of-range values raise `DataError`);
 * `opts.template` (the input's `header`) only sets the dimensionality: the segmentation of a 2D input (a 2D NRRD or
 * MetaImage, or a NIfTI with dim[0] = 2) is written 2D, as nnU-Net's SimpleITKIO writes it (`templateDimension`);
 * otherwise ITK writes its own headers, 3D (4D for channels).
 *
 * Atomic: ITK writes into a fresh temporary folder beside `path` under the final name, then every file is renamed
 * into place, the header last (so .nhdr/.mhd headers never point at a missing data file).
 * Throws `DataError` naming the file when the folder is missing or ITK cannot write the format.
 */
export async function writeItk(path: string, image: MedicalImage, opts: WriteOptions = {}): Promise<void> {
  const itkImage = imageToItk(image, path, opts.dtype, opts.template);
  const dir = dirname(path);
  let tmp: string;
  try {
    tmp = await mkdtemp(join(dir, `.${basename(path)}.`));
  } catch (e) {
    const mapped = writeError(e, path);
    if (mapped !== e) throw mapped;
    throw new DataError(`cannot write ${path} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, {
      file: path,
      hint: 'check that the folder exists and is writable',
      cause: e,
    });
  }
  try {
    const target = join(tmp, basename(path));
    try {
      await writeImageNode(itkImage, target, { useCompression: !path.toLowerCase().endsWith('.nii') });
    } catch (e) {
      throw new DataError(`itk-wasm could not write ${path} (${e instanceof Error ? e.message.split('\n')[0] : String(e)})`, {
        file: path,
        hint: 'use a format ITK writes: .nrrd, .nhdr, .mha, .mhd, .nii, .nii.gz',
        cause: e,
      });
    }
    const files = (await readdir(tmp)).sort((a, b) => (a === basename(path) ? 1 : b === basename(path) ? -1 : 0));
    for (const f of files) await rename(join(tmp, f), join(dir, f));
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}
