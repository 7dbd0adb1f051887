/**
 * Element lengths and image size fields of a DICOM Part 10 file checked against the file size before GDCM reads it.
 *
 * A corrupt or truncated file can declare an element longer than the bytes left (a flipped bit in a 32-bit length,
 * a copy cut short), or an image far larger than its pixel data (a flipped bit in Rows, Columns, BitsAllocated,
 * SamplesPerPixel or NumberOfFrames): GDCM then allocates and clears a buffer of that size (up to 4 GiB of wasm
 * memory, about a second per file) before it fails or reads garbage. Walking the top-level element headers finds
 * both in microseconds and names the element or the fields. Rules from DICOM PS3.10 section 7 (preamble, `DICM`, file
 * meta group 0002 in explicit VR little endian), PS3.5 section 7.1 (data element encoding: explicit VR with 2- or
 * 4-byte lengths by VR, implicit VR with 4-byte lengths; undefined length 0xFFFFFFFF), 7.5 (sequences and items of
 * undefined length, ended by delimitation items), 8.1.1 (native pixel data: Rows x Columns x SamplesPerPixel x
 * BitsAllocated/8 bytes per frame, BitsAllocated 1 packed 8 to a byte, padded to an even length; BitsAllocated is 1 or
 * a multiple of 8) and 8.2 (encapsulated pixel data of the compressed transfer syntaxes), and PS3.3 C.7.6.3 (Image
 * Pixel module: Rows, Columns, BitsAllocated, SamplesPerPixel type 1) and C.7.6.6 (NumberOfFrames).
 */

/** VRs whose explicit-VR header has 2 reserved bytes and a 32-bit length (PS3.5 table 7.1-1). */
const LONG_VRS = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'SV', 'UC', 'UN', 'UR', 'UT', 'UV']);
const UNDEFINED = 0xffffffff;
/** Nesting depth of undefined-length sequences the walk follows before it gives up (GDCM then decides). */
const MAX_DEPTH = 16;
/**
 * The most bytes an image may decode to: itk-wasm's 32-bit wasm memory (4 GiB at most) must hold the decoded image
 * and the copy handed to JavaScript, so a larger image cannot be read in any case.
 */
export const DICOM_MAX_IMAGE_BYTES = 2 ** 31;
/**
 * Compressed (encapsulated) pixel data: the decoded image may be at most this many times the file's size, or
 * `DICOM_COMPRESSED_FLOOR_BYTES`, whichever is larger (run-length or JPEG 2000 coding of a uniform image reaches ratios
 * of a few hundred; a header that claims more is corrupt).
 */
export const DICOM_MAX_COMPRESSION_RATIO = 1024;
export const DICOM_COMPRESSED_FLOOR_BYTES = 64 * 2 ** 20;

const ascii = (b: Uint8Array, at: number, n: number): string => String.fromCharCode(...b.subarray(at, at + n));
const tagName = (group: number, element: number): string =>
  `(${group.toString(16).padStart(4, '0')},${element.toString(16).padStart(4, '0')})`.toUpperCase();

type Encoding = 'explicit' | 'implicit';

/** How the data set after the file meta group is encoded, from the Transfer Syntax UID (0002,0010); null: not walked. */
function datasetEncoding(uid: string): Encoding | null {
  if (uid === '1.2.840.10008.1.2') return 'implicit';
  // explicit VR little endian, and the encapsulated (compressed) syntaxes, which use it for the data set;
  // deflated (1.2.840.10008.1.2.1.99) and big endian (1.2.840.10008.1.2.2) are left to GDCM
  if (uid === '1.2.840.10008.1.2.1' || /^1\.2\.840\.10008\.1\.2\.(4|5|6|7|8)(\.|$)/.test(uid)) return 'explicit';
  return null;
}

interface Header {
  group: number;
  element: number;
  vr: string;
  /** Bytes of the element header (tag, VR, length). */
  size: number;
  length: number;
}

/** The element header at `pos`, or null where the walk cannot tell (past the bytes read, an invalid VR). */
function headerAt(head: Uint8Array, dv: DataView, pos: number, encoding: Encoding): Header | null {
  if (pos + 8 > head.length) return null;
  const group = dv.getUint16(pos, true);
  const element = dv.getUint16(pos + 2, true);
  // items and delimiters (FFFE,xxxx) have no VR in either encoding (PS3.5 7.5)
  if (encoding === 'implicit' || group === 0xfffe) return { group, element, vr: '', size: 8, length: dv.getUint32(pos + 4, true) };
  const vr = ascii(head, pos + 4, 2);
  if (!/^[A-Z]{2}$/.test(vr)) return null;
  if (!LONG_VRS.has(vr)) return { group, element, vr, size: 8, length: dv.getUint16(pos + 6, true) };
  if (pos + 12 > head.length) return null;
  return { group, element, vr, size: 12, length: dv.getUint32(pos + 8, true) };
}

/**
 * Skip a sequence of undefined length whose value starts at `pos` (items of defined or undefined length, ended by the
 * sequence delimitation item (FFFE,E0DD)); the position after it, or -1 where the walk cannot tell.
 */
