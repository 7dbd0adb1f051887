import type { MedicalImage } from '@nnunet-ts/core';
import { encodeNifti } from '@nnunet-ts/io-nifti';

/** gzip in the browser (`CompressionStream`). */
export async function gzipBytes(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new CompressionStream('gzip'));
  return new Uint8Array(await new Response(stream).arrayBuffer());
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
