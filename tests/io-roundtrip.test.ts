/**
 * Writer cross-checks: what io-nifti writes io-itk reads back with the same geometry (and the reverse), and a
 * prediction written with the input's header as template reproduces the real input header byte for byte (B33).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { indexToWorld, type MedicalImage } from '@nnunet-ts/core';
import { readNifti, writeNifti } from '@nnunet-ts/io-nifti';
import { readItk, writeItk } from '@nnunet-ts/io-itk';
import { sharedPath } from './helpers/paths.js';

const dir = mkdtempSync(join(tmpdir(), 'io-rt-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const deg = (14 * Math.PI) / 180;
// B31 direction; combined with a y flip so the matrix is non-symmetric and improper.
const oblique = [1, 0, 0, 0, -Math.cos(deg), -Math.sin(deg), 0, -Math.sin(deg), Math.cos(deg)];
const img: MedicalImage = {
  data: Int16Array.from({ length: 6 * 5 * 4 }, (_, i) => i * 3 - 100),
  shape: [1, 4, 5, 6],
  spacing: [2.5, 0.8, 1.2],
  origin: [12.5, -318, 40.25],
  direction: oblique,
};

function expectClose(a: MedicalImage, b: MedicalImage): void {
  expect(a.shape).toEqual(b.shape);
  expect(Array.from(a.data)).toEqual(Array.from(b.data));
  a.direction.forEach((v, i) => expect(Math.abs(v - b.direction[i]!)).toBeLessThan(1e-6));
  a.spacing.forEach((v, i) => expect(Math.abs(v - b.spacing[i]!)).toBeLessThan(1e-6));
  for (const ijk of [[0, 0, 0], [1, 2, 3], [5, 4, 3]] as [number, number, number][]) {
    const w1 = indexToWorld(a, ijk);
    indexToWorld(b, ijk).forEach((v, i) => expect(Math.abs(v - w1[i]!)).toBeLessThan(1e-4));
  }
}

describe('writer cross-checks', () => {
  it('io-nifti writes, io-itk reads (qform/sform codes 1)', async () => {
    const p = join(dir, 'n2i.nii.gz');
    await writeNifti(p, img);
    expectClose(img, await readItk(p));
  });

  it('io-itk writes NIfTI, io-nifti reads', async () => {
    const p = join(dir, 'i2n.nii.gz');
    await writeItk(p, img);
    const back = await readNifti(p);
    expectClose(img, back);
    expect(back.warnings).toEqual([]);
  });

  it('io-itk writes NRRD, io-itk reads; io-nifti writes the same image: same world grid', async () => {
    const p = join(dir, 'x.nrrd');
    await writeItk(p, img);
    const a = await readItk(p);
    await writeNifti(join(dir, 'x.nii'), a);
    expectClose(img, await readNifti(join(dir, 'x.nii')));
  });

  it('a 2-channel image written by io-nifti (4D) reads through io-itk as [c, z, y, x]', async () => {
    const data = Float32Array.from({ length: 2 * 4 * 5 * 6 }, (_, i) => i / 4);
    const p = join(dir, 'c2.nii.gz');
    await writeNifti(p, { ...img, data, shape: [2, 4, 5, 6] });
    const back = await readItk(p);
    expect(back.shape).toEqual([2, 4, 5, 6]);
    expect(Array.from(back.data)).toEqual(Array.from(data));
    back.direction.forEach((v, i) => expect(Math.abs(v - oblique[i]!)).toBeLessThan(1e-6));
  });

  it('B33: a uint8 label written with a real input header as template is byte-identical to that header', async () => {
    const src = sharedPath('data', 'Task04_Hippocampus', 'labelsTr', 'hippocampus_004.nii.gz');
    const label = await readNifti(src);
    expect(label.data).toBeInstanceOf(Uint8Array);
    const out = join(dir, 'hippocampus_004.nii.gz');
    await writeNifti(out, { ...label, header: undefined }, { dtype: 'uint8', template: label.header });
    const a = gunzipSync(readFileSync(src));
    const b = gunzipSync(readFileSync(out));
    expect(b.length).toBe(a.length);
    expect(Buffer.compare(a, b)).toBe(0);
  });

  it('B33: a prediction for a float32 CT (sform only) keeps the input geometry bytes', async () => {
    const src = sharedPath('data', 'Task09_Spleen_subset', 'imagesTr', 'spleen_2.nii.gz');
    const ct = await readNifti(src);
    const seg = new Uint8Array(ct.data.length);
    const out = join(dir, 'spleen_2.nii.gz');
    await writeNifti(out, { ...ct, data: seg, header: undefined }, { dtype: 'uint8', template: ct.header });
    const a = gunzipSync(readFileSync(src));
    const b = gunzipSync(readFileSync(out));
    // pixdim, qform/sform codes, quaternion, qoffset, srow: bytes 76-107 and 252-343
    expect(Buffer.compare(a.subarray(76, 108), b.subarray(76, 108))).toBe(0);
    expect(Buffer.compare(a.subarray(252, 344), b.subarray(252, 344))).toBe(0);
    const back = await readItk(out);
    expect(back.origin).toEqual(ct.origin);
    expect(back.spacing).toEqual(ct.spacing);
    expect(back.direction).toEqual(ct.direction);
  });
});
