/**
 * @nnunet-ts/io-nifti: NIfTI-1/NIfTI-2 reader and NIfTI-1 writer plugins (registry name `nifti`).
 * Nothing is registered at import time; call `registerDefaults(registry)` or use `plugin`.
 */
import type { ImageReader, ImageWriter, PluginModule, Registry } from '@nnunet-ts/core';
import { isGzip, sizeofHdr } from './header.js';
import { readNifti, readNiftiInfo } from './reader.js';
import { writeNifti } from './writer.js';

export { readNifti, readNiftiInfo, applyScaling, decodeNifti, DEFAULT_MAX_BYTES, type ReadNiftiOptions, type NiftiImage, type NiftiInfo } from './reader.js';
export { writeNifti, encodeNifti, dtypeOf } from './writer.js';
export { parseHeader, datatypeInfo, effectiveDims, isGzip, sizeofHdr, type NiftiHeader } from './header.js';
export {
  niftiGeometry,
  geometryToNifti,
  quaternToMatrix,
  matrixToQuatern,
  nearestOrthonormal,
  orthonormalityError,
  type NiftiGeometry,
  type NiftiTransform,
} from './geometry.js';

/**
 * Reader plugin `nifti` for `.nii` / `.nii.gz`. `sniff` accepts gzip data (magic 1f 8b) and raw NIfTI headers
 * (sizeof_hdr 348 or 540, either endianness). `readInfo` decompresses the header only (`readNiftiInfo`).
 */
export const niftiReader: ImageReader = {
  name: 'nifti',
  extensions: ['.nii', '.nii.gz'],
  sniff(head: Uint8Array): boolean {
    return isGzip(head) || sizeofHdr(head) !== 0;
  },
  read: (path) => readNifti(path),
  readInfo: (path) => readNiftiInfo(path),
};

/** Writer plugin `nifti` for `.nii` / `.nii.gz` (NIfTI-1, gzip for `.gz`). */
export const niftiWriter: ImageWriter = {
  name: 'nifti',
  extensions: ['.nii', '.nii.gz'],
  write: (path, image, opts) => writeNifti(path, image, opts),
};

/** Register the `nifti` reader and writer. Throws `PluginError` if already registered, unless `override`. */
export function registerDefaults(registry: Registry, opts: { override?: boolean } = {}): void {
  registry.register('reader', niftiReader, opts);
  registry.register('writer', niftiWriter, opts);
}

/** Plugin module for `--plugin @nnunet-ts/io-nifti`. */
export const plugin: PluginModule = { name: '@nnunet-ts/io-nifti', register: registerDefaults };
