import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { DataError, Registry, indexToWorld, readCaseGeometry } from '@nnunet-ts/core';
import { registerDefaults } from './index.js';
import { buildNifti, extensionBlock, type BuildOptions } from './__fixtures__/build.js';
import { readNifti, readNiftiInfo } from './reader.js';
import { orthonormalityError } from './geometry.js';

const dir = mkdtempSync(join(tmpdir(), 'io-nifti-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
function put(bytes: Uint8Array, name = `f${n++}.nii`): string {
  const p = join(dir, name);
  writeFileSync(p, name.endsWith('.gz') ? gzipSync(bytes) : bytes);
  return p;
}
const base = (o: Partial<BuildOptions> & Pick<BuildOptions, 'values'>): BuildOptions => ({
  dim: [3, 3, 2, 2],
  datatype: 16,
  pixdim: [1, 1, 1, 1],
  qformCode: 1,
  ...o,
});

describe('datatypes and endianness', () => {
  const cases: [number, string, number[]][] = [
    [2, 'Uint8Array', [0, 1, 2, 127, 128, 200, 254, 255, 3, 4, 5, 6]],
    [256, 'Int8Array', [-128, -1, 0, 1, 127, 5, -5, 6, -6, 7, -7, 8]],
    [4, 'Int16Array', [-32768, -1, 0, 1, 32767, 300, -300, 1000, -1000, 7, 8, 9]],
    [512, 'Uint16Array', [0, 1, 65535, 40000, 300, 2, 3, 4, 5, 6, 7, 8]],
    [8, 'Int32Array', [-(2 ** 31), -1, 0, 1, 2 ** 31 - 1, 70000, -70000, 3, 4, 5, 6, 7]],
    [768, 'Uint32Array', [0, 1, 2 ** 32 - 1, 3e9, 5, 6, 7, 8, 9, 10, 11, 12]],
    [16, 'Float32Array', [-1.5, 0, 0.25, 3.5e6, -7.125, 1, 2, 3, 4, 5, 6, 7]],
    [64, 'Float64Array', [Math.PI, -Math.E, 1e-300, 1e300, 0, 1, 2, 3, 4, 5, 6, 7]],
  ];
  for (const [code, cls, values] of cases) {
    for (const le of [true, false]) {
      it(`datatype ${code} -> ${cls}, ${le ? 'little' : 'big'}-endian`, async () => {
        const img = await readNifti(put(buildNifti(base({ datatype: code, littleEndian: le, values }))));
        expect(img.data.constructor.name).toBe(cls);
        expect(Array.from(img.data)).toEqual(values);
        expect(img.shape).toEqual([1, 2, 2, 3]);
        expect(img.header.littleEndian).toBe(le);
      });
    }
  }

  it('int64/uint64 (what nibabel writes for np.int64 label maps) are read exactly: Int32Array when the values fit, else Float64Array up to 2^53 (was: refused, suggesting float32)', async () => {
    for (const le of [true, false]) {
      const labels = [0, 17, 53, 0, 17, 53, 0, 0, 2, 1, 0, 0];
      const lab = await readNifti(put(buildNifti(base({ datatype: 1024, littleEndian: le, values: labels })), `int64-${le}.nii`));
      expect(lab.data.constructor.name).toBe('Int32Array');
      expect(Array.from(lab.data)).toEqual(labels);
      const big = [0, 1, 2 ** 40, 2 ** 53, 5, 6, 7, 8, 9, 10, 11, 12];
      const u = await readNifti(put(buildNifti(base({ datatype: 1280, littleEndian: le, values: big })), `uint64-${le}.nii`));
      expect(u.data.constructor.name).toBe('Float64Array');
      expect(Array.from(u.data)).toEqual(big);
      const neg = await readNifti(put(buildNifti(base({ datatype: 1024, littleEndian: le, values: [-(2 ** 31), -(2 ** 31) - 1, ...labels.slice(2)] })), `int64n-${le}.nii`));
      expect(neg.data.constructor.name).toBe('Float64Array');
      expect(neg.data[1]).toBe(-(2 ** 31) - 1);
    }
    const p = put(buildNifti(base({ datatype: 1024, values: [0, 1, 2, 2 ** 60, 0, 0, 0, 0, 0, 0, 0, 0] })), 'int64-huge.nii');
    await expect(readNifti(p)).rejects.toThrow(`${p}: voxel 3 holds ${2n ** 60n} (int64), beyond 2^53: it cannot be read exactly`);
  });

  it('reads NIfTI-2 (both endiannesses) with geometry from its float64 sform', async () => {
    for (const le of [true, false]) {
      const bytes = buildNifti({
        version: 2,
        littleEndian: le,
        dim: [3, 3, 2, 2],
        datatype: 4,
        pixdim: [1, 0.5, 2, 3],
        sformCode: 1,
        srow: [
          [0.5, 0, 0, 10.25],
          [0, 2, 0, -20.5],
          [0, 0, 3, 30.125],
        ],
        values: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12],
      });
      const img = await readNifti(put(bytes, `v2-${le}.nii.gz`));
      expect(img.header.version).toBe(2);
      expect(Array.from(img.data)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
      expect(img.spacing).toEqual([3, 2, 0.5]);
      expect(img.origin).toEqual([-10.25, 20.5, 30.125]);
      expect(img.direction).toEqual([-1, 0, 0, 0, -1, 0, 0, 0, 1]);
    }
  });

  it('rejects RGB and complex data with a DataError naming the file', async () => {
    const p = put(buildNifti(base({ datatype: 128, values: new Array(36).fill(0) })));
    await expect(readNifti(p)).rejects.toThrow(DataError);
    await expect(readNifti(p)).rejects.toThrow(/RGB24 is not supported/);
    await expect(readNifti(p)).rejects.toThrow(p);
    const c = put(buildNifti(base({ datatype: 32, values: new Array(12).fill(0) })));
    await expect(readNifti(c)).rejects.toThrow(/complex64 is not supported/);
  });
});

describe('dims and scaling', () => {
  it('B11: dims beyond dim[0] or 0 count as 1 and scl_slope 0 means no scaling', async () => {
    const ramp = Array.from({ length: 256 }, (_, i) => i);
    const p = put(
      buildNifti({ dim: [3, 8, 8, 4, 0, 0, 0, 0], datatype: 4, sclSlope: 0, sclInter: 0, qformCode: 1, values: ramp }),
    );
    const img = await readNifti(p);
    expect(img.shape).toEqual([1, 4, 8, 8]);
    expect(img.data).toBeInstanceOf(Int16Array);
    expect(Array.from(img.data)).toEqual(ramp);
    // dim[4] = 5 but dim[0] = 3: ignored.
    const q = put(buildNifti({ dim: [3, 8, 8, 4, 5], datatype: 4, qformCode: 1, values: ramp }));
    expect((await readNifti(q)).shape).toEqual([1, 4, 8, 8]);
  });

  it('NaN slope means no scaling; slope 1 / inter 0 keeps the stored type', async () => {
    const a = await readNifti(put(buildNifti(base({ datatype: 2, sclSlope: NaN, sclInter: 5, values: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12] }))));
    expect(a.data).toBeInstanceOf(Uint8Array);
    expect(a.data[11]).toBe(12);
    const b = await readNifti(put(buildNifti(base({ datatype: 2, sclSlope: 1, sclInter: 0, values: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12] }))));
    expect(b.data).toBeInstanceOf(Uint8Array);
  });

  it('B13: uint16 with a negative intercept decodes to signed Float32 HU', async () => {
    const stored = Array.from({ length: 256 }, (_, i) => i * 16); // 0..4080
    stored[255] = 4095;
    const img = await readNifti(put(buildNifti({ dim: [3, 8, 8, 4], datatype: 512, sclSlope: 1, sclInter: -1024, qformCode: 1, values: stored })));
    expect(img.data).toBeInstanceOf(Float32Array);
    expect(img.data[0]).toBe(-1024);
    expect(img.data[255]).toBe(3071);
    expect(img.data[100]).toBe(1600 - 1024);
  });

  it('int16 with slope 2, inter 0.5 gives Float32; int32 needing more than 24 bits gives Float64', async () => {
    const a = await readNifti(put(buildNifti(base({ datatype: 4, sclSlope: 2, sclInter: 0.5, values: [-3, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10] }))));
    expect(a.data).toBeInstanceOf(Float32Array);
    expect(Array.from(a.data).slice(0, 3)).toEqual([-5.5, 0.5, 2.5]);
    const big = 2 ** 30 + 1;
    const b = await readNifti(put(buildNifti(base({ datatype: 8, sclSlope: 1, sclInter: 1, values: [big, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10] }))));
    expect(b.data).toBeInstanceOf(Float64Array);
    expect(b.data[0]).toBe(big + 1);
    // int32 whose scaled values fit float32 exactly stays Float32
    const c = await readNifti(put(buildNifti(base({ datatype: 8, sclSlope: 0.5, sclInter: 0, values: [2, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10] }))));
    expect(c.data).toBeInstanceOf(Float32Array);
    expect(c.data[2]).toBe(0.5);
  });

  it('B09: 4D with channels in dim[4] -> [c, z, y, x], spacing from the 3 spatial pixdims', async () => {
    const vox = 16 * 16 * 8;
    const values = [...new Array(vox).fill(10), ...new Array(vox).fill(20)];
    const img = await readNifti(put(buildNifti({ dim: [4, 16, 16, 8, 2], pixdim: [1, 1, 1, 3, 1], datatype: 16, qformCode: 1, values }), 'b09.nii.gz'));
    expect(img.shape).toEqual([2, 8, 16, 16]);
    expect(img.spacing).toEqual([3, 1, 1]);
    expect(img.data[0]).toBe(10);
    expect(img.data[vox - 1]).toBe(10);
    expect(img.data[vox]).toBe(20);
    expect(img.data[2 * vox - 1]).toBe(20);
  });

  it('5D with dim[4] = 1 takes channels from dim[5]; both > 1 is refused', async () => {
    const values = Array.from({ length: 2 * 2 * 1 * 3 }, (_, i) => i);
    const img = await readNifti(put(buildNifti({ dim: [5, 2, 2, 1, 1, 3], datatype: 2, qformCode: 1, values })));
    expect(img.shape).toEqual([3, 1, 2, 2]);
    expect(Array.from(img.data)).toEqual(values);
    const p = put(buildNifti({ dim: [5, 2, 2, 1, 2, 3], datatype: 2, qformCode: 1, values: new Array(24).fill(0) }));
    await expect(readNifti(p)).rejects.toThrow(/both a 4th \(time, 2\) and a 5th \(component, 3\) dimension/);
  });

  it('skips header extensions via vox_offset', async () => {
    const ext = extensionBlock('{"labels": {"1": "spleen"}}'.repeat(20));
    const values = [9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 11, 12];
    const img = await readNifti(put(buildNifti(base({ datatype: 2, extension: ext, values })), 'ext.nii.gz'));
    expect(img.header.voxOffset).toBe(352 + ext.length);
    expect(Array.from(img.data)).toEqual(values);
    expect(img.header.raw.length).toBe(352 + ext.length);
  });
});

