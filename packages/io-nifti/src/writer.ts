import { randomBytes } from 'node:crypto';
import { rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import { DataError, writeError, type MedicalImage, type WriteOptions } from '@nnunet-ts/core';
import { encodeNifti } from './encode.js';

export { encodeNifti, dtypeOf } from './encode.js';

const gzipAsync = promisify(gzip);

/**
 * Write `image` as NIfTI-1 (NIfTI-2 for a NIfTI-2 template) (`.nii`, or gzip-compressed when the path ends in
 * `.gz`), atomically (temp file in the same folder, then rename).
 *
 * - Voxels: `image.data` `[c, z, y, x]` is written x fastest; dim = [3 or 4, x, y, z, c]; with a 2D (or 1D)
 *   template and one slice, dim = [2, x, y, ...] as the input (nnU-Net's SimpleITKIO keeps the input's
 *   dimensionality). Type `opts.dtype`, else the
 *   array's own type (labels: pass uint8/int16; images float32). Integer output rounds and rejects values out of range.
 * - Geometry: `spacing`/`origin`/`direction` (LPS) are written to both the sform and the qform (codes 1, RAS =
 *   diag(-1,-1,1) * LPS), pixdim[1..3] = spacing x, y, z, pixdim[0] = qfac.
 * - `opts.template` (the `header` of an image read by `readNifti`): every header field of the input is kept except
 *   dim, datatype, bitpix, vox_offset (352, extensions dropped) and scaling (identity); when the image has the
 *   template's grid (within 1e-6), its qform/sform bytes are kept too, so outputs match inputs byte for byte (B33):
 *   the codes (2 aligned, 3 Talairach, 4 MNI stay), and a template with qform_code = sform_code = 0 keeps both 0
 *   and its pixdim (nifti1.h "METHOD 1"), so nibabel/FSL read the output with the input's fallback affine and ITK
 *   with origin 0 and identity, each as it reads the input (codes 1 with ITK's reading moved the mask in nibabel).
 *   A NIfTI-2 template gives a NIfTI-2 file (540-byte header, float64 transforms, the input's header fields), so
 *   the transforms keep their float64 values; nnU-Net's writers give NIfTI-1 here (NIfTI-2 is read by nibabel,
 *   ITK 5, FSL and our reader).
 *
 * Throws `DataError` naming the file for a shape/data mismatch or values that do not fit the dtype.
 */
export async function writeNifti(path: string, image: MedicalImage, opts: WriteOptions = {}): Promise<void> {
  const bytes = encodeNifti(image, opts, path);
  const payload = path.toLowerCase().endsWith('.gz') ? await gzipAsync(bytes) : bytes;
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    await writeFile(tmp, payload);
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    const mapped = writeError(e, path);
    if (mapped !== e) throw mapped;
    throw new DataError(`cannot write ${path} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, {
      file: path,
      hint: 'check that the folder exists and is writable',
      cause: e,
    });
  }
}
