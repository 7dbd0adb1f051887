import { DataError, compareGrids, spatialSize, type MedicalImage } from '@nnunet-ts/core';

/** What the input check needs of the model. */
export interface InputSpec {
  /** Files per case = image channels (`channel_names` of dataset.json). */
  inputChannels: number;
  /** Channel names in order (`{"0": "MRI"}` -> `['MRI']`). */
  channelNames: string[];
  /** Largest image accepted, voxels per channel (the page's memory bound). */
  maxVoxels: number;
}

/**
 * The files of one case, ordered by channel: nnU-Net's `CASE_0000`, `CASE_0001`, ... convention (the channel is
 * the 4-digit suffix), else the order of the names.
 */
export function orderChannelFiles<T extends { name: string }>(files: T[]): T[] {
  const key = (n: string): string => /_(\d{4})\.[^/]*$/.exec(n)?.[1] ?? n;
  return [...files].sort((a, b) => (key(a.name) < key(b.name) ? -1 : key(a.name) > key(b.name) ? 1 : 0));
}

const describe = (s: InputSpec): string =>
  `${s.inputChannels} channel${s.inputChannels > 1 ? 's' : ''} (${s.channelNames.join(', ')}), one 3D file per channel`;

/**
 * One case from the picked images (already ordered by channel): one 3D file per channel, or one 4D file holding
 * every channel (the MSD layout). All files must share one grid (shape, spacing, origin, direction), as
 * `nnunet-ts validate` requires. Returns the channels stacked `[c, z, y, x]` (float32 when several files) with the
 * first file's geometry and header (the segmentation is written with them).
 * @throws DataError with a message for the page's status: no file, wrong file count, a 4D file where one 3D file
 * per channel is expected, channels on different grids, an image over the memory bound.
 */
export function caseFromImages(images: MedicalImage[], spec: InputSpec): MedicalImage {
  if (!images.length) throw new DataError('no image chosen', { hint: `pick ${describe(spec)}` });
  const first = images[0]!;
  const name = (im: MedicalImage): string => im.source ?? 'image';
  if (images.length === 1 && first.shape[0] === spec.inputChannels) return checkSize(first, spec);
  if (images.length === 1 && first.shape[0] > 1) {
    throw new DataError(`${name(first)} is 4D (${first.shape[0]} volumes) but the model takes ${describe(spec)}`, {
      file: name(first),
      hint: spec.inputChannels > 1 ? `a 4D file must hold exactly ${spec.inputChannels} volumes, one per channel` : 'pick a 3D image',
    });
  }
  if (images.length !== spec.inputChannels) {
    throw new DataError(`the model takes ${describe(spec)}; got ${images.length} file${images.length > 1 ? 's' : ''}`, {
      hint: spec.inputChannels > 1 ? 'pick every channel file of the case (CASE_0000, CASE_0001, ...) together' : 'pick one image',
    });
  }
  for (const im of images) {
    if (im.shape[0] !== 1) {
      throw new DataError(`${name(im)} is 4D (${im.shape[0]} volumes) but the model takes ${describe(spec)}`, {
        file: name(im),
        hint: 'pick a 3D image (split a 4D series into one file per channel)',
      });
    }
    const diff = compareGrids({ ...first, shape: first.shape.slice(1) }, { ...im, shape: im.shape.slice(1) }, undefined, [name(first), name(im)]);
    if (diff.length) throw new DataError(`the channel files are on different grids: ${diff.join('; ')}`, { file: name(im), hint: 'resample every channel onto one grid first' });
  }
  if (images.length === 1) return checkSize(first, spec);
  const n = spatialSize(first.shape);
  const data = new Float32Array(n * images.length);
  images.forEach((im, c) => data.set(im.data, c * n));
  return checkSize({ ...first, data, shape: [images.length, first.shape[1], first.shape[2], first.shape[3]] }, spec);
}

function checkSize(im: MedicalImage, spec: InputSpec): MedicalImage {
  const n = spatialSize(im.shape);
  if (n > spec.maxVoxels) {
    const [, z, y, x] = im.shape;
    throw new DataError(`${im.source ?? 'the image'} has ${x}x${y}x${z} = ${n} voxels; the page's memory bound is ${spec.maxVoxels} voxels per channel`, {
      file: im.source,
      hint: 'crop or downsample the image, or use `nnunet-ts predict` in Node',
    });
  }
  return im;
}
