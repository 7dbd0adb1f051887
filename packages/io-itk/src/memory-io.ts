import { InterfaceTypes, runPipeline } from 'itk-wasm';
import { DataError, type DType, type MedicalImage } from '@nnunet-ts/core';
import { imageToItk, itkToImage, type ItkImage } from './convert.js';
import { itkMemoryFormat, sniffItkMemory, type MemoryFile } from './detached.js';

/**
 * NRRD and MetaImage on bytes in memory, for browsers: itk-wasm's read and write pipelines of @itk-wasm/image-io
 * (`nrrd-read-image`, `meta-read-image`, `nrrd-write-image`, `meta-write-image`) run on the calling thread
 * (`runPipeline` with `webWorker: false`; a page calls this from its own worker), loaded from `pipelinesUrl` (the
 * site serves the pipelines' `.js` and `.wasm.zst` files; nothing is fetched from a CDN). The conversion to and from
 * the core image model is `itkToImage` / `imageToItk`, the same code as `readItk` / `writeItk` in Node.
 */

/** Options of the in-memory reader and writer. */
export interface ItkMemoryOptions {
  /** URL of the folder holding the pipelines (`nrrd-read-image.js`, `nrrd-read-image.wasm.zst`, ...). */
  pipelinesUrl: string;
}

/** itk-wasm's messages are long C++ traces: the first line that says something, shortened. */
function itkMessage(e: unknown, stderr = ''): string {
  const text = [stderr, e instanceof Error ? e.message : typeof e === 'number' ? `wasm exception ${e}` : String(e ?? '')].join('\n');
  const line = text.split('\n').map((l) => l.trim()).find((l) => l && !/^(stdout|stderr):?$/i.test(l) && !l.startsWith('Exception while'));
  return (line ?? 'the file is not in a format this reader understands').replace(/^.*Description:\s*/, '').slice(0, 200);
}

/** Runs the format's read pipeline on the files; `informationOnly` reads the header alone (no voxels). */
async function runRead(image: MemoryFile, data: MemoryFile[], opts: ItkMemoryOptions, informationOnly: boolean): Promise<ItkImage> {
  const format = itkMemoryFormat(image.name)?.format ?? sniffItkMemory(image.bytes);
  if (!format) throw new DataError(`${image.name} is neither NRRD nor MetaImage`, { file: image.name, hint: 'pick a .nrrd, .nhdr, .mha or .mhd file' });
  const inputs = [image, ...data].map((f) => ({ type: InterfaceTypes.BinaryFile, data: { path: f.name.replace(/^.*[\\/]/, ''), data: f.bytes } }));
  const args = [inputs[0]!.data.path, '0', '1', '--memory-io', ...(informationOnly ? ['--information-only'] : [])];
  const hint = 'check that the file is a complete NRRD or MetaImage image';
  let result: Awaited<ReturnType<typeof runPipeline>>;
  try {
    result = await runPipeline(`${format}-read-image`, args, [{ type: InterfaceTypes.JsonCompatible }, { type: InterfaceTypes.Image }], inputs, {
      pipelineBaseUrl: opts.pipelinesUrl,
      webWorker: false,
    });
  } catch (e) {
    throw new DataError(`itk-wasm could not read ${image.name} (${itkMessage(e)})`, { file: image.name, hint, cause: e });
  }
  if (result.returnValue !== 0 || result.outputs[0]?.data !== true) {
    throw new DataError(`itk-wasm could not read ${image.name} (${itkMessage(undefined, result.stderr)})`, { file: image.name, hint });
  }
  return result.outputs[1]!.data as ItkImage;
}

/**
 * The shape `[c, z, y, x]` of a NRRD or MetaImage image from its header alone (itk-wasm's `--information-only`), to
 * check a memory bound before the voxels are decoded. Same mapping of dimensions and components as `itkToImage`.
 * @throws DataError naming the file when ITK cannot read the header.
 */
export async function readItkMemoryShape(image: MemoryFile, data: MemoryFile[], opts: ItkMemoryOptions): Promise<[number, number, number, number]> {
  const img = await runRead(image, data, opts, true);
  const D = img.imageType.dimension;
  const [x = 1, y = 1, z = 1, t = 1] = img.size;
  return [(D === 4 ? t : 1) * img.imageType.components, D >= 3 ? z : 1, y, x];
}

/**
 * Reads a NRRD (`.nrrd`, or `.nhdr` with its data file in `data`) or MetaImage (`.mha`, or `.mhd` with its `.raw` /
 * `.zraw`) image from memory through itk-wasm, and converts it with `itkToImage`: `[c, z, y, x]`, spacing
 * `[sz, sy, sx]` mm, origin and direction in LPS as ITK gives them (the same result as `readItk` on the files).
 * @throws DataError naming the file when ITK cannot read it or its geometry is invalid.
 */
export async function readItkMemory(image: MemoryFile, data: MemoryFile[], opts: ItkMemoryOptions): Promise<MedicalImage> {
  return itkToImage(await runRead(image, data, opts, false), image.name);
}

/**
 * Writes `image` as one NRRD (`.nrrd`) or MetaImage (`.mha`) file in memory through itk-wasm (`imageToItk`, as
 * `writeItk` in Node; compressed, as `writeItk` writes these formats). `dtype` casts the voxels first; `template`
 * (the input's `header`) keeps a 2D input's dimensionality (`templateDimension`).
 * @throws DataError naming `name` for another ending or when ITK cannot write the image.
 */
export async function writeItkMemory(image: MedicalImage, name: string, opts: ItkMemoryOptions & { dtype?: DType; template?: unknown }): Promise<Uint8Array> {
  const fmt = itkMemoryFormat(name);
  if (!fmt || fmt.detached) throw new DataError(`${name}: the in-memory writer writes one .nrrd or .mha file`, { file: name, hint: 'name the output .nrrd or .mha' });
  const itkImage = imageToItk(image, name, opts.dtype, opts.template);
  let result: Awaited<ReturnType<typeof runPipeline>>;
  try {
    result = await runPipeline(
      `${fmt.format}-write-image`,
      ['0', '0', name, '--memory-io', '--use-compression'],
      [{ type: InterfaceTypes.JsonCompatible }, { type: InterfaceTypes.BinaryFile, data: { path: name, data: new Uint8Array() } }],
      [{ type: InterfaceTypes.Image, data: itkImage }],
      { pipelineBaseUrl: opts.pipelinesUrl, webWorker: false },
    );
  } catch (e) {
    throw new DataError(`itk-wasm could not write ${name} (${itkMessage(e)})`, { file: name, cause: e });
  }
  if (result.returnValue !== 0 || result.outputs[0]?.data !== true) throw new DataError(`itk-wasm could not write ${name} (${itkMessage(undefined, result.stderr)})`, { file: name });
  return (result.outputs[1]!.data as { data: Uint8Array }).data;
}
