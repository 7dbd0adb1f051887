/**
 * @nnunet-ts/io-nifti for browsers and bundlers (the `browser` condition of the package's `.` export): NIfTI
 * decoding and encoding on bytes in memory, from the same sources as the Node entry, without the file reader and
 * writer plugins (which need `node:fs`). gzip is the caller's (a browser's `DecompressionStream`).
 */
export { decodeNifti, applyScaling, DEFAULT_MAX_BYTES, type NiftiImage } from './decode.js';
export { encodeNifti, dtypeOf } from './encode.js';
export { parseHeader, datatypeInfo, effectiveDims, isGzip, sizeofHdr, type NiftiHeader } from './header.js';
export { niftiGeometry, geometryToNifti, type NiftiGeometry, type NiftiTransform } from './geometry.js';