describe('geometry', () => {
  const vals = new Array(12).fill(0);

  it('qform: quaternion rotation, qoffset, RAS -> LPS', async () => {
    // 90 deg about z: quaternion (a, b, c, d) = (cos45, 0, 0, sin45)
    const s = Math.SQRT1_2;
    const img = await readNifti(put(buildNifti(base({ pixdim: [1, 2, 3, 4], qformCode: 1, quatern: [0, 0, s], qoffset: [5, 6, 7], values: vals }))));
    // RAS R = [[0,-1,0],[1,0,0],[0,0,1]] -> LPS: negate rows 0, 1
    expect(img.direction.map((v) => +v.toFixed(6) + 0)).toEqual([0, 1, 0, -1, 0, 0, 0, 0, 1]);
    expect(img.origin).toEqual([-5, -6, 7]);
    expect(img.spacing).toEqual([4, 3, 2]);
  });

  it('qfac = -1 (pixdim[0]) flips the k axis', async () => {
    const img = await readNifti(put(buildNifti(base({ pixdim: [-1, 1, 1, 1], qformCode: 1, values: vals }))));
    expect(img.direction).toEqual([-1, 0, 0, 0, -1, 0, 0, 0, -1]);
  });

  it('B32: negative pixdim is folded into the direction with a warning; world positions follow pixdim', async () => {
    const img = await readNifti(put(buildNifti(base({ pixdim: [1, 2, -2, 5], qformCode: 1, qoffset: [1, 2, 3], values: vals }))));
    expect(img.spacing).toEqual([5, 2, 2]);
    expect(img.direction).toEqual([-1, 0, 0, 0, 1, 0, 0, 0, 1]);
    expect(img.warnings!.join('\n')).toMatch(/negative pixdim/);
    // RAS world of (i, j, k) = (1 + 2i, 2 - 2j, 3 + 5k); LPS negates x and y.
    expect(indexToWorld(img, [1, 1, 1])).toEqual([-3, 0, 8]);
  });

  it('a 2D image (dim[0] = 2) with pixdim[3] = 0 reads without a warning (pixdim beyond dim[0] is unused); a 3D one with pixdim[3] = 0 is warned', async () => {
    const flat = await readNifti(put(buildNifti(base({ dim: [2, 3, 4], pixdim: [1, 0.5, 0.75, 0], values: vals }))));
    expect(flat.shape).toEqual([1, 1, 4, 3]);
    expect(flat.spacing).toEqual([1, 0.75, 0.5]);
    expect(flat.warnings ?? []).toEqual([]);
    const vol = await readNifti(put(buildNifti(base({ dim: [3, 3, 2, 2], pixdim: [1, 0.5, 0.75, 0], values: vals }))));
    expect(vol.spacing).toEqual([1, 0.75, 0.5]);
    expect(vol.warnings).toEqual(['pixdim[3] = 0 is not a valid spacing; 1 mm assumed']);
  });

  it('spatial units other than mm are reported', async () => {
    const bytes = buildNifti(base({ values: vals }));
    bytes[123] = 1; // meters
    const img = await readNifti(put(bytes));
    expect(img.warnings).toEqual(['spatial units are meters (xyzt_units); values are used as mm unchanged']);
  });

  it('both codes 0: origin 0, identity direction (as ITK), warning', async () => {
    const img = await readNifti(put(buildNifti(base({ pixdim: [1, 2, 2, 2], qformCode: 0, values: vals }))));
    expect(img.direction).toEqual([1, 0, 0, 0, 1, 0, 0, 0, 1]);
    expect(img.origin).toEqual([0, 0, 0]);
    expect(img.warnings!.join()).toMatch(/both 0/);
  });

  const sformLAS = [
    [-2, 0, 0, 10],
    [0, 2, 0, 20],
    [0, 0, 2, 30],
  ];
  it('sform_code 1 wins over a different qform (ITK rule)', async () => {
    const img = await readNifti(put(buildNifti(base({ pixdim: [1, 2, 2, 2], qformCode: 1, qoffset: [1, 1, 1], sformCode: 1, srow: sformLAS, values: vals }))));
    expect(img.header.sformCode).toBe(1);
    expect(img.direction).toEqual([1, 0, 0, 0, -1, 0, 0, 0, 1]);
    expect(img.origin).toEqual([-10, -20, 30]);
  });

  it('sform_code 2 with a different qform (code 1): the qform is used, as ITK does', async () => {
    const img = await readNifti(put(buildNifti(base({ pixdim: [1, 2, 2, 2], qformCode: 1, qoffset: [1, 1, 1], sformCode: 2, srow: sformLAS, values: vals }))));
    expect(img.direction).toEqual([-1, 0, 0, 0, -1, 0, 0, 0, 1]);
    expect(img.origin).toEqual([-1, -1, 1]);
  });

  it('sform_code 2 with qform_code 0: sform used', async () => {
    const img = await readNifti(put(buildNifti(base({ pixdim: [1, 2, 2, 2], qformCode: 0, sformCode: 2, srow: sformLAS, values: vals }))));
    expect(img.direction).toEqual([1, 0, 0, 0, -1, 0, 0, 0, 1]);
    expect(img.spacing).toEqual([2, 2, 2]);
  });

  it('B30: sform with unit scale but pixdim 0.866/0.796 loads; spacing = column norms, with a warning', async () => {
    const img = await readNifti(
      put(
        buildNifti({
          dim: [3, 16, 16, 16],
          datatype: 16,
          pixdim: [1, 0.865759, 0.865759, 0.796],
          qformCode: 0,
          sformCode: 2,
          srow: [
            [1, 0, 0, -54.98],
            [0, 1, 0, -54.98],
            [0, 0, 1, -37.41],
          ],
          values: new Array(4096).fill(1),
        }),
      ),
    );
    expect(img.spacing).toEqual([1, 1, 1]);
    expect(img.direction).toEqual([-1, 0, 0, 0, -1, 0, 0, 0, 1]);
    expect(img.origin[0]).toBeCloseTo(54.98, 4);
    expect(img.warnings!.join()).toMatch(/differ from pixdim/);
  });

  it('B30 variant: a sheared sform with no qform gives the nearest orthonormal direction and a warning', async () => {
    const srow = [
      [1, 0.002, 0, 0],
      [0.001, 1, 0, 0],
      [0, 0, 1, 0],
    ];
    const img = await readNifti(put(buildNifti(base({ qformCode: 0, sformCode: 2, srow, values: vals }))));
    expect(orthonormalityError([img.direction.slice(0, 3), img.direction.slice(3, 6), img.direction.slice(6)])).toBeLessThan(1e-12);
    expect(img.warnings!.join()).toMatch(/not orthonormal/);
    // polar factor of [[1,.002],[.001,1]] (RAS) is a rotation by -0.0005 rad; LPS negates rows 0 and 1
    expect(img.direction[1]).toBeCloseTo(-0.0005, 6);
    expect(img.direction[3]).toBeCloseTo(0.0005, 6);
  });

  it('a sheared sform with a valid qform: qform used, warning', async () => {
    const srow = [
      [1, 0.05, 0, 0],
      [0, 1, 0, 0],
      [0, 0, 1, 0],
    ];
    const img = await readNifti(put(buildNifti(base({ qformCode: 1, sformCode: 2, srow, values: vals }))));
    expect(img.direction).toEqual([-1, 0, 0, 0, -1, 0, 0, 0, 1]);
    expect(img.warnings!.join()).toMatch(/qform used/);
  });
});