function skipSequence(head: Uint8Array, dv: DataView, pos: number, encoding: Encoding, depth: number): number {
  if (depth > MAX_DEPTH) return -1;
  for (;;) {
    const h = headerAt(head, dv, pos, encoding);
    if (!h || h.group !== 0xfffe) return -1;
    if (h.element === 0xe0dd) return pos + 8;
    if (h.element !== 0xe000) return -1;
    if (h.length !== UNDEFINED) {
      pos += 8 + h.length;
      continue;
    }
    pos += 8;
    for (;;) {
      const e = headerAt(head, dv, pos, encoding);
      if (!e) return -1;
      if (e.group === 0xfffe && e.element === 0xe00d) break;
      pos = e.length === UNDEFINED ? skipSequence(head, dv, pos + e.size, encoding, depth + 1) : pos + e.size + e.length;
      if (pos < 0) return -1;
    }
    pos += 8;
  }
}

/** What the walk of the top-level elements found. */
export interface DicomWalk {
  /** The first element whose declared length runs past the end of the file, as a sentence. */
  lengthProblem?: string;
  transferSyntax?: string;
  /** Values of the image size fields found at the top level, as written (US as numbers, IS as trimmed text). */
  fields: Partial<Record<'Rows' | 'Columns' | 'SamplesPerPixel' | 'BitsAllocated' | 'NumberOfFrames', number | string>>;
  /** The Pixel Data element (7FE0,0010): its byte offset and declared length (undefined: encapsulated). */
  pixelData?: { at: number; length: number | undefined };
}

const SIZE_FIELDS: Record<number, keyof DicomWalk['fields']> = {
  0x0002: 'SamplesPerPixel', 0x0008: 'NumberOfFrames', 0x0010: 'Rows', 0x0011: 'Columns', 0x0100: 'BitsAllocated',
};

/** Record an element of the file meta group or the image size fields. */
function note(w: DicomWalk, head: Uint8Array, dv: DataView, h: Header, value: number): void {
  if (h.group === 0x0002 && h.element === 0x0010) w.transferSyntax = ascii(head, value, h.length).replace(/[\0 ]+$/, '');
  const field = h.group === 0x0028 ? SIZE_FIELDS[h.element] : undefined;
  if (!field || value + h.length > head.length) return;
  if (field === 'NumberOfFrames') w.fields[field] = ascii(head, value, h.length).replace(/^[\0 ]+|[\0 ]+$/g, '');
  else if (h.length >= 2) w.fields[field] = dv.getUint16(value, true);
}

/**
 * Walk the top-level data elements of `head` (the file's first bytes, at least the 132-byte preamble and prefix;
 * `fileSize` is the whole file's size), following undefined-length sequences. Null where the walk cannot start (no
 * `DICM` prefix, an unknown, deflated or big-endian transfer syntax); otherwise what it found before it stopped (the
 * end of the bytes read or of the file, an element past the end of the file, encapsulated pixel data, an invalid VR).
 */
export function walkDicom(head: Uint8Array, fileSize: number): DicomWalk | null {
  if (head.length < 132 || ascii(head, 128, 4) !== 'DICM') return null;
  const dv = new DataView(head.buffer, head.byteOffset, head.byteLength);
  const w: DicomWalk = { fields: {} };
  let pos = 132;
  let encoding: Encoding = 'explicit'; // the file meta group is always explicit VR little endian
  let inMeta = true;
  while (pos < fileSize) {
    if (inMeta && pos + 2 <= head.length && dv.getUint16(pos, true) !== 0x0002) {
      inMeta = false;
      const e = datasetEncoding(w.transferSyntax ?? '');
      if (!e) return null;
      encoding = e;
    }
    const h = headerAt(head, dv, pos, encoding);
    if (!h || h.group === 0xfffe) break; // an item or delimiter at the top level: not for this walk
    if (h.group === 0x7fe0 && h.element === 0x0010) w.pixelData = { at: pos, length: h.length === UNDEFINED ? undefined : h.length };
    if (h.length === UNDEFINED) {
      if (h.group === 0x7fe0) break; // encapsulated pixel data: fragments to the end
      pos = skipSequence(head, dv, pos + h.size, encoding, 0);
      if (pos < 0) break;
      continue;
    }
    const left = fileSize - pos - h.size;
    if (h.length > left) {
      w.lengthProblem = `data element ${tagName(h.group, h.element)}${h.vr ? ` ${h.vr}` : ''} at byte ${pos} declares ${h.length} bytes but only ${Math.max(0, left)} remain in the file`;
      break;
    }
    note(w, head, dv, h, pos + h.size);
    pos += h.size + h.length;
  }
  return w;
}

/**
 * The first top-level data element whose declared length runs past the end of the file, as a sentence; null when
 * every length fits, or where the walk cannot tell (see `walkDicom`): GDCM then decides as before.
 */
export function dicomLengthProblem(head: Uint8Array, fileSize: number): string | null {
  return walkDicom(head, fileSize)?.lengthProblem ?? null;
}

