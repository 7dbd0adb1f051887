import { createReadStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { createGunzip } from 'node:zlib';
import { DataError, type MedicalImage, type VoxelArray } from '@nnunet-ts/core';
import { datatypeInfo, effectiveDims, isGzip, parseHeader, sizeofHdr, type NiftiHeader } from './header.js';
import { niftiGeometry } from './geometry.js';

/** Options for `readNifti`. */
export interface ReadNiftiOptions {
  /**
   * Largest buffer (bytes) the reader may allocate for one image: raw voxels plus the scaled output when
   * scl_slope/scl_inter apply. Default `DEFAULT_MAX_BYTES`, or `$NNUNET_MAX_IMAGE_BYTES` when set.
   */
  maxBytes?: number;
}

/** 2 GiB: the practical typed-array / wasm heap ceiling the pipeline is built for (bad-inputs B27). */
export const DEFAULT_MAX_BYTES = 2 * 1024 ** 3;

/** A NIfTI image: the core image model plus the parsed header (for the writer's `template`). */
export interface NiftiImage extends MedicalImage {
  header: NiftiHeader;
}

const fmtBytes = (n: number): string =>
  n >= 1024 ** 3 ? `${(n / 1024 ** 3).toFixed(2)} GiB` : n >= 1024 ** 2 ? `${(n / 1024 ** 2).toFixed(1)} MiB` : `${n} B`;

/** Layout decided from the header before any voxel is read. */
interface Layout {
  header: NiftiHeader;
  /** First voxel byte in the (decompressed) stream. */
  offset: number;
  /** Voxel bytes to read. */
  nbytes: number;
  shape: [number, number, number, number];
  dtype: { name: string; bytes: number };
  scaled: boolean;
  warnings: string[];
}

function layoutOf(header: NiftiHeader, file: string, maxBytes: number): Layout {
  const warnings: string[] = [];
  const dtype = datatypeInfo(header.datatype, file);
  const [nx, ny, nz, nt, nu, nv, nw] = effectiveDims(header, file) as [number, number, number, number, number, number, number];
  if (nv > 1 || nw > 1) {
    throw new DataError(`NIfTI dims 6/7 (${nv}, ${nw}) > 1 are not supported`, {
      file,
      hint: 'store one 3D volume per channel (_0000, _0001, ...) or a 4D [x,y,z,channel] image',
    });
  }
  if (nt > 1 && nu > 1) {
    throw new DataError(`NIfTI image has both a 4th (time, ${nt}) and a 5th (component, ${nu}) dimension`, {
      file,
      hint: 'channels must be in dim[4] or (with dim[4] = 1) in dim[5]; split the image into one file per channel',
    });
  }
  for (let i = 1; i <= header.dim[0]!; i++) {
    if (!(header.dim[i]! > 0)) warnings.push(`dim[${i}] = ${header.dim[i]} (must be >= 1 for i <= dim[0] = ${header.dim[0]}); treated as 1, as nifti1_io does`);
  }
  if (header.bitpix !== dtype.bytes * 8) {
    warnings.push(`bitpix ${header.bitpix} does not match datatype ${dtype.name}; datatype used`);
  }
  const c = nt * nu;
  const nvox = nx * ny * nz * c;
  const nbytes = nvox * dtype.bytes;
  const slope = header.sclSlope;
  const inter = Number.isFinite(header.sclInter) ? header.sclInter : 0;
  const scaled = Number.isFinite(slope) && slope !== 0 && (slope !== 1 || inter !== 0);
  const outBytes = scaled ? nvox * (dtype.bytes >= 4 ? 8 : 4) : 0;
  const need = nbytes + outBytes;
  if (!Number.isSafeInteger(need) || need > maxBytes) {
    throw new DataError(
      `image needs ${need} bytes (${fmtBytes(need)}: ${nx}x${ny}x${nz}${c > 1 ? `x${c}` : ''} ${dtype.name}` +
        `${scaled ? ' plus the scaled copy' : ''}) but the limit is ${maxBytes} bytes (${fmtBytes(maxBytes)})`,
      {
        file,
        hint: 'crop or downsample the image, or raise the limit with NNUNET_MAX_IMAGE_BYTES if the machine has the memory',
      },
    );
  }
  const minOffset = header.version === 1 ? 352 : 544;
  let offset = header.voxOffset;
  if (!Number.isFinite(offset) || offset < minOffset) {
    warnings.push(`vox_offset ${offset} is below ${minOffset}; ${minOffset} used`);
    offset = minOffset;
  }
  offset = Math.floor(offset);
  return { header, offset, nbytes, shape: [c, nz, ny, nx], dtype, scaled, warnings };
}

/** Typed array of the stored type over `bytes` (byte-swapped in place when the file's endianness differs). */
function typedView(bytes: Uint8Array, dtype: string, littleEndian: boolean): VoxelArray {
  const size = { uint8: 1, int8: 1, int16: 2, uint16: 2, int32: 4, uint32: 4, float32: 4, float64: 8 }[dtype]!;
  const hostLE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
  if (size > 1 && littleEndian !== hostLE) {
    for (let i = 0; i < bytes.length; i += size) {
      for (let a = i, b = i + size - 1; a < b; a++, b--) {
        const t = bytes[a]!;
        bytes[a] = bytes[b]!;
        bytes[b] = t;
      }
    }
  }
  const { buffer, byteOffset, byteLength } = bytes;
  switch (dtype) {
    case 'uint8':
      return new Uint8Array(buffer, byteOffset, byteLength);
    case 'int8':
      return new Int8Array(buffer, byteOffset, byteLength);
    case 'int16':
      return new Int16Array(buffer, byteOffset, byteLength / 2);
    case 'uint16':
      return new Uint16Array(buffer, byteOffset, byteLength / 2);
    case 'int32':
      return new Int32Array(buffer, byteOffset, byteLength / 4);
    case 'uint32':
      return new Uint32Array(buffer, byteOffset, byteLength / 4);
    case 'float32':
      return new Float32Array(buffer, byteOffset, byteLength / 4);
    default:
      return new Float64Array(buffer, byteOffset, byteLength / 8);
  }
}

/**
 * Apply scl_slope/scl_inter (NIfTI-1 standard: value = scl_slope * stored + scl_inter; slope 0 or non-finite means no
 * scaling; slope 1 and intercept 0 keep the stored type). Scaled output is Float32, or Float64 when the stored type is
 * 32/64-bit (int32, uint32, float64) and some scaled value is not exactly representable in Float32. Computed in
 * Float64, so unsigned storage with a negative intercept decodes correctly (bad-inputs B13).
 */
export function applyScaling(stored: VoxelArray, slope: number, inter: number, dtype: string): VoxelArray {
  const b = Number.isFinite(inter) ? inter : 0;
  if (!Number.isFinite(slope) || slope === 0 || (slope === 1 && b === 0)) return stored;
  const n = stored.length;
  if (dtype === 'int32' || dtype === 'uint32' || dtype === 'float64') {
    let exact32 = true;
    for (let i = 0; i < n; i++) {
      const v = stored[i]! * slope + b;
      if (Math.fround(v) !== v && Number.isFinite(v)) {
        exact32 = false;
        break;
      }
    }
    if (!exact32) {
      const out = new Float64Array(n);
      for (let i = 0; i < n; i++) out[i] = stored[i]! * slope + b;
      return out;
    }
  }
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = stored[i]! * slope + b;
  return out;
}

/** Read the whole uncompressed file region we need. */
async function readRaw(path: string, maxBytes: number, warnings: string[], headerOnly = false): Promise<{ layout: Layout; voxels: Uint8Array }> {
  const fh = await open(path, 'r');
  try {
    const size = (await fh.stat()).size;
    const head = new Uint8Array(Math.min(size, 540));
    await fh.read(head, 0, head.length, 0);
    const header0 = parseHeader(head, path);
    // Re-read header + extensions (for the writer's template).
    const rawLen = Math.min(size, Math.max(header0.version === 1 ? 348 : 540, Math.floor(header0.voxOffset) || 0));
    const rawBytes = new Uint8Array(rawLen);
    await fh.read(rawBytes, 0, rawLen, 0);
    const header = parseHeader(rawBytes, path);
    const layout = layoutOf(header, path, maxBytes);
    warnings.push(...layout.warnings);
    if (headerOnly) return { layout, voxels: new Uint8Array(0) };
    if (!Number.isSafeInteger(layout.offset) || layout.offset + layout.nbytes > size) {
      const avail = Number.isSafeInteger(layout.offset) ? Math.max(0, size - layout.offset) : 0;
      throw new DataError(`truncated NIfTI file ${path} (got ${avail} of ${layout.nbytes} expected voxel bytes)${avail === 0 ? `; vox_offset ${header.voxOffset} is at or beyond the end of the ${size}-byte file` : ''}`, {
        file: path,
        hint: 're-copy or re-export the file; if vox_offset is corrupt, fix it (352 for a NIfTI-1 file without extensions)',
      });
    }
    const voxels = new Uint8Array(layout.nbytes);
    let got = 0;
    while (got < layout.nbytes) {
      const { bytesRead } = await fh.read(voxels, got, layout.nbytes - got, layout.offset + got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    if (got < layout.nbytes) {
      throw new DataError(`truncated NIfTI file ${path} (got ${got} of ${layout.nbytes} expected voxel bytes)`, {
        file: path,
        hint: 're-copy or re-export the file; it is shorter than its header says',
      });
    }
    return { layout, voxels };
  } finally {
    await fh.close();
  }
}

/**
 * Incremental state of `readGzip`: decompressed bytes are collected until the header (and `vox_offset`) is complete,
 * then the voxel bytes go straight into one preallocated buffer.
 */
class GzipNiftiSink {
  private prefix: Buffer[] = [];
  prefixLen = 0;
  layout: Layout | null = null;
  private voxels: Uint8Array | null = null;
  /** Voxel bytes received. */
  got = 0;
  /** Decompressed stream position. */
  private pos = 0;

  constructor(
    private readonly path: string,
    private readonly maxBytes: number,
    private readonly warnings: string[],
    private readonly headerOnly: boolean,
  ) {}

  truncated(): DataError {
    return new DataError(
      this.layout
        ? `truncated gzip stream in ${this.path} (got ${this.got} of ${this.layout.nbytes} expected voxel bytes)`
        : `truncated gzip stream in ${this.path} (got ${this.prefixLen} bytes, the NIfTI header is incomplete)`,
      { file: this.path, hint: 're-download or re-export the file; the compressed data ends early' },
    );
  }

  take(chunk: Buffer): void {
    const layout = this.layout;
    if (!layout) {
      this.takeHeader(chunk);
      return;
    }
    const start = this.pos;
    this.pos += chunk.length;
    const from = Math.max(layout.offset, start);
    const to = Math.min(layout.offset + layout.nbytes, this.pos);
    if (to > from) {
      this.voxels!.set(chunk.subarray(from - start, to - start), from - layout.offset);
      this.got += to - from;
    }
  }

  private takeHeader(chunk: Buffer): void {
    const path = this.path;
    this.prefix.push(chunk);
    this.prefixLen += chunk.length;
    const all = this.prefixLen >= 4 ? Buffer.concat(this.prefix) : null;
    if (!all) return;
    const hsize = sizeofHdr(all);
    if (hsize === 0) {
      throw new DataError(`not a NIfTI file: gzip content does not start with a NIfTI header (sizeof_hdr 348/540)`, {
        file: path,
        hint: 'check that this is a gzip-compressed NIfTI image',
      });
    }
    if (all.length < hsize) return;
    const l0 = layoutOf(parseHeader(all, path), path, this.maxBytes);
    if (all.length < l0.offset) return;
    const layout = layoutOf(parseHeader(all.subarray(0, l0.offset), path), path, this.maxBytes);
    this.layout = layout;
    this.warnings.push(...layout.warnings);
    if (this.headerOnly) return;
    this.voxels = new Uint8Array(layout.nbytes);
    this.pos = 0;
    this.take(all); // replay the prefix through the voxel path
  }

  /** A zlib error: a missing trailer after complete voxels is a warning; anything else a DataError. */
  failed(e: unknown): void {
    if (e instanceof DataError) throw e;
    const code = (e as { code?: string }).code;
    const layout = this.layout;
    if (layout && this.got >= layout.nbytes && code === 'Z_BUF_ERROR') {
      this.warnings.push('gzip stream ends early after the voxel data (missing gzip trailer); data is complete');
    } else if (code === 'Z_BUF_ERROR' || (layout && this.got < layout.nbytes && code !== 'Z_DATA_ERROR')) {
      throw this.truncated();
    } else {
      throw new DataError(`corrupt gzip stream in ${this.path} (${(e as Error).message})`, {
        file: this.path,
        hint: 're-download or re-export the file',
        cause: e,
      });
    }
  }

  /** Layout and voxels once the stream ended. @throws DataError for an empty, truncated or short stream. */
  result(): { layout: Layout; voxels: Uint8Array } {
    const path = this.path;
    if (!this.layout) {
      if (this.prefixLen === 0) throw new DataError(`not a NIfTI or gzip file: ${path} decompresses to nothing`, { file: path });
      throw this.truncated();
    }
    const l = this.layout;
    if (this.got < l.nbytes) {
      throw new DataError(`truncated NIfTI data in ${path} (got ${this.got} of ${l.nbytes} expected voxel bytes)`, {
        file: path,
        hint: 'the gzip stream is complete but holds fewer voxels than the header declares; re-export the file',
      });
    }
    return { layout: l, voxels: this.voxels! };
  }
}

/** Stream-decompress a gzip file: header first, limit check, then voxels into one preallocated buffer. */
async function readGzip(path: string, maxBytes: number, warnings: string[], headerOnly = false): Promise<{ layout: Layout; voxels: Uint8Array }> {
  const gz = createGunzip();
  const src = createReadStream(path);
  src.on('error', (e) => gz.destroy(e));
  src.pipe(gz);
  const sink = new GzipNiftiSink(path, maxBytes, warnings, headerOnly);
  try {
    for await (const chunk of gz) {
      sink.take(chunk as Buffer);
      if (headerOnly && sink.layout) {
        src.destroy();
        return { layout: sink.layout, voxels: new Uint8Array(0) };
      }
    }
  } catch (e) {
    if (e instanceof DataError) src.destroy();
    sink.failed(e);
  }
  return sink.result();
}

/**
 * Read a NIfTI-1 or NIfTI-2 image (`.nii` or `.nii.gz`; the content is sniffed, so a `.nii` under a `.nii.gz` name
 * is read with a warning, bad-inputs B37).
 *
 * Output (core image model): `data` `[c, z, y, x]`, x fastest, where c = dim[4] (or dim[5] when dim[4] = 1);
 * `spacing` `[sz, sy, sx]` mm; `origin`/`direction` LPS (see `niftiGeometry` for the sform/qform rule, which follows
 * ITK). Voxels keep the stored type (uint8, int8, int16, uint16, int32, uint32, float32, float64) unless
 * scl_slope/scl_inter apply (`applyScaling`). Header extensions are skipped via vox_offset. `header` keeps the parsed
 * header and raw header bytes for `writeNifti`'s `template`.
 *
 * Throws `DataError` naming the file: missing file; "not a NIfTI or gzip file"; RGB/complex/64-bit integer datatypes;
 * more than one non-channel extra dimension; bytes needed above `maxBytes` (checked before allocating, B27);
 * "truncated gzip stream in <file> (got N of M expected voxel bytes)" (B37); a corrupt gzip stream.
 */
export async function readNifti(path: string, opts: ReadNiftiOptions = {}): Promise<NiftiImage> {
  const envLimit = Number(process.env.NNUNET_MAX_IMAGE_BYTES);
  const maxBytes = opts.maxBytes ?? (Number.isFinite(envLimit) && envLimit > 0 ? envLimit : DEFAULT_MAX_BYTES);
  return (await load(path, maxBytes, false)) as NiftiImage;
}

/** What `readNiftiInfo` returns: everything of `readNifti` but the voxels, plus the stored type and voxel bytes. */
export interface NiftiInfo extends Omit<NiftiImage, 'data'> {
  /** Stored datatype name (before scaling), e.g. 'int16'. */
  dtype: string;
  /** Voxel bytes on disk (uncompressed). */
  nbytes: number;
  /** True when scl_slope/scl_inter change the values (the data would be read as Float32/Float64). */
  scaled: boolean;
}

/**
 * Header, shape and geometry of a NIfTI file without reading the voxels (only the header and extensions are
 * decompressed). Same geometry rules and errors as `readNifti`, except that no size limit applies.
 */
export async function readNiftiInfo(path: string): Promise<NiftiInfo> {
  return (await load(path, Infinity, true)) as NiftiInfo;
}

async function load(path: string, maxBytes: number, headerOnly: boolean): Promise<NiftiImage | NiftiInfo> {
  let size: number;
  try {
    const st = await stat(path);
    if (!st.isFile()) throw new DataError(`is not a file`, { file: path, hint: 'pass the path of a .nii/.nii.gz file' });
    size = st.size;
  } catch (e) {
    if (e instanceof DataError) throw e;
    throw new DataError(`cannot open NIfTI file ${path} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, {
      file: path,
      hint: 'check the path and the file permissions',
      cause: e,
    });
  }
  const head = new Uint8Array(4);
  if (size >= 4) {
    const fh = await open(path, 'r');
    try {
      await fh.read(head, 0, 4, 0);
    } finally {
      await fh.close();
    }
  }
  const warnings: string[] = [];
  const lower = path.toLowerCase();
  let result: { layout: Layout; voxels: Uint8Array };
  if (size >= 4 && isGzip(head)) {
    if (!lower.endsWith('.gz')) warnings.push(`${path} is gzip-compressed although its name does not end in .gz`);
    result = await readGzip(path, maxBytes, warnings, headerOnly);
  } else if (size >= 4 && sizeofHdr(head) !== 0) {
    if (lower.endsWith('.gz')) {
      warnings.push(`${path} is not gzip-compressed although its name ends in .gz; read as uncompressed NIfTI`);
    }
    result = await readRaw(path, maxBytes, warnings, headerOnly);
  } else {
    throw new DataError(`not a NIfTI or gzip file: ${path}`, {
      file: path,
      hint: 'the first bytes are neither the gzip magic 1f 8b nor a NIfTI sizeof_hdr of 348/540',
    });
  }
  const { layout, voxels } = result;
  const { header } = layout;
  if (headerOnly) {
    const geo = niftiGeometry(header);
    warnings.push(...geo.warnings);
    return {
      shape: layout.shape,
      spacing: geo.spacing,
      origin: geo.origin,
      direction: geo.direction,
      source: path,
      header,
      warnings,
      dtype: layout.dtype.name,
      nbytes: layout.nbytes,
      scaled: layout.scaled,
    };
  }
  const stored = typedView(voxels, layout.dtype.name, header.littleEndian);
  const data = applyScaling(stored, header.sclSlope, header.sclInter, layout.dtype.name);
  const geo = niftiGeometry(header);
  warnings.push(...geo.warnings);
  return {
    data,
    shape: layout.shape,
    spacing: geo.spacing,
    origin: geo.origin,
    direction: geo.direction,
    source: path,
    header,
    warnings,
  };
}