describe('bad files (B27, B37)', () => {
  const good = buildNifti(base({ datatype: 4, values: Array.from({ length: 12 }, (_, i) => i) }));

  it('B37a: uncompressed NIfTI under a .nii.gz name is read with a warning', async () => {
    const p = join(dir, 'plain.nii.gz');
    writeFileSync(p, good);
    const img = await readNifti(p);
    expect(Array.from(img.data)).toEqual(Array.from({ length: 12 }, (_, i) => i));
    expect(img.warnings!.join()).toMatch(/not gzip-compressed although its name ends in .gz/);
  });

  it('B37b: a truncated .nii.gz gives "truncated gzip stream in <file> (got N of M expected voxel bytes)"', async () => {
    const values = Array.from({ length: 32 * 32 * 16 }, (_, i) => (i * 7919) % 65521); // poorly compressible
    const gz = gzipSync(buildNifti({ dim: [3, 32, 32, 16], datatype: 16, qformCode: 1, values }));
    const p = join(dir, 'trunc.nii.gz');
    writeFileSync(p, gz.subarray(0, gz.length - 1024));
    const err = await readNifti(p).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DataError);
    const m = /^truncated gzip stream in (.*) \(got (\d+) of (\d+) expected voxel bytes\)$/.exec((err as Error).message);
    expect(m?.[1]).toBe(p);
    expect(Number(m?.[3])).toBe(32 * 32 * 16 * 4);
    expect(Number(m?.[2])).toBeLessThan(32 * 32 * 16 * 4);
  });

  it('B37c: 1000 zero bytes named .nii.gz -> "not a NIfTI or gzip file (it starts with zero bytes...)"; 0 bytes -> "the file is empty"', async () => {
    const p = join(dir, 'zeros.nii.gz');
    writeFileSync(p, new Uint8Array(1000));
    await expect(readNifti(p)).rejects.toThrow(`not a NIfTI or gzip file: ${p} (it starts with zero bytes: a preallocated or incompletely written file of 1000 bytes)`);
    const e = join(dir, 'empty.nii');
    writeFileSync(e, new Uint8Array(0));
    await expect(readNifti(e)).rejects.toThrow(`${e}: the file is empty (0 bytes)`);
  });

  it('gzip of something that is not NIfTI', async () => {
    const p = join(dir, 'text.nii.gz');
    writeFileSync(p, gzipSync(new TextEncoder().encode('hello world, not an image at all')));
    await expect(readNifti(p)).rejects.toThrow(/gzip content does not start with a NIfTI header/);
  });

  it('truncated .nii reports got N of M', async () => {
    const p = join(dir, 'trunc.nii');
    writeFileSync(p, good.subarray(0, good.length - 5));
    await expect(readNifti(p)).rejects.toThrow(`truncated NIfTI file ${p} (got 19 of 24 expected voxel bytes)`);
  });

  it('B27: a 1024x1024x600 float32 header fails before allocating, with bytes needed vs the limit', async () => {
    const hdr = buildNifti({ dim: [3, 1024, 1024, 600], datatype: 16, qformCode: 1, values: [] });
    const p = join(dir, 'huge.nii.gz');
    writeFileSync(p, gzipSync(hdr));
    const need = 1024 * 1024 * 600 * 4;
    await expect(readNifti(p)).rejects.toThrow(
      `image needs ${need} bytes (2.34 GiB: 1024x1024x600 float32) but the limit is ${2 * 1024 ** 3} bytes (2.00 GiB)`,
    );
    await expect(readNifti(p, { maxBytes: 100 })).rejects.toThrow(/limit is 100 bytes/);
  });

  it('readNiftiInfo gives shape, dtype and geometry without the size limit or reading voxels', async () => {
    const hdr = buildNifti({ dim: [3, 1024, 1024, 600], datatype: 16, pixdim: [1, 0.5, 0.5, 2], qformCode: 1, values: [] });
    const p = join(dir, 'huge-info.nii.gz');
    writeFileSync(p, gzipSync(hdr));
    const info = await readNiftiInfo(p);
    expect(info.shape).toEqual([1, 600, 1024, 1024]);
    expect(info.spacing).toEqual([2, 0.5, 0.5]);
    expect(info.dtype).toBe('float32');
    expect(info.nbytes).toBe(1024 * 1024 * 600 * 4);
    expect('data' in info).toBe(false);
    const raw = join(dir, 'huge-info.nii');
    writeFileSync(raw, hdr);
    expect((await readNiftiInfo(raw)).shape).toEqual([1, 600, 1024, 1024]);
  });

  it("the registered reader's readInfo gives a case's shape and spacing to the estimates (readCaseGeometry), null for no header", async () => {
    const hdr = buildNifti({ dim: [3, 40, 48, 36], datatype: 4, pixdim: [1, 0.5, 0.75, 2], qformCode: 1, values: [] });
    const p = join(dir, 'case_0000.nii.gz');
    writeFileSync(p, gzipSync(hdr));
    const registry = new Registry();
    registerDefaults(registry);
    expect(await readCaseGeometry(registry, { id: 'case', images: [p] })).toEqual({ shape: [36, 48, 40], spacing: [2, 0.75, 0.5] });
    const junk = join(dir, 'junk_0000.nii.gz');
    writeFileSync(junk, 'not an image');
    expect(await readCaseGeometry(registry, { id: 'junk', images: [junk] })).toBeNull();
    expect(await readCaseGeometry(registry, { id: 'gone', images: [join(dir, 'gone.nii.gz')] })).toBeNull();
  });

  it('missing file -> DataError naming it', async () => {
    const p = join(dir, 'nope.nii.gz');
    await expect(readNifti(p)).rejects.toThrow(`cannot open NIfTI file ${p} (ENOENT)`);
  });
});