/** A refusal of the image size fields: the sentence and the fix. */
export interface DicomSizeProblem {
  message: string;
  hint: string;
}

const FIX_HEADER = 'the header is corrupt (a damaged copy or a faulty export): copy or export the image again from its source';

/**
 * Check the image size fields against the Pixel Data element (`walk` from `walkDicom` of a file of `fileSize` bytes).
 * Native (uncompressed) pixel data must hold Rows x Columns x SamplesPerPixel x BitsAllocated/8 x NumberOfFrames bytes
 * (BitsAllocated 1: packed 8 pixels to a byte); padding shorter than one row is accepted (the standard pads to an even
 * length; some writers add a few bytes more, which pydicom also accepts). Encapsulated pixel data may decode to at most
 * `DICOM_MAX_COMPRESSION_RATIO` times the file size (or `DICOM_COMPRESSED_FLOOR_BYTES`); any image at most
 * `DICOM_MAX_IMAGE_BYTES`. Each field must hold a legal value. Null when the sizes agree, or when the file has no
 * top-level Pixel Data element the walk reached (GDCM then decides).
 */
export function dicomSizeProblem(walk: DicomWalk, fileSize: number): DicomSizeProblem | null {
  const px = walk.pixelData;
  if (!px) return null;
  const f = walk.fields;
  const fieldProblem = sizeFieldProblem(f);
  if (fieldProblem) return { message: fieldProblem, hint: FIX_HEADER };
  const rows = f.Rows as number, cols = f.Columns as number, bits = f.BitsAllocated as number;
  const spp = (f.SamplesPerPixel as number | undefined) ?? 1;
  const frames = f.NumberOfFrames === undefined || f.NumberOfFrames === '' ? 1 : Number(f.NumberOfFrames);
  const pixels = rows * cols * spp * frames;
  const bytes = bits === 1 ? Math.ceil(pixels / 8) : pixels * (bits / 8);
  const formula = `Rows ${rows} x Columns ${cols} x SamplesPerPixel ${spp} x BitsAllocated ${bits}/8 x NumberOfFrames ${frames} = ${bytes} bytes`;
  if (bytes > DICOM_MAX_IMAGE_BYTES) {
    return { message: `image size fields declare ${formula}, more than the ${DICOM_MAX_IMAGE_BYTES} bytes itk-wasm can hold (its wasm memory is 32-bit)`, hint: `${FIX_HEADER}; an image this large must be split or converted (e.g. to NIfTI) outside itk-wasm` };
  }
  if (px.length === undefined) {
    const most = Math.max(DICOM_COMPRESSED_FLOOR_BYTES, DICOM_MAX_COMPRESSION_RATIO * fileSize);
    if (bytes <= most) return null;
    return { message: `image size fields declare ${formula} of compressed pixel data in a file of ${fileSize} bytes (at most ${most} bytes plausible, a compression ratio of ${DICOM_MAX_COMPRESSION_RATIO})`, hint: FIX_HEADER };
  }
  const rowBytes = Math.max(2, bits === 1 ? Math.ceil((cols * spp) / 8) : cols * spp * (bits / 8));
  if (px.length >= bytes && px.length - bytes < rowBytes) return null;
  const which = px.length < bytes ? 'fewer' : 'more';
  return {
    message: `image size fields declare ${formula}, but Pixel Data (7FE0,0010) at byte ${px.at} holds ${px.length} bytes (${which} than the fields describe)`,
    hint: `${FIX_HEADER}; Rows, Columns, SamplesPerPixel, BitsAllocated and NumberOfFrames must describe exactly the stored pixels`,
  };
}

/** A missing or illegal image size field (PS3.3 C.7.6.3, C.7.6.6; PS3.5 8.1.1), as a sentence; null when all are legal. */
function sizeFieldProblem(f: DicomWalk['fields']): string | null {
  for (const k of ['Rows', 'Columns', 'BitsAllocated'] as const) {
    if (f[k] === undefined) return `the file has Pixel Data (7FE0,0010) but no ${k} (0028,${k === 'Rows' ? '0010' : k === 'Columns' ? '0011' : '0100'}), a type 1 field of the Image Pixel module`;
  }
  if (f.Rows === 0 || f.Columns === 0) return `Rows ${f.Rows} x Columns ${f.Columns}: an image has at least one row and one column`;
  const bits = f.BitsAllocated as number;
  if (bits !== 1 && (bits % 8 !== 0 || bits > 64 || bits === 0)) return `BitsAllocated ${bits} is not 1 or a multiple of 8 up to 64 (PS3.5 8.1.1)`;
  if (f.SamplesPerPixel !== undefined && !((f.SamplesPerPixel as number) >= 1 && (f.SamplesPerPixel as number) <= 4)) return `SamplesPerPixel ${f.SamplesPerPixel} is not 1 (grayscale), 3 (colour) or 4 (retired ARGB/CMYK)`;
  const nf = f.NumberOfFrames;
  if (nf !== undefined && nf !== '' && !(/^\+?\d+$/.test(String(nf)) && Number(nf) >= 1)) return `NumberOfFrames "${nf}" is not a whole number of at least 1`;
  return null;
}
