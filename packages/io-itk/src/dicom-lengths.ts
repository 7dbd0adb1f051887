/**
 * Element lengths of a DICOM Part 10 file checked against the file size before GDCM reads it.
 *
 * A corrupt or truncated file can declare an element longer than the bytes left (a flipped bit in a 32-bit length,
 * a copy cut short): GDCM then allocates and clears a buffer of that length (up to 4 GiB of wasm memory, about a
 * second per file) before it fails. Walking the top-level element headers finds this in microseconds and names the
 * element. Rules from DICOM PS3.10 section 7 (preamble, `DICM`, file meta group 0002 in explicit VR little endian)
 * and PS3.5 section 7.1 (data element encoding: explicit VR with 2- or 4-byte lengths by VR, implicit VR with 4-byte
 * lengths; undefined length 0xFFFFFFFF).
 */

/** VRs whose explicit-VR header has 2 reserved bytes and a 32-bit length (PS3.5 table 7.1-1). */
const LONG_VRS = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'SV', 'UC', 'UN', 'UR', 'UT', 'UV']);

const ascii = (b: Uint8Array, at: number, n: number): string => String.fromCharCode(...b.subarray(at, at + n));

/** How the data set after the file meta group is encoded, from the Transfer Syntax UID (0002,0010); null: not walked. */
function datasetEncoding(uid: string): 'explicit' | 'implicit' | null {
  if (uid === '1.2.840.10008.1.2') return 'implicit';
  // explicit VR little endian, and the encapsulated (compressed) syntaxes, which use it for the data set;
  // deflated (1.2.840.10008.1.2.1.99) and big endian (1.2.840.10008.1.2.2) are left to GDCM
  if (uid === '1.2.840.10008.1.2.1' || /^1\.2\.840\.10008\.1\.2\.(4|5|6|7|8)(\.|$)/.test(uid)) return 'explicit';
  return null;
}

/**
 * The first top-level data element whose declared length runs past the end of the file, as a sentence; null when
 * every length fits, or where the walk cannot tell (no `DICM` prefix, an unknown or deflated or big-endian transfer
 * syntax, an undefined-length element, an invalid VR): GDCM then decides as before.
 * `head` holds the file's first bytes (at least the 132-byte preamble and prefix), `fileSize` the whole file's size.
 */
export function dicomLengthProblem(head: Uint8Array, fileSize: number): string | null {
  if (head.length < 132 || ascii(head, 128, 4) !== 'DICM') return null;
  const dv = new DataView(head.buffer, head.byteOffset, head.byteLength);
  let pos = 132;
  /** The data set's encoding: null until the file meta group names the transfer syntax (then GDCM decides). */
  let encoding: 'explicit' | 'implicit' | null = null;
  let inMeta = true;
  while (pos + 8 <= head.length && pos < fileSize) {
    const group = dv.getUint16(pos, true);
    const element = dv.getUint16(pos + 2, true);
    if (inMeta && group !== 0x0002) {
      inMeta = false;
      if (!encoding) return null;
    }
    if (group === 0xfffe) return null; // an item or delimiter at the top level: not for this walk
    let header: number;
    let length: number;
    let vr = '';
    if (!inMeta && encoding === 'implicit') {
      header = 8;
      length = dv.getUint32(pos + 4, true);
    } else {
      vr = ascii(head, pos + 4, 2);
      if (!/^[A-Z]{2}$/.test(vr)) return null;
      if (LONG_VRS.has(vr)) {
        if (pos + 12 > head.length) return null;
        header = 12;
        length = dv.getUint32(pos + 8, true);
      } else {
        header = 8;
        length = dv.getUint16(pos + 6, true);
      }
    }
    if (length === 0xffffffff) return null; // undefined length (sequence, encapsulated pixel data)
    const left = fileSize - pos - header;
    if (length > left) {
      const tag = `(${group.toString(16).padStart(4, '0')},${element.toString(16).padStart(4, '0')})`.toUpperCase();
      return `data element ${tag}${vr ? ` ${vr}` : ''} at byte ${pos} declares ${length} bytes but only ${Math.max(0, left)} remain in the file`;
    }
    if (inMeta && group === 0x0002 && element === 0x0010) {
      encoding = datasetEncoding(ascii(head, pos + header, length).replace(/[\0 ]+$/, ''));
    }
    pos += header + length;
  }
  return null;
}
