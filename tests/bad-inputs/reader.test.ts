/**
 * Bad-input rows exercised at the image reader/writer level (registry `nifti` reader and writer of io-nifti).
 * Each test builds its file with the permissive generator in ./generate.ts.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { indexToWorld, type MedicalImage } from '@nnunet-ts/core';
import {
  cleanupTemp,
  fill,
  niftiBytes,
  parseNiftiHeader,
  put,
  rng,
  rotX,
  tempDir,
  vol,
  worldOf,
  writeNiftiFile,
} from './generate.js';
import { errorText, isUserError, makeRegistry, niftiReader, niftiWriter, thrown } from './harness.js';

afterAll(cleanupTemp);

const corners = (n: number[]) => {
  const out: number[][] = [];
  for (const k of [0, n[2]! - 1]) for (const j of [0, n[1]! - 1]) for (const i of [0, n[0]! - 1]) out.push([i, j, k]);
  return out;
};

function expectWorldClose(img: MedicalImage, ijk: number[], expected: number[], tol = 1e-4) {
  const w = indexToWorld(img, ijk as [number, number, number]);
  for (let a = 0; a < 3; a++) expect(Math.abs(w[a]! - expected[a]!), `world[${a}] of voxel ${ijk}`).toBeLessThan(tol);
}

describe('reader rows', () => {
  it('B09: 4D NIfTI with channels in dim[4] is split on load (or rejected clearly); spacing stays (1,1,3)', async () => {
    const dir = tempDir();
    const [ni, nj, nk] = [8, 8, 4];
    const n = ni * nj * nk;
    const data = new Float32Array(2 * n);
    data.fill(10, 0, n);
    data.fill(20, n);
    const path = writeNiftiFile(join(dir, 'four_d.nii.gz'), {
      dims: [ni, nj, nk, 2],
      dtype: 'float32',
      data,
      spacing: [1, 1, 3, 1],
    });
    const reader = niftiReader();
    let img: MedicalImage | undefined;
    try {
      img = await reader.read(path);
    } catch (e) {
      // the other accepted outcome: a clear refusal that says how to split the channels
      expect(isUserError(e), errorText(e)).toBe(true);
      expect(errorText(e)).toContain('four_d.nii.gz');
      expect(errorText(e)).toMatch(/4D/i);
      expect(errorText(e)).toMatch(/_0000/);
      return;
    }
    expect(img.shape).toEqual([2, nk, nj, ni]);
    expect(img.spacing).toEqual([3, 1, 1]);
    expect(Array.from(new Set(img.data.subarray(0, n)))).toEqual([10]);
    expect(Array.from(new Set(img.data.subarray(n)))).toEqual([20]);
  });

  it('B11: dim[4..7] = 0 and scl_slope = 0 give 256 voxels holding the stored ramp', async () => {
    const dir = tempDir();
    const ramp = Array.from({ length: 256 }, (_, i) => i);
    const path = writeNiftiFile(join(dir, 'degenerate.nii'), {
      dims: [8, 8, 4],
      rawDim: [3, 8, 8, 4, 0, 0, 0, 0],
      dtype: 'int16',
      data: ramp,
      sclSlope: 0,
      sclInter: 0,
    });
    const img = await niftiReader().read(path);
    expect(img.shape).toEqual([1, 4, 8, 8]);
    expect(img.data.length).toBe(256);
    expect(Array.from(img.data)).toEqual(ramp);
  });

  it('B13: uint16 storage with scl_inter -1024 decodes to -1024..3071 without wrap-around', async () => {
    const dir = tempDir();
    const stored = Array.from({ length: 256 }, (_, i) => Math.round((i * 4095) / 255));
    const path = writeNiftiFile(join(dir, 'ct_uint16.nii.gz'), {
      dims: [8, 8, 4],
      dtype: 'uint16',
      data: stored,
      sclSlope: 1,
      sclInter: -1024,
    });
    const img = await niftiReader().read(path);
    expect(img.data).not.toBeInstanceOf(Uint16Array);
    expect(img.data).not.toBeInstanceOf(Uint8Array);
    expect(img.data).not.toBeInstanceOf(Uint32Array);
    expect(Array.from(img.data)).toEqual(stored.map((v) => v - 1024));
    expect(Math.min(...img.data)).toBe(-1024);
    expect(Math.max(...img.data)).toBe(3071);
  });

  it('B27: a header declaring 1024x1024x600 float32 fails before allocating, with bytes needed vs limit', async () => {
    const dir = tempDir();
    // header + 4 KiB of voxels: the declared size is 2,516,582,400 bytes
    const full = niftiBytes({ dims: [4, 4, 4], dtype: 'float32', data: new Float32Array(64) });
    const hdr = full.slice(0, 352);
    new DataView(hdr.buffer).setInt16(42, 1024, true);
    new DataView(hdr.buffer).setInt16(44, 1024, true);
    new DataView(hdr.buffer).setInt16(46, 600, true);
    const bytes = new Uint8Array(352 + 4096);
    bytes.set(hdr);
    const reader = niftiReader();
    for (const name of ['huge.nii', 'huge.nii.gz']) {
      const path = put(join(dir, name), name.endsWith('.gz') ? gzipSync(bytes) : bytes);
      const err = await thrown(() => reader.read(path));
      const text = errorText(err);
      expect(isUserError(err), text).toBe(true);
      expect(err).not.toBeInstanceOf(RangeError);
      expect(text).toContain(name);
      // the bytes needed are stated (exact count or GiB/GB), and compared with a limit or with what the file holds
      expect(text).toMatch(/2516582400|2[.,]34\s*GiB|2[.,]5\d?\s*GB/);
      expect(text).toMatch(/limit|truncat|only|expected/i);
    }
    // NIfTI-2 (int64 dims): 1024 x 1024 x 600 x 2 float32 = 5,033,164,800 bytes, beyond any typed array here
    const full2 = niftiBytes({ version: 2, dims: [4, 4, 4], dtype: 'float32', data: new Float32Array(64) });
    const hdr2 = full2.slice(0, 544);
    const dv2 = new DataView(hdr2.buffer);
    dv2.setBigInt64(16, 4n, true);
    for (const [i, v] of [[1, 1024n], [2, 1024n], [3, 600n], [4, 2n]] as const) dv2.setBigInt64(16 + 8 * i, v, true);
    const bytes2 = new Uint8Array(544 + 4096);
    bytes2.set(hdr2);
    const path2 = put(join(dir, 'huge2.nii'), bytes2);
    const err2 = await thrown(() => reader.read(path2));
    expect(isUserError(err2), errorText(err2)).toBe(true);
    expect(errorText(err2)).toContain('huge2.nii');
    expect(errorText(err2)).toMatch(/5033164800|4[.,]69\s*GiB|5[.,]0\d?\s*GB/);
  });

  it('B30: sform with unit scale against pixdim 0.866/0.796 (qform 0) loads deterministically with a warning', async () => {
    const dir = tempDir();
    const data = fill([16, 16, 16], (i, j, k) => i + j + k);
    const path = writeNiftiFile(join(dir, 'sform_vs_pixdim.nii.gz'), {
      dims: [16, 16, 16],
      dtype: 'float32',
      data,
      spacing: [0.865759, 0.865759, 0.796],
      qformCode: 0,
      sformCode: 2,
      srow: [
        [1, 0, 0, -54.98],
        [0, 1, 0, -54.98],
        [0, 0, 1, -37.41],
      ],
    });
    const img = await niftiReader().read(path);
    expect(img.shape).toEqual([1, 16, 16, 16]);
    // the voxel (0,0,0) lies at the sform offset, RAS (-54.98,-54.98,-37.41) = LPS (54.98, 54.98, -37.41)
    for (let a = 0; a < 3; a++) expect(img.origin[a]).toBeCloseTo([54.98, 54.98, -37.41][a]!, 4);
    // spacing: the sform column norms (1,1,1), or the pixdim fallback; either way one deterministic choice
    const fromSform = img.spacing.every((s) => Math.abs(s - 1) < 1e-6);
    const fromPixdim = [0.796, 0.865759, 0.865759].every((s, a) => Math.abs(img.spacing[a]! - s) < 1e-5);
    expect(fromSform || fromPixdim, `spacing ${img.spacing}`).toBe(true);
    const d = img.direction;
    [-1, 0, 0, 0, -1, 0, 0, 0, 1].forEach((v, i) => expect(d[i]).toBeCloseTo(v, 6));
    expect(img.warnings?.join('\n') ?? '', 'a warning describing the sform/pixdim inconsistency').toMatch(/pixdim|sform|scale|spacing/i);
    const again = await niftiReader().read(path);
    expect(again.spacing).toEqual(img.spacing);
  });

  it('B30 (shear variant): a slightly sheared sform loads with an orthonormal direction and a warning', async () => {
    const dir = tempDir();
    const path = writeNiftiFile(join(dir, 'sheared.nii.gz'), {
      dims: [8, 8, 8],
      dtype: 'float32',
      data: fill([8, 8, 8], (i) => i),
      spacing: [1, 1, 1],
      qformCode: 0,
      sformCode: 2,
      srow: [
        [1, 0.001, 0, 0],
        [0, 1, 0.0012, 0],
        [0.0009, 0, 1, 0],
      ],
    });
    const img = await niftiReader().read(path);
    const d = img.direction;
    // columns are orthonormal
    for (let a = 0; a < 3; a++) {
      for (let b = 0; b < 3; b++) {
        const dot = d[a]! * d[b]! + d[3 + a]! * d[3 + b]! + d[6 + a]! * d[6 + b]!;
        expect(Math.abs(dot - (a === b ? 1 : 0)), `column ${a}.${b}`).toBeLessThan(1e-6);
      }
    }
    // and close to the normalised sform columns (LPS = RAS with x, y negated)
    [-1, 0, 0, 0, -1, 0, 0, 0, 1].forEach((v, i) => expect(Math.abs(d[i]! - v)).toBeLessThan(3e-3));
    for (const s of img.spacing) expect(Math.abs(s - 1)).toBeLessThan(1e-5);
    expect(img.warnings?.join('\n') ?? '', 'a warning about the non-orthonormal affine').toMatch(/orthonormal|shear|orthogonal/i);
  });

  it('B31: a non-symmetric rotated direction reads correctly and survives write -> read (no transposition)', async () => {
    const dir = tempDir();
    const direction = rotX(14);
    const spacing = [1, 1, 1];
    const origin = [3, -7, 11];
    const data = fill([8, 8, 8], (i, j, k) => (i + j + k) % 3);
    const path = writeNiftiFile(join(dir, 'rotated_label.nii.gz'), vol([8, 8, 8], 'uint8', data, { spacing, origin, direction }));
    const reg = makeRegistry();
    const img = await niftiReader(reg).read(path);
    direction.forEach((v, i) => expect(Math.abs(img.direction[i]! - v), `direction[${i}]`).toBeLessThan(1e-6));
    expectWorldClose(img, [1, 2, 3], worldOf(spacing, origin, direction, [1, 2, 3]), 1e-5);
    for (const ending of ['.nii', '.nii.gz']) {
      const out = join(dir, `roundtrip${ending}`);
      const mem: MedicalImage = {
        data: new Uint8Array(img.data),
        shape: img.shape,
        spacing: [1, 1, 1],
        origin: origin as [number, number, number],
        direction,
      };
      await niftiWriter(reg).write(out, mem, { dtype: 'uint8' });
      const back = await niftiReader(reg).read(out);
      direction.forEach((v, i) => expect(Math.abs(back.direction[i]! - v), `${ending} direction[${i}]`).toBeLessThan(1e-6));
      expectWorldClose(back, [1, 2, 3], worldOf(spacing, origin, direction, [1, 2, 3]), 1e-5);
      // the bytes on disk, read by an independent parser: sform rows are RAS = LPS rows with x, y negated
      const raw = readFileSync(out);
      const h = parseNiftiHeader(ending === '.nii.gz' ? gunzipSync(raw) : raw);
      if (h.sformCode > 0) {
        const flip = [-1, -1, 1];
        for (let r = 0; r < 3; r++) for (let c = 0; c < 3; c++) expect(Math.abs(h.srow[r]![c]! - flip[r]! * direction[r * 3 + c]!)).toBeLessThan(1e-6);
      }
      expect(Array.from(back.data)).toEqual(Array.from(img.data));
    }
    // .nrrd through the itk writer/reader (ITK-Wasm#1011 was about this path)
    const nrrd = join(dir, 'roundtrip.nrrd');
    const mem: MedicalImage = { data: new Uint8Array(img.data), shape: img.shape, spacing: [1, 1, 1], origin: origin as [number, number, number], direction };
    await reg.get('writer', 'itk').write(nrrd, mem, { dtype: 'uint8' });
    const backNrrd = await reg.get('reader', 'itk').read(nrrd);
    direction.forEach((v, i) => expect(Math.abs(backNrrd.direction[i]! - v), `.nrrd direction[${i}]`).toBeLessThan(1e-6));
    expectWorldClose(backNrrd, [1, 2, 3], worldOf(spacing, origin, direction, [1, 2, 3]), 1e-5);
    // and the NRRD header text itself: "space directions" lists the world vector of each index axis (columns)
    const text = readFileSync(nrrd).subarray(0, 2048).toString('latin1');
    const dirs = /space directions:\s*(.*)/.exec(text)?.[1] ?? '';
    const vecs = [...dirs.matchAll(/\(([^)]*)\)/g)].map((m) => m[1]!.split(',').map(Number));
    expect(vecs.length).toBe(3);
    for (let c = 0; c < 3; c++) for (let r2 = 0; r2 < 3; r2++) expect(Math.abs(vecs[c]![r2]! - direction[r2 * 3 + c]!)).toBeLessThan(1e-6);
  });

  for (const variant of ['qform and sform', 'qform only'] as const) {
    it(`B32: negative pixdim (2,-2,5) is folded into the direction; corners survive load -> save -> load (${variant})`, async () => {
      const dir = tempDir();
      const dims: [number, number, number] = [6, 6, 6];
      const spacing = [2, -2, 5];
      const direction = [1, 0, 0, 0, -1, 0, 0, 0, 1];
      const origin = [1, 2, 3];
      const path = writeNiftiFile(join(dir, 'neg_pixdim.nii.gz'), {
        ...vol(dims, 'float32', fill(dims, (i, j, k) => i + 10 * j + 100 * k), { spacing, origin, direction }),
        sformCode: variant === 'qform only' ? 0 : 1,
      });
      expect(parseNiftiHeader(gunzipSync(readFileSync(path))).pixdim[2]).toBe(-2);
      const reg = makeRegistry();
      const img = await niftiReader(reg).read(path);
      expect(img.spacing).toEqual([5, 2, 2]);
      expect(img.warnings?.join('\n') ?? '', 'warning about the negative pixdim').toMatch(/negative/i);
      const expected = corners(dims).map((ijk) => worldOf(spacing, origin, direction, ijk));
      corners(dims).forEach((ijk, n) => expectWorldClose(img, ijk, expected[n]!));
      const out = join(dir, 'resaved.nii.gz');
      await niftiWriter(reg).write(out, img, { template: img.header });
      const back = await niftiReader(reg).read(out);
      expect(back.spacing).toEqual([5, 2, 2]);
      corners(dims).forEach((ijk, n) => expectWorldClose(back, ijk, expected[n]!));
      expect(Array.from(back.data)).toEqual(Array.from(img.data));
    });
  }

  it('B37 (a): uncompressed NIfTI bytes named .nii.gz are sniffed and read, with a warning', async () => {
    const dir = tempDir();
    const data = fill([4, 4, 4], (i, j, k) => i * 16 + j * 4 + k);
    const path = writeNiftiFile(join(dir, 'fake_gzip.nii.gz'), vol([4, 4, 4], 'int16', data), { gzip: false });
    const img = await niftiReader().read(path);
    expect(Array.from(img.data)).toEqual(Array.from(data));
    expect(img.warnings?.join('\n') ?? '').toMatch(/not gzip|uncompressed/i);
  });

  it('B37 (b): a .nii.gz truncated by 1 KiB fails with "truncated" and the voxel bytes got vs expected', async () => {
    const dir = tempDir();
    const r = rng(37);
    const data = Array.from({ length: 16 * 16 * 16 }, () => r() * 1000);
    const gz = gzipSync(niftiBytes(vol([16, 16, 16], 'float32', data)));
    const path = put(join(dir, 'truncated.nii.gz'), gz.subarray(0, gz.length - 1024));
    const err = await thrown(() => niftiReader().read(path));
    const text = errorText(err);
    expect(isUserError(err), text).toBe(true);
    expect(text).toContain('truncated.nii.gz');
    expect(text).toMatch(/truncat/i);
    expect(text).toContain('16384'); // expected voxel bytes
  });

  it('B37 (c): 1000 zero bytes named x.nii.gz fail with "not a NIfTI or gzip file"', async () => {
    const dir = tempDir();
    const path = put(join(dir, 'x.nii.gz'), new Uint8Array(1000));
    const err = await thrown(() => niftiReader().read(path));
    const text = errorText(err);
    expect(isUserError(err), text).toBe(true);
    expect(text).toContain('x.nii.gz');
    expect(text).toMatch(/not a NIfTI/i);
    expect(text).toMatch(/gzip/i);
  });
});
