/**
 * Cross-check of the two readers on the real volumes in shared/data: every file both io-nifti and io-itk can read
 * must give identical voxel values and the same geometry within 1e-5 (spacing mm, origin mm, direction entries).
 * Task04_Hippocampus is sampled (every 10th file of imagesTr and labelsTr, plus imagesTs); every other dataset is
 * read in full. Files only one package reads (NRRD, DICOM) are checked for a clean DataError from io-nifti.
 */
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DataError, indexToWorld, type MedicalImage } from '@nnunet-ts/core';
import { readNifti } from '@nnunet-ts/io-nifti';
import { readItk } from '@nnunet-ts/io-itk';
import { sharedPath } from './helpers/paths.js';

const DATA = sharedPath('data');

function walk(d: string): string[] {
  return readdirSync(d)
    .sort()
    .flatMap((n) => {
      const p = join(d, n);
      return statSync(p).isDirectory() ? walk(p) : [p];
    });
}

const all = walk(DATA);
const isNifti = (p: string): boolean => /\.nii(\.gz)?$/i.test(p);
const hippo = (p: string): boolean => relative(DATA, p).startsWith('Task04_Hippocampus');
const niftiFiles = [
  ...all.filter((p) => isNifti(p) && hippo(p)).filter((p, i, arr) => p.includes('imagesTs') || arr.indexOf(p) % 10 === 0),
  ...all.filter((p) => isNifti(p) && !hippo(p)),
];
const otherImages = all.filter((p) => /\.(nrrd|nhdr|mha|mhd|dcm)$/i.test(p));

function expectSameGeometry(a: MedicalImage, b: MedicalImage, tol = 1e-5): void {
  expect(a.shape).toEqual(b.shape);
  a.spacing.forEach((v, i) => expect(Math.abs(v - b.spacing[i]!), `spacing[${i}] ${v} vs ${b.spacing[i]}`).toBeLessThanOrEqual(tol));
  a.origin.forEach((v, i) => expect(Math.abs(v - b.origin[i]!), `origin[${i}] ${v} vs ${b.origin[i]}`).toBeLessThanOrEqual(tol));
  a.direction.forEach((v, i) => expect(Math.abs(v - b.direction[i]!), `direction[${i}] ${v} vs ${b.direction[i]}`).toBeLessThanOrEqual(tol));
}

describe('io-nifti and io-itk agree on every NIfTI file in shared/data', () => {
  it('finds the datasets (sampling is not empty)', () => {
    expect(niftiFiles.length).toBeGreaterThan(60);
    expect(otherImages.length).toBeGreaterThan(150);
  });

  it.each(niftiFiles.map((p) => [relative(DATA, p), p]))('%s', async (_name, path) => {
    const a = await readNifti(path);
    const b = await readItk(path);
    expectSameGeometry(a, b);
    expect(a.data.length).toBe(b.data.length);
    let diff = 0;
    let at = -1;
    for (let i = 0; i < a.data.length; i++) {
      if (a.data[i] !== b.data[i]) {
        diff++;
        if (at < 0) at = i;
      }
    }
    expect(diff, `first difference at ${at}: ${a.data[at]} vs ${b.data[at]}`).toBe(0);
    // Same world position for a voxel off the axes (catches axis-order and sign mistakes the 1-voxel checks miss).
    const w1 = indexToWorld(a, [1, 2, 3]);
    const w2 = indexToWorld(b, [1, 2, 3]);
    w1.forEach((v, i) => expect(Math.abs(v - w2[i]!)).toBeLessThanOrEqual(1e-4));
  });
});

describe('files only io-itk reads', () => {
  it.each(otherImages.filter((_, i) => i % 5 === 0).map((p) => [relative(DATA, p), p]))(
    'io-nifti refuses %s with a DataError, io-itk reads it',
    async (_name, path) => {
      await expect(readNifti(path)).rejects.toThrow(DataError);
      await expect(readNifti(path)).rejects.toThrow(`not a NIfTI or gzip file: ${path}`);
      const img = await readItk(path);
      expect(img.data.length).toBe(img.shape.reduce((x, y) => x * y, 1));
    },
  );

  it('the TotalSegmentator DICOM series (JPEG 2000) covers the same world box as its NIfTI segmentation', async () => {
    const series = await readItk(join(DATA, 'oddities', 'totalsegmentator', 'example_ct_dicom'));
    const seg = await readNifti(join(DATA, 'oddities', 'totalsegmentator', 'example_seg_dicom.nii.gz'));
    expect(series.shape).toEqual([1, 20, 512, 512]);
    expect(seg.shape).toEqual(series.shape);
    series.spacing.forEach((v, i) => expect(v).toBeCloseTo(seg.spacing[i]!, 4));
    // The NIfTI is stored LAS (y flipped), the DICOM LPS: compare the 8 corners as sets of world points.
    const corners = (m: MedicalImage): string[] => {
      const [, z, y, x] = m.shape;
      const out: string[] = [];
      for (const i of [0, x - 1]) for (const j of [0, y - 1]) for (const k of [0, z - 1]) {
        out.push(indexToWorld(m, [i, j, k]).map((v) => v.toFixed(2)).join(','));
      }
      return out.sort();
    };
    expect(corners(series)).toEqual(corners(seg));
    // CT in HU after the DICOM rescale
    let min = Infinity;
    for (let i = 0; i < series.data.length; i++) min = Math.min(min, series.data[i]!);
    expect(min).toBe(-1024);
  });
});
