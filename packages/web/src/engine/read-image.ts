import { DataError, type MedicalImage } from '@nnunet-ts/core';
import { decodeNifti, isGzip, sizeofHdr, type NiftiImage } from '@nnunet-ts/io-nifti';
import { groupDetachedFiles, itkMemoryFormat, readItkMemory, readItkMemoryShape, sniffItkMemory } from '@nnunet-ts/io-itk/browser';

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

/** The formats the page reads, for its messages. */
export const PAGE_FORMATS = 'NIfTI (.nii, .nii.gz), NRRD (.nrrd, .nhdr + data file) or MetaImage (.mha, .mhd + .raw)';

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
    const ext = /\.(dcm|png|jpe?g|tiff?)$/i.exec(file.name)?.[1];
    throw new DataError(
      `${file.name} is not an image the page reads${ext ? ` (.${ext} files are read by \`nnunet-ts predict\` in Node)` : ' (no NIfTI, NRRD or MetaImage header)'}`,
      { file: file.name, hint: `pick ${PAGE_FORMATS} files (convert other formats with ITK or \`nnunet-ts convert-msd\`)` },
    );
  }
  return decodeNifti(bytes, file.name, { maxBytes });
}

/** Options of {@link readImageFiles}. */
export interface ReadImagesOptions {
  /** Largest decompressed NIfTI file, bytes. */
  maxBytes: number;
  /** Largest image, voxels per channel (NRRD / MetaImage: checked on the header, before the voxels are decoded). */
  maxVoxels: number;
  /** URL of the folder with itk-wasm's NRRD and MetaImage pipelines (the site's `itk/`). */
  itkPipelinesUrl: string;
}

/** One image read from the picked files: the image and the file it is named after (the header for a pair). */
export interface PickedImage {
  image: MedicalImage;
  file: InputFile;
  format: 'nifti' | 'nrrd' | 'meta';
}

/**
 * Reads the picked files as images: NIfTI through io-nifti (`readImageFile`), NRRD and MetaImage through io-itk's
 * itk-wasm pipelines (`readItkMemory`, the same conversion as `nnunet-ts predict`'s `itk` reader: `[c, z, y, x]`,
 * spacing `[sz, sy, sx]`, LPS origin and direction). A detached header (`.mhd`, `.nhdr`) takes the data file it names
 * from the picked files. Files are recognised by their content (NRRD magic, MetaImage keys, NIfTI header), else by
 * their ending.
 * @throws DataError naming the file: an unreadable or unknown file, a header without its data file (or data
 * without its header), an image over the memory bound.
 */
export async function readImageFiles(files: InputFile[], opts: ReadImagesOptions): Promise<PickedImage[]> {
  const out: PickedImage[] = [];
  for (const { image: file, data } of groupDetachedFiles(files)) {
    const format = sniffItkMemory(file.bytes) ?? (isGzip(file.bytes) ? undefined : itkMemoryFormat(file.name)?.format);
    if (!format) {
      out.push({ image: await readImageFile(file, opts.maxBytes), file, format: 'nifti' });
      continue;
    }
    const itk = { pipelinesUrl: opts.itkPipelinesUrl };
    const [, z, y, x] = await readItkMemoryShape(file, data, itk);
    if (x * y * z > opts.maxVoxels) {
      throw new DataError(`${file.name} has ${x}x${y}x${z} = ${x * y * z} voxels; the page's memory bound is ${opts.maxVoxels} voxels per channel`, {
        file: file.name,
        hint: 'crop or downsample the image, or use `nnunet-ts predict` in Node',
      });
    }
    out.push({ image: await readItkMemory(file, data, itk), file, format });
  }
  return out;
}
