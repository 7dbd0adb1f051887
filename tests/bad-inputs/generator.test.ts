/**
 * Checks of the generator itself, against an independent parser (nifti-reader-js) and hand-computed bytes, so a
 * failing row points at the product and not at the input builder.
 */
import { afterAll, describe, expect, it } from 'vitest';
import * as nifti from 'nifti-reader-js';
import {
  cleanupTemp,
  dicomBytes,
  fill,
  lpsAffine,
  niftiBytes,
  parseNiftiHeader,
  rotX,
  rotationAngleDeg,
  worldOf,
} from './generate.js';

afterAll(cleanupTemp);

function ab(u: Uint8Array): ArrayBuffer {
  return u.buffer.slice(u.byteOffset, u.byteOffset + u.byteLength) as ArrayBuffer;
}

describe('generator', () => {
  it('NIfTI-1 and NIfTI-2 headers parse with nifti-reader-js and qform equals sform', () => {
    const direction = rotX(14);
    for (const version of [1, 2] as const) {
      const bytes = niftiBytes({
        version,
        dims: [4, 3, 2],
        dtype: 'int16',
        data: fill([4, 3, 2], (i, j, k) => i + 10 * j + 100 * k),
        spacing: [0.5, 0.75, 2],
        origin: [10, -20, 30],
        direction,
      });
      const h = nifti.readHeader(ab(bytes));
      expect(h.dims.slice(0, 4)).toEqual([3, 4, 3, 2]);
      expect(h.datatypeCode).toBe(4);
      const img = new Int16Array(nifti.readImage(h, ab(bytes)));
      expect(Array.from(img.slice(0, 5))).toEqual([0, 1, 2, 3, 10]);
      expect(img[23]).toBe(3 + 20 + 100);
      const q = h.convertNiftiQFormToNiftiSForm(
        h.quatern_b, h.quatern_c, h.quatern_d, h.qoffset_x, h.qoffset_y, h.qoffset_z,
        h.pixDims[1]!, h.pixDims[2]!, h.pixDims[3]!, h.pixDims[0]!,
      );
      const lps = lpsAffine([0.5, 0.75, 2], [10, -20, 30], direction);
      const flip = [-1, -1, 1];
      for (let r = 0; r < 3; r++) {
        for (let c = 0; c < 4; c++) {
          expect(h.affine[r]![c]!).toBeCloseTo(lps[r]![c]! * flip[r]!, 5);
          expect(q[r]![c]!).toBeCloseTo(lps[r]![c]! * flip[r]!, 5);
        }
      }
      const parsed = parseNiftiHeader(bytes);
      expect(parsed.version).toBe(version);
      expect(parsed.pixdim.slice(1, 4)).toEqual([0.5, 0.75, 2]);
    }
  });

  it('left-handed geometry goes into qfac = -1', () => {
    const bytes = niftiBytes({ dims: [2, 2, 2], dtype: 'uint8', data: new Uint8Array(8), direction: [1, 0, 0, 0, -1, 0, 0, 0, 1] });
    const h = parseNiftiHeader(bytes);
    expect(h.pixdim[0]).toBe(-1);
    expect(rotationAngleDeg([1, 0, 0, 0, 1, 0, 0, 0, 1], rotX(10))).toBeCloseTo(10, 10);
    expect(worldOf([1, 2, 3], [1, 1, 1], [1, 0, 0, 0, 1, 0, 0, 0, 1], [1, 1, 1])).toEqual([2, 3, 4]);
  });

  it('DICOM bytes carry the preamble, the meta group and the pixel data at the end', () => {
    const px = [1, 2, 3, 4];
    const b = dicomBytes({ rows: 2, columns: 2, pixels: px, imagePositionPatient: [0, 0, 5], instanceNumber: 1 });
    expect(new TextDecoder().decode(b.slice(128, 132))).toBe('DICM');
    const dv = new DataView(b.buffer, b.byteOffset);
    expect(dv.getInt16(b.length - 2, true)).toBe(4);
    expect(new TextDecoder().decode(b)).toContain('0\\0\\5');
  });
});
