import { DataError } from '@nnunet-ts/core';
import { decodeNifti, isGzip, sizeofHdr, type NiftiImage } from '@nnunet-ts/io-nifti';

/** A file the user picked: its name and bytes. */
export interface InputFile {
  name: string;
  bytes: Uint8Array;
}

/**
 * gunzip in the browser (`DecompressionStream`), refusing to produce more than `maxBytes` (checked while
 * decompressing, so a large or hostile file stops early instead of exhausting the tab's memory).
 * @throws DataError naming the file: corrupt or truncated gzip data, or more than `maxBytes` decompressed.
 */
export async function gunzipCapped(bytes: Uint8Array, maxBytes: number, name: string): Promise<Uint8Array> {
  const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new DecompressionStream('gzip'));
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.length;
      if (total > maxBytes) {
        await reader.cancel();
        throw new DataError(`${name} decompresses to more than ${(maxBytes / 2 ** 20).toFixed(0)} MiB, the page's limit`, {
          file: name,
          hint: 'crop or downsample the image, or run `nnunet-ts predict` in Node for images this large',
        });
      }
      chunks.push(value);
    }
  } catch (e) {
    if (e instanceof DataError) throw e;
    throw new DataError(`${name}: corrupt or truncated gzip data (${(e as Error).message})`, { file: name, hint: 're-export or re-download the file' });
  }
  const out = new Uint8Array(total);
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.length;
  }
  return out;
}

/**
 * Reads one picked file as a NIfTI-1/2 image (`.nii`, `.nii.gz`; the content is sniffed, as the Node reader does):
 * `data` `[c, z, y, x]`, spacing `[sz, sy, sx]` mm, origin/direction LPS (io-nifti's `decodeNifti`, the same code
 * as `readNifti`). `maxBytes` bounds the decompressed file.
 * @throws DataError naming the file when it is neither gzip nor NIfTI, or is corrupt, truncated or too large.
 */
export async function readImageFile(file: InputFile, maxBytes: number): Promise<NiftiImage> {
  let bytes = file.bytes;
  if (bytes.length >= 2 && isGzip(bytes)) bytes = await gunzipCapped(bytes, maxBytes, file.name);
  if (bytes.length < 4 || sizeofHdr(bytes) === 0) {
    const ext = /\.(nrrd|nhdr|mha|mhd|dcm|png|jpe?g)$/i.exec(file.name)?.[1];
    throw new DataError(
      `${file.name} is not a NIfTI image${ext ? ` (.${ext} files are read by \`nnunet-ts predict\` in Node; the page reads NIfTI)` : ' (no NIfTI header, not gzip data)'}`,
      { file: file.name, hint: 'pick .nii or .nii.gz files (convert other formats with `nnunet-ts convert-msd` or ITK)' },
    );
  }
  return decodeNifti(bytes, file.name, { maxBytes });
}
