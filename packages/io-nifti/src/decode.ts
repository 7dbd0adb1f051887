/** NIfTI decoding from bytes in memory: layout and limit checks, typed views, scaling. No Node built-in (browser-safe). */
import { DataError, type MedicalImage, type VoxelArray } from '@nnunet-ts/core';
import { datatypeInfo, effectiveDims, parseHeader, sizeofHdr, type NiftiHeader } from './header.js';
import { niftiGeometry } from './geometry.js';

/** 2 GiB: the practical typed-array / wasm heap ceiling the pipeline is built for (bad-inputs B27). */
export const DEFAULT_MAX_BYTES = 2 * 1024 ** 3;

/** A NIfTI image: the core image model plus the parsed header (for the writer's `template`). */
export interface NiftiImage extends MedicalImage {
  header: NiftiHeader;
}

export const fmtBytes = (n: number): string =>
  n >= 1024 ** 3 ? `${(n / 1024 ** 3).toFixed(2)} GiB` : n >= 1024 ** 2 ? `${(n / 1024 ** 2).toFixed(1)} MiB` : `${n} B`;

/** Layout decided from the header before any voxel is read. */
export interface Layout {
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

export function layoutOf(header: NiftiHeader, file: string, maxBytes: number): Layout {
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
  // 64-bit integers are converted to Int32Array or Float64Array (`typedView`): a copy of up to 8 bytes a voxel
  const outBytes = (scaled ? nvox * (dtype.bytes >= 4 ? 8 : 4) : 0) + (dtype.name.endsWith('int64') ? nvox * 8 : 0);
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

/** Integers up to this magnitude are exact in float64. */
const LIMIT_2_53 = 2n ** 53n;

/**
 * int64/uint64 voxels (NIfTI datatypes 1024/1280; what nibabel writes for an np.int64 array, common for label maps) as
 * numbers: an Int32Array when every value fits int32, else a Float64Array, which holds every integer up to 2^53
 * exactly. nnU-Net reads such files through SimpleITK and casts them (labels to an integer type, images to float32).
 * @throws DataError naming `file` and the voxel when a value lies beyond +-2^53 (it would not be read exactly)
 */
function int64Values(bytes: Uint8Array, unsigned: boolean, littleEndian: boolean, file: string): VoxelArray {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = bytes.byteLength / 8;
  const out = new Float64Array(n);
  let fitsInt32 = true;
  for (let i = 0; i < n; i++) {
    const big = unsigned ? dv.getBigUint64(i * 8, littleEndian) : dv.getBigInt64(i * 8, littleEndian);
    if (big > LIMIT_2_53 || big < -LIMIT_2_53) {
      throw new DataError(`voxel ${i} holds ${big} (${unsigned ? 'uint64' : 'int64'}), beyond 2^53: it cannot be read exactly`, {
        file,
        hint: 'store the image as int32 or float64 (label maps: uint8 or int16 with the values of dataset.json labels)',
      });
    }
    const v = Number(big);
    if (v < -2147483648 || v > 2147483647) fitsInt32 = false;
    out[i] = v;
  }
  return fitsInt32 ? Int32Array.from(out) : out;
}

/**
 * Typed array of the stored type over `bytes` (byte-swapped in place when the file's endianness differs); int64 and
 * uint64 are converted (`int64Values`: Int32Array or Float64Array, refused beyond 2^53, naming `file`).
 */
export function typedView(bytes: Uint8Array, dtype: string, littleEndian: boolean, file = 'image'): VoxelArray {
  if (dtype === 'int64' || dtype === 'uint64') return int64Values(bytes, dtype === 'uint64', littleEndian, file);
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
 * 32/64-bit (int32, uint32, int64, uint64, float64) and some scaled value is not exactly representable in Float32. Computed in
 * Float64, so unsigned storage with a negative intercept decodes correctly (bad-inputs B13).
 */
export function applyScaling(stored: VoxelArray, slope: number, inter: number, dtype: string): VoxelArray {
  const b = Number.isFinite(inter) ? inter : 0;
  if (!Number.isFinite(slope) || slope === 0 || (slope === 1 && b === 0)) return stored;
  const n = stored.length;
  if (dtype === 'int32' || dtype === 'uint32' || dtype === 'float64' || dtype === 'int64' || dtype === 'uint64') {
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


/**
 * Decode a whole uncompressed NIfTI-1/2 file held in memory (browsers, or any caller that has the bytes; gunzip
 * first). Same output, geometry rules, warnings and errors as `readNifti` on a file (`file` names the source in
 * messages): `data` `[c, z, y, x]` x fastest in the stored type (or scaled by scl_slope/scl_inter), `spacing`
 * `[sz, sy, sx]` mm, `origin`/`direction` LPS. The voxels are copied out of `bytes`.
 * @throws DataError naming `file`: not a NIfTI header; unsupported datatype or dimensions; more than `maxBytes`
 * needed (checked before allocating); fewer voxel bytes than the header declares.
 */
export function decodeNifti(bytes: Uint8Array, file: string, opts: { maxBytes?: number } = {}): NiftiImage {
  if (bytes.length < 4 || sizeofHdr(bytes) === 0) {
    throw new DataError(`not a NIfTI file: ${file}`, {
      file,
      hint: 'the first bytes are not a NIfTI sizeof_hdr of 348/540 (gunzip .nii.gz data first)',
    });
  }
  const header0 = parseHeader(bytes, file);
  const rawLen = Math.min(bytes.length, Math.max(header0.version === 1 ? 348 : 540, Math.floor(header0.voxOffset) || 0));
  const header = parseHeader(bytes.subarray(0, rawLen), file);
  const layout = layoutOf(header, file, opts.maxBytes ?? DEFAULT_MAX_BYTES);
  const warnings = [...layout.warnings];
  const avail = Math.max(0, bytes.length - layout.offset);
  if (avail < layout.nbytes) {
    throw new DataError(`truncated NIfTI file ${file} (got ${avail} of ${layout.nbytes} expected voxel bytes)`, {
      file,
      hint: 're-copy or re-export the file; it is shorter than its header says',
    });
  }
  const voxels = bytes.slice(layout.offset, layout.offset + layout.nbytes);
  const data = applyScaling(typedView(voxels, layout.dtype.name, header.littleEndian, file), header.sclSlope, header.sclInter, layout.dtype.name);
  const geo = niftiGeometry(header);
  warnings.push(...geo.warnings);
  return { data, shape: layout.shape, spacing: geo.spacing, origin: geo.origin, direction: geo.direction, source: file, header, warnings };
}
