/**
 * @nnunet-ts/io-itk: reader/writer plugins (registry name `itk`) over itk-wasm's @itk-wasm/image-io.
 * Nothing is registered at import time; call `registerDefaults(registry)` or use `plugin`.
 */
import type { ImageReader, ImageWriter, PluginModule, Registry } from '@nnunet-ts/core';
import { readItk } from './reader.js';
import { writeItk } from './writer.js';

export { readItk, readDicomSeries, type DicomSeriesOptions } from './reader.js';
export { writeItk } from './writer.js';
export { itkToImage, imageToItk, castData, dtypeOfArray, templateDimension, type ItkImage, type ItkHeader } from './convert.js';

/**
 * Endings the `itk` plugins claim for selection by extension. NIfTI is deliberately absent so that `.nii`/`.nii.gz`
 * go to io-nifti's `nifti` plugins; `registry.get('reader', 'itk').read('x.nii.gz')` still reads NIfTI through ITK
 * when asked for by name.
 */
export const ITK_EXTENSIONS = ['.nrrd', '.nhdr', '.mha', '.mhd', '.dcm'];

const ascii = (b: Uint8Array, from: number, n: number): string => String.fromCharCode(...b.subarray(from, from + n));

/**
 * Reader plugin `itk`: NRRD, MetaImage, DICOM (single file, or a folder as a series), and NIfTI when chosen by name.
 * `sniff` recognises "NRRD" magic, MetaImage key=value headers and the DICOM "DICM" preamble marker (byte 128).
 */
export const itkReader: ImageReader = {
  name: 'itk',
  extensions: ITK_EXTENSIONS,
  sniff(head: Uint8Array): boolean {
    if (ascii(head, 0, 4) === 'NRRD') return true;
    if (/^(ObjectType|NDims|Comment|TransformType)\s*=/.test(ascii(head, 0, 16))) return true;
    return head.length >= 132 && ascii(head, 128, 4) === 'DICM';
  },
  read: (path) => readItk(path),
};

/** Writer plugin `itk`: .nrrd, .nhdr, .mha, .mhd (and .nii/.nii.gz when chosen by name). */
export const itkWriter: ImageWriter = {
  name: 'itk',
  extensions: ['.nrrd', '.nhdr', '.mha', '.mhd'],
  write: (path, image, opts) => writeItk(path, image, opts),
};

/** Register the `itk` reader and writer. Throws `PluginError` if already registered, unless `override`. */
export function registerDefaults(registry: Registry, opts: { override?: boolean } = {}): void {
  registry.register('reader', itkReader, opts);
  registry.register('writer', itkWriter, opts);
}

/** Plugin module for `--plugin @nnunet-ts/io-itk`. */
export const plugin: PluginModule = { name: '@nnunet-ts/io-itk', register: registerDefaults };
