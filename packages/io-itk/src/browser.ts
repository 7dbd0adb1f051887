/**
 * @nnunet-ts/io-itk for browsers and bundlers (the `browser` condition of the package's `.` export): NRRD and
 * MetaImage read and written on bytes in memory through itk-wasm's pipelines (`memory-io.ts`), and the conversion to
 * and from the core image model (`convert.ts`, the same code as the Node reader and writer). The file reader and
 * writer plugins, DICOM series and the pipeline cache need `node:fs` and stay in the Node entry.
 */
export { itkToImage, imageToItk, castData, dtypeOfArray, templateDimension, type ItkImage, type ItkHeader } from './convert.js';
export { readItkMemory, readItkMemoryShape, writeItkMemory, type ItkMemoryOptions } from './memory-io.js';
export { groupDetachedFiles, detachedDataFile, itkMemoryFormat, sniffItkMemory, ITK_MEMORY_FORMATS, type MemoryFile } from './detached.js';
