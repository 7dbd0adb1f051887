import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { DataError, indexToWorld, Registry, type MedicalImage } from '@nnunet-ts/core';
import { buildNifti, extensionBlock } from './__fixtures__/build.js';
import { readNifti } from './reader.js';
import { writeNifti } from './writer.js';
import { niftiGeometry } from './geometry.js';
import { niftiReader, plugin, registerDefaults } from './index.js';

const dir = mkdtempSync(join(tmpdir(), 'io-nifti-w-'));
/** nibabel cross-checks run where /usr/bin/python3 has nibabel (optional: CI need not have it). */
const NIBABEL = existsSync('/usr/bin/python3') && (() => {
  try {
    execFileSync('/usr/bin/python3', ['-c', 'import nibabel'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const deg = (14 * Math.PI) / 180;
/** B31: 14 deg about x, rows (1,0,0), (0,.9703,-.2419), (0,.2419,.9703): not symmetric, so a transpose shows. */
const rotX = [1, 0, 0, 0, Math.cos(deg), -Math.sin(deg), 0, Math.sin(deg), Math.cos(deg)];

function image(o: Partial<MedicalImage> = {}): MedicalImage {
  const data = o.data ?? Uint8Array.from({ length: 512 }, (_, i) => i % 7);
  return { data, shape: [1, 8, 8, 8], spacing: [1, 1, 1], origin: [0, 0, 0], direction: [1, 0, 0, 0, 1, 0, 0, 0, 1], ...o };
}

describe('writeNifti', () => {
  it('B31: oblique non-symmetric direction round-trips (.nii.gz) within 1e-6, as does world(1,2,3)', async () => {
    const img = image({ direction: rotX, spacing: [2.5, 0.75, 1.25], origin: [-10.5, 20.25, 3] });
    const p = join(dir, 'oblique.nii.gz');
    await writeNifti(p, img);
    const back = await readNifti(p);
    expect(back.data).toBeInstanceOf(Uint8Array);
    expect(Array.from(back.data)).toEqual(Array.from(img.data));
    back.direction.forEach((v, i) => expect(Math.abs(v - rotX[i]!)).toBeLessThan(1e-6));
    expect(back.direction[5]).toBeCloseTo(-0.2419, 4); // row 1, column 2
    const w0 = indexToWorld(img, [1, 2, 3]);
    const w1 = indexToWorld(back, [1, 2, 3]);
    w0.forEach((v, i) => expect(Math.abs(v - w1[i]!)).toBeLessThan(1e-5));
    back.spacing.forEach((v, i) => expect(v).toBeCloseTo(img.spacing[i]!, 6));
    expect(back.header.qformCode).toBe(1);
    expect(back.header.sformCode).toBe(1);
    // The qform alone encodes the same direction.
    const q = niftiGeometry({ ...back.header, sformCode: 0 });
    q.direction.forEach((v, i) => expect(Math.abs(v - rotX[i]!)).toBeLessThan(1e-6));
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('B32: negative pixdim input -> load -> save -> load keeps the world position of all 8 corners', async () => {
    const src = join(dir, 'negpix.nii');
    writeFileSync(
      src,
      buildNifti({ dim: [3, 10, 10, 10], datatype: 16, pixdim: [1, 2, -2, 5], qformCode: 1, qoffset: [3, -4, 5], values: new Array(1000).fill(1) }),
    );
    const a = await readNifti(src);
    const out = join(dir, 'negpix-out.nii');
    await writeNifti(out, a);
    const b = await readNifti(out);
    expect(b.warnings).toEqual([]);
    for (const i of [0, 9]) for (const j of [0, 9]) for (const k of [0, 9]) {
      // RAS (3 + 2i, -4 - 2j, 5 + 5k) -> LPS
      const want = [-(3 + 2 * i), 4 + 2 * j, 5 + 5 * k];
      const got = indexToWorld(b, [i, j, k]);
      got.forEach((v, d) => expect(v).toBeCloseTo(want[d]!, 5));
    }
  });

  it('labels: dtype uint8/int16 from float data, rounding; out-of-range and NaN values are refused', async () => {
    const f = Float32Array.from({ length: 512 }, (_, i) => (i % 3) + 0.0000001);
    const p = join(dir, 'lab.nii.gz');
    await writeNifti(p, image({ data: f }), { dtype: 'int16' });
    const back = await readNifti(p);
    expect(back.data).toBeInstanceOf(Int16Array);
    expect(Array.from(back.data.slice(0, 4))).toEqual([0, 1, 2, 0]);
    const bad = Float32Array.from({ length: 512 }, () => 300);
    await expect(writeNifti(join(dir, 'bad.nii'), image({ data: bad }), { dtype: 'uint8' })).rejects.toThrow(
      /value 300 does not fit uint8 \(0\.\.255\)/,
    );
    const nan = new Float32Array(512).fill(NaN);
    await expect(writeNifti(join(dir, 'nan.nii'), image({ data: nan }), { dtype: 'int16' })).rejects.toThrow(DataError);
  });

  it('multi-channel images are written as 4D and read back as [c, z, y, x]', async () => {
    const data = Float32Array.from({ length: 2 * 3 * 4 * 5 }, (_, i) => i / 2);
    const p = join(dir, 'c2.nii');
    await writeNifti(p, { data, shape: [2, 3, 4, 5], spacing: [3, 2, 1], origin: [1, 2, 3], direction: [1, 0, 0, 0, 1, 0, 0, 0, 1] });
    const back = await readNifti(p);
    expect(back.shape).toEqual([2, 3, 4, 5]);
    expect(back.header.dim.slice(0, 5)).toEqual([4, 5, 4, 3, 2]);
    expect(Array.from(back.data)).toEqual(Array.from(data));
    expect(back.spacing).toEqual([3, 2, 1]);
    expect(back.origin).toEqual([1, 2, 3]);
  });

  it('template: output header equals the input header except dims/datatype/bitpix/vox_offset/scaling (B33)', async () => {
    const srow = [
      [-0.8, 0, 0, 100.5],
      [0, 0.8, 0, -318],
      [0, 0, 3, 12],
    ];
    const input = buildNifti({
      dim: [3, 6, 5, 4],
      datatype: 4,
      pixdim: [1, 0.8, 0.8, 3],
      qformCode: 0,
      sformCode: 2,
      srow,
      sclSlope: 1,
      sclInter: -1024,
      extension: extensionBlock('dicom stuff'),
      values: Array.from({ length: 120 }, (_, i) => i),
    });
    const inPath = join(dir, 'ct.nii');
    writeFileSync(inPath, input);
    const ct = await readNifti(inPath);
    expect(ct.data).toBeInstanceOf(Float32Array);
    const seg = Uint8Array.from({ length: 120 }, (_, i) => i % 3);
    const outPath = join(dir, 'seg.nii');
    await writeNifti(outPath, { ...ct, data: seg, header: undefined }, { dtype: 'uint8', template: ct.header });
    const out = readFileSync(outPath);
    const changed: number[] = [];
    for (let i = 0; i < 348; i++) if (out[i] !== input[i]) changed.push(i);
    // datatype (70-71), bitpix (72), vox_offset (108-111), scl_slope/inter (112-119), extension flag is past 348.
    const allowed = new Set([70, 71, 72, 73, 108, 109, 110, 111, 112, 113, 114, 115, 116, 117, 118, 119]);
    expect(changed.filter((i) => !allowed.has(i))).toEqual([]);
    expect(out.length).toBe(352 + 120);
    expect(out[348]).toBe(0);
    const back = await readNifti(outPath);
    expect(Array.from(back.data)).toEqual(Array.from(seg));
    expect(back.origin).toEqual(ct.origin);
    expect(back.spacing).toEqual(ct.spacing);
    expect(back.direction).toEqual(ct.direction);
    expect(back.header.sformCode).toBe(2);
    expect(back.header.qformCode).toBe(0);
  });

  it("2D template (dim[0] = 2, 36 x 52): the output is 2D too, its header equal to the input's but for type and scaling; a 3D image with that template stays 3D", async () => {
    const srow = [
      [-0.7, 0, 0, 90.5],
      [0, 0.8, 0, -120],
      [0, 0, 1, 0],
    ];
    // as SimpleITK writes a 2D image: dim[3..7] = 1, pixdim[3] = 1, qform and sform codes 1
    const input = buildNifti({ dim: [2, 36, 52, 1, 1, 1, 1, 1], datatype: 16, pixdim: [1, 0.7, 0.8, 1, 1, 1, 1, 1], qformCode: 1, sformCode: 1, quatern: [0, 0, 1], qoffset: [90.5, -120, 0], srow, values: Array.from({ length: 36 * 52 }, (_, i) => i / 10) });
    const inPath = join(dir, 'slice2d.nii');
    writeFileSync(inPath, input);
    const im = await readNifti(inPath);
    expect(im.shape).toEqual([1, 1, 52, 36]);
    expect(im.warnings ?? []).toEqual([]);
    const seg = Uint8Array.from({ length: 36 * 52 }, (_, i) => i % 3);
    const outPath = join(dir, 'slice2d-seg.nii');
    await writeNifti(outPath, { ...im, data: seg, header: undefined }, { dtype: 'uint8', template: im.header });
    const out = readFileSync(outPath);
    expect(out.readInt16LE(40)).toBe(2); // dim[0]: was 3 (a 36 x 52 x 1 volume)
    expect([1, 2, 3, 4, 5, 6, 7].map((i) => out.readInt16LE(40 + 2 * i))).toEqual([36, 52, 1, 1, 1, 1, 1]);
    const changed: number[] = [];
    for (let i = 0; i < 348; i++) if (out[i] !== input[i]) changed.push(i);
    const allowed = new Set([70, 71, 72, 73, 108, 109, 110, 111, 112, 113, 114, 115, 116, 117, 118, 119]);
    expect(changed.filter((i) => !allowed.has(i))).toEqual([]);
    const back = await readNifti(outPath);
    expect(back.shape).toEqual([1, 1, 52, 36]);
    expect(back.header.dim[0]).toBe(2);
    expect(Array.from(back.data)).toEqual(Array.from(seg));
    expect(back.spacing).toEqual(im.spacing);
    expect(back.origin).toEqual(im.origin);
    expect(back.direction).toEqual(im.direction);
    // geometry written fresh (another origin): still 2D, pixdim and both transforms from the image
    await writeNifti(outPath, { ...im, data: seg, origin: [1, 2, 0], header: undefined }, { dtype: 'uint8', template: im.header });
    const moved = await readNifti(outPath);
    expect(moved.header.dim.slice(0, 4)).toEqual([2, 36, 52, 1]);
    expect(moved.origin).toEqual([1, 2, 0]);
    expect(moved.spacing.map((v) => +v.toFixed(6))).toEqual([1, 0.8, 0.7]);
    // more than one slice does not fit a 2D header: written as 3D
    await writeNifti(outPath, image({ shape: [1, 2, 16, 16] }), { template: im.header });
    expect((await readNifti(outPath)).header.dim.slice(0, 4)).toEqual([3, 16, 16, 2]);
  });

  it('template with a different grid: geometry written fresh with codes 1; big-endian template kept big-endian', async () => {
    const input = buildNifti({ dim: [3, 2, 2, 2], datatype: 16, littleEndian: false, qformCode: 1, values: new Array(8).fill(1.5) });
    const inPath = join(dir, 'be.nii');
    writeFileSync(inPath, input);
    const be = await readNifti(inPath);
    const outPath = join(dir, 'be-out.nii.gz');
    await writeNifti(outPath, image({ origin: [7, 8, 9] }), { template: be.header });
    const raw = gunzipSync(readFileSync(outPath));
    expect(raw.readInt32BE(0)).toBe(348);
    const back = await readNifti(outPath);
    expect(back.header.littleEndian).toBe(false);
    expect(back.shape).toEqual([1, 8, 8, 8]);
    expect(back.origin).toEqual([7, 8, 9]);
    expect(back.header.qformCode).toBe(1);
    expect(back.header.sformCode).toBe(1);
  });

  /** Header fields of a written NIfTI-1 or NIfTI-2 file, decoded here at the offsets of nifti1.h / nifti2.h. */
  function headerFields(b: Buffer) {
    const v2 = b.readInt32LE(0) === 540;
    const f = (o1: number, o2: number, n: number) => Array.from({ length: n }, (_, i) => (v2 ? b.readDoubleLE(o2 + 8 * i) : b.readFloatLE(o1 + 4 * i)));
    return {
      sizeofHdr: b.readInt32LE(0),
      magic: b.subarray(v2 ? 4 : 344, v2 ? 12 : 348).toString('latin1'),
      dim: Array.from({ length: 8 }, (_, i) => (v2 ? Number(b.readBigInt64LE(16 + 8 * i)) : b.readInt16LE(40 + 2 * i))),
      datatype: b.readInt16LE(v2 ? 12 : 70),
      voxOffset: v2 ? Number(b.readBigInt64LE(168)) : b.readFloatLE(108),
      pixdim: f(76, 104, 8),
      qformCode: v2 ? b.readInt32LE(344) : b.readInt16LE(252),
      sformCode: v2 ? b.readInt32LE(348) : b.readInt16LE(254),
      quatern: f(256, 352, 3),
      qoffset: f(268, 376, 3),
      srow: f(280, 400, 12),
      xyztUnits: v2 ? b.readInt32LE(500) : b[123]!,
    };
  }

  /** nibabel's affine and codes of a file (`/usr/bin/python3` with nibabel), or null when it is not installed. */
  function nibabelView(path: string): { affine: number[][]; codes: number[]; version: number } | null {
    if (!NIBABEL) return null;
    const py = `import json,sys,nibabel as nb\nim=nb.load(sys.argv[1])\nh=im.header\nprint(json.dumps({'affine':im.affine.tolist(),'codes':[int(h['qform_code']),int(h['sform_code'])],'version':1 if isinstance(im,nb.Nifti1Image) and not isinstance(im,nb.Nifti2Image) else 2}))`;
    return JSON.parse(execFileSync('/usr/bin/python3', ['-c', py, path], { encoding: 'utf8' })) as { affine: number[][]; codes: number[]; version: number };
  }

  it('template with qform_code = sform_code = 0: the output keeps both codes 0 and the pixdim (nibabel reads the same fallback affine, ITK the same identity)', async () => {
    // as written by tools that store no orientation: pixdim only, srow and quaternion zero
    const input = buildNifti({ dim: [3, 6, 5, 4], datatype: 16, pixdim: [0, 0.8, 0.9, 2.5], qformCode: 0, sformCode: 0, values: Array.from({ length: 120 }, (_, i) => i) });
    const inPath = join(dir, 'nocodes.nii');
    writeFileSync(inPath, input);
    const im = await readNifti(inPath);
    expect(im.origin).toEqual([0, 0, 0]);
    expect(im.direction).toEqual([1, 0, 0, 0, 1, 0, 0, 0, 1]);
    const seg = Uint8Array.from({ length: 120 }, (_, i) => i % 3);
    const outPath = join(dir, 'nocodes-seg.nii');
    await writeNifti(outPath, { ...im, data: seg, header: undefined }, { dtype: 'uint8', template: im.header });
    const out = headerFields(readFileSync(outPath));
    const inp = headerFields(Buffer.from(input));
    // was: codes 1/1, srow diag(-0.8, -0.9, 2.5) with offset 0, qfac 1 (ITK's reading, another grid for nibabel)
    expect([out.qformCode, out.sformCode]).toEqual([0, 0]);
    expect(out.pixdim.slice(0, 4)).toEqual([0, Math.fround(0.8), Math.fround(0.9), 2.5]);
    expect(out.srow).toEqual(new Array(12).fill(0));
    expect(out.quatern).toEqual([0, 0, 0]);
    expect(out.qoffset).toEqual([0, 0, 0]);
    expect(out.dim).toEqual(inp.dim);
    expect(out.datatype).toBe(2);
    const back = await readNifti(outPath);
    expect([back.spacing, back.origin, back.direction]).toEqual([im.spacing, im.origin, im.direction]);
    expect(Array.from(back.data)).toEqual(Array.from(seg));
    const nIn = nibabelView(inPath);
    const nOut = nibabelView(outPath);
    if (nIn && nOut) {
      expect(nOut.codes).toEqual([0, 0]);
      expect(nOut.affine).toEqual(nIn.affine);
      // nibabel's fallback (nifti1.h METHOD 1 plus nibabel's x flip and centring): not ITK's identity at 0
      expect(nIn.affine[0]![0]).toBeCloseTo(-0.8, 6);
      expect(nIn.affine[0]![3]).toBeCloseTo(0.8 * 2.5, 5);
    }
  });

  it('template with sform_code 4 (MNI) and qform_code 2 (aligned) on the same grid: both codes kept', async () => {
    // 180 deg about z (RAS diag(-1,-1,1)): quaternion (0, 0, 1); sform the same grid
    const srow = [
      [-2, 0, 0, 90],
      [0, -2, 0, 126],
      [0, 0, 2, -72],
    ];
    const input = buildNifti({ dim: [3, 4, 3, 2], datatype: 16, pixdim: [1, 2, 2, 2], qformCode: 2, sformCode: 4, quatern: [0, 0, 1], qoffset: [90, 126, -72], srow, values: new Array(24).fill(1) });
    const inPath = join(dir, 'mni.nii');
    writeFileSync(inPath, input);
    const im = await readNifti(inPath);
    expect(im.warnings ?? []).toEqual([]);
    const outPath = join(dir, 'mni-seg.nii');
    await writeNifti(outPath, { ...im, data: new Uint8Array(24).fill(1), header: undefined }, { dtype: 'uint8', template: im.header });
    const out = headerFields(readFileSync(outPath));
    expect([out.qformCode, out.sformCode]).toEqual([2, 4]);
    expect(out.srow).toEqual(srow.flat());
    const nOut = nibabelView(outPath);
    if (nOut) expect(nOut.codes).toEqual([2, 4]);
  });

  it('NIfTI-2 template: the output is NIfTI-2 with the input codes (sform 2) and its float64 transform kept exactly', async () => {
    const srow = [
      [-0.7000000001, 0, 0, 100.123456789012],
      [0, 0.75, 0, -50.987654321098],
      [0, 0, 1.5, 12.000000000001],
    ];
    const input = buildNifti({ version: 2, dim: [3, 5, 4, 3], datatype: 16, pixdim: [1, 0.7000000001, 0.75, 1.5], qformCode: 0, sformCode: 2, srow, values: Array.from({ length: 60 }, (_, i) => i / 2) });
    const inPath = join(dir, 'n2.nii');
    writeFileSync(inPath, input);
    const im = await readNifti(inPath);
    expect(im.header.version).toBe(2);
    const seg = Uint8Array.from({ length: 60 }, (_, i) => i % 4);
    const outPath = join(dir, 'n2-seg.nii.gz');
    await writeNifti(outPath, { ...im, data: seg, header: undefined }, { dtype: 'uint8', template: im.header });
    const raw = gunzipSync(readFileSync(outPath));
    const out = headerFields(raw);
    // was: NIfTI-1 (sizeof_hdr 348) with sform_code 1 and float32 transforms
    expect(out.sizeofHdr).toBe(540);
    expect(out.magic).toBe('n+2\0\r\n\x1a\n');
    expect(out.dim).toEqual([3, 5, 4, 3, 0, 0, 0, 0]);
    expect(out.datatype).toBe(2);
    expect(out.voxOffset).toBe(544);
    expect([out.qformCode, out.sformCode]).toEqual([0, 2]);
    expect(out.srow).toEqual(srow.flat());
    expect(out.pixdim.slice(0, 4)).toEqual([1, 0.7000000001, 0.75, 1.5]);
    expect(out.xyztUnits).toBe(2);
    expect(raw.readInt32LE(540)).toBe(0); // no extension
    expect(Array.from(raw.subarray(544))).toEqual(Array.from(seg));
    expect(raw.length).toBe(544 + 60);
    const back = await readNifti(outPath);
    expect([back.spacing, back.origin, back.direction]).toEqual([im.spacing, im.origin, im.direction]);
    // another grid: written fresh (codes 1), still NIfTI-2 with float64 numbers
    await writeNifti(outPath, { ...im, data: seg, origin: [1.1, 2.2, 3.3], header: undefined }, { dtype: 'uint8', template: im.header });
    const moved = headerFields(gunzipSync(readFileSync(outPath)));
    expect([moved.sizeofHdr, moved.qformCode, moved.sformCode]).toEqual([540, 1, 1]);
    expect([moved.srow[3], moved.srow[7], moved.srow[11]]).toEqual([-1.1, -2.2, 3.3]);
    expect((await readNifti(outPath)).origin).toEqual([1.1, 2.2, 3.3]);
    const nOut = nibabelView(outPath);
    if (nOut) {
      expect(nOut.version).toBe(2);
      expect(nOut.codes).toEqual([1, 1]);
    }
  });

  it('a missing output folder is a DataError and leaves no temp file', async () => {
    const p = join(dir, 'no', 'such', 'x.nii');
    await expect(writeNifti(p, image())).rejects.toThrow(`cannot write ${p} (ENOENT)`);
  });

  it('shape/data mismatch is refused', async () => {
    await expect(writeNifti(join(dir, 'm.nii'), image({ data: new Uint8Array(5) }))).rejects.toThrow(/has 5 voxels but shape/);
  });
});

describe('plugin', () => {
  it('registers reader and writer `nifti`; a second registration needs override', () => {
    const r = new Registry();
    registerDefaults(r);
    expect(r.get('reader', 'nifti').extensions).toEqual(['.nii', '.nii.gz']);
    expect(r.get('writer', 'nifti').name).toBe('nifti');
    expect(() => plugin.register(r)).toThrow(/already registered/);
    plugin.register(r, { override: true });
  });

  it('sniff: gzip magic and sizeof_hdr 348/540 in either endianness', () => {
    const s = niftiReader.sniff!;
    expect(s(Uint8Array.from([0x1f, 0x8b, 8, 0]), 'x')).toBe(true);
    expect(s(Uint8Array.from([0x5c, 1, 0, 0]), 'x')).toBe(true); // 348 LE
    expect(s(Uint8Array.from([0, 0, 1, 0x5c]), 'x')).toBe(true); // 348 BE
    expect(s(Uint8Array.from([0x1c, 2, 0, 0]), 'x')).toBe(true); // 540 LE
    expect(s(Uint8Array.from([0, 0, 0, 0]), 'x')).toBe(false);
    expect(s(Uint8Array.from([0x4e, 0x52, 0x52, 0x44]), 'x')).toBe(false); // "NRRD"
  });
});
