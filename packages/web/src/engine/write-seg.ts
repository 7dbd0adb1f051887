import type { MedicalImage } from '@nnunet-ts/core';
import { encodeNifti } from '@nnunet-ts/io-nifti';
import { writeItkMemory } from '@nnunet-ts/io-itk/browser';

/** gzip in the browser (`CompressionStream`). */
export async function gzipBytes(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new CompressionStream('gzip'));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** The format of the downloaded segmentation: the input's. */
export type SegmentationFormat = { format: 'nifti'; gz: boolean } | { format: 'nrrd' | 'meta'; itkPipelinesUrl: string };

/**
 * The label map `[z, y, x]` in the input's format with the input's geometry: NIfTI through
 * {@link encodeSegmentation}; NRRD (`.nrrd`) and MetaImage (`.mha`, also for a `.mhd` + `.raw` input: the same
 * format in one file) through io-itk's `writeItkMemory` (itk-wasm, compressed), as `nnunet-ts predict` writes these
 * endings with the `itk` writer: shape, spacing, origin and direction (LPS) of `like`, 2D for a 2D input (its `header`
 * as template); uint8 when every label fits,
 * else int16. Returns the file's bytes and its ending.
 */
export async function encodeSegmentationAs(seg: Int16Array, like: MedicalImage, out: SegmentationFormat): Promise<{ bytes: Uint8Array; ending: string }> {
  if (out.format === 'nifti') return { bytes: await encodeSegmentation(seg, like, out.gz), ending: out.gz ? '.nii.gz' : '.nii' };
  let max = 0;
  for (let i = 0; i < seg.length; i++) if (seg[i]! > max) max = seg[i]!;
  const [, z, y, x] = like.shape;
  const ending = out.format === 'nrrd' ? '.nrrd' : '.mha';
  const image = { data: seg, shape: [1, z, y, x] as [number, number, number, number], spacing: like.spacing, origin: like.origin, direction: like.direction };
  const bytes = await writeItkMemory(image, `segmentation${ending}`, { pipelinesUrl: out.itkPipelinesUrl, dtype: max < 256 ? 'uint8' : 'int16', template: like.header });
  return { bytes, ending };
}

/**
 * The label map `[z, y, x]` as a NIfTI-1 file with the input's header and geometry (io-nifti's `encodeNifti`,
 * the writer `nnunet-ts predict` uses, with the input's header as template): uint8 when every label fits, else
 * int16, as `writeSegmentation` in Node. gzip-compressed when `gz`.
 */
export async function encodeSegmentation(seg: Int16Array, like: MedicalImage, gz: boolean): Promise<Uint8Array> {
  let max = 0;
  for (let i = 0; i < seg.length; i++) if (seg[i]! > max) max = seg[i]!;
  const [, z, y, x] = like.shape;
  const bytes = encodeNifti(
    { data: seg, shape: [1, z, y, x], spacing: like.spacing, origin: like.origin, direction: like.direction },
    { template: like.header, dtype: max < 256 ? 'uint8' : 'int16' },
    'segmentation',
  );
  return gz ? gzipBytes(bytes) : bytes;
}
