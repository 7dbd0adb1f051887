import { createReadStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { createGunzip } from 'node:zlib';
import { DataError } from '@nnunet-ts/core';
import { isGzip, parseHeader, sizeofHdr } from './header.js';
import { niftiGeometry } from './geometry.js';
import { DEFAULT_MAX_BYTES, applyScaling, layoutOf, typedView, type Layout, type NiftiImage } from './decode.js';

export { DEFAULT_MAX_BYTES, applyScaling, decodeNifti, type NiftiImage } from './decode.js';

/** Options for `readNifti`. */
export interface ReadNiftiOptions {
  /**
   * Largest buffer (bytes) the reader may allocate for one image: raw voxels plus the scaled output when
   * scl_slope/scl_inter apply. Default `DEFAULT_MAX_BYTES`, or `$NNUNET_MAX_IMAGE_BYTES` when set.
   */
  maxBytes?: number;
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
 * ITK). Voxels keep the stored type (uint8, int8, int16, uint16, int32, uint32, float32, float64; int64/uint64 become
 * Int32Array when every value fits int32, else Float64Array, and are refused beyond 2^53) unless scl_slope/scl_inter apply (`applyScaling`). Header extensions are skipped via vox_offset. `header` keeps the parsed
 * header and raw header bytes for `writeNifti`'s `template`.
 *
 * Throws `DataError` naming the file: missing file; an empty (0-byte) or shorter-than-4-byte file ("the file is
 * empty", "truncated"); "not a NIfTI or gzip file" (noting a file that starts with zeros); binary/RGB/complex/float128 datatypes; int64 values beyond 2^53;
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

/**
 * The first 4 bytes of a NIfTI file of `size` bytes (gzip magic or sizeof_hdr).
 * @throws DataError naming the file when it is empty (0 bytes) or shorter than 4 bytes (a failed copy)
 */
async function firstBytes(path: string, size: number): Promise<Uint8Array> {
  if (size < 4) {
    throw new DataError(size === 0 ? 'the file is empty (0 bytes)' : `the file is truncated: it holds only ${size} byte(s), less than any NIfTI header`, {
      file: path,
      hint: 'an interrupted or failed copy, download or export leaves such a file: copy or export the image again',
    });
  }
  const head = new Uint8Array(4);
  const fh = await open(path, 'r');
  try {
    await fh.read(head, 0, 4, 0);
  } finally {
    await fh.close();
  }
  return head;
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
  const head = await firstBytes(path, size);
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
    const zeros = head.every((b) => b === 0);
    throw new DataError(`not a NIfTI or gzip file: ${path}${zeros ? ` (it starts with zero bytes: a preallocated or incompletely written file of ${size} bytes)` : ''}`, {
      file: path,
      hint: zeros
        ? 'an interrupted copy or export can leave a file of zeros: copy or export the image again'
        : 'the first bytes are neither the gzip magic 1f 8b nor a NIfTI sizeof_hdr of 348/540',
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
  const stored = typedView(voxels, layout.dtype.name, header.littleEndian, path);
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
