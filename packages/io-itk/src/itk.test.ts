import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DataError, indexToWorld, Registry, type MedicalImage } from '@nnunet-ts/core';
import { readDicomSeries, readItk } from './reader.js';
import { writeItk } from './writer.js';
import { itkToImage, type ItkImage } from './convert.js';
import { itkReader, plugin, registerDefaults } from './index.js';
import { DICOM_MAX_IMAGE_BYTES, dicomLengthProblem, dicomSizeProblem, walkDicom } from './dicom-lengths.js';
import { metaHeaderProblem } from './meta-header.js';

const SHARED = process.env.NNUNET_SHARED ?? resolve(import.meta.dirname, '..', '..', '..', '..', 'shared');
const data = (...p: string[]): string => join(SHARED, 'data', ...p);
const dir = mkdtempSync(join(tmpdir(), 'io-itk-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const deg = (14 * Math.PI) / 180;
const rotX = [1, 0, 0, 0, Math.cos(deg), -Math.sin(deg), 0, Math.sin(deg), Math.cos(deg)];

describe('readItk on real files', () => {
  it('NRRD (gzip encoding, LPS): pyradiomics brain1 image and int32 label', async () => {
    const img = await readItk(data('oddities', 'pyradiomics_nrrd', 'brain1_image.nrrd'));
    expect(img.shape).toEqual([1, 25, 256, 256]);
    expect(img.data).toBeInstanceOf(Int16Array);
    expect(img.spacing[0]).toBeCloseTo(6.5, 9);
    expect(img.spacing[1]).toBeCloseTo(0.78125, 9);
    expect(img.direction).toEqual([1, 0, 0, 0, -1, 0, 0, 0, 1]);
    const lab = await readItk(data('oddities', 'pyradiomics_nrrd', 'brain1_label.nrrd'));
    expect(lab.data).toBeInstanceOf(Int32Array);
    expect(lab.shape).toEqual(img.shape);
  });

  it('DICOM series folder: slices sorted along the normal, z spacing from positions', async () => {
    const img = await readItk(data('oddities', 'udacity_hippocrop_dicom', 'Study1', '13_HCropVolume'));
    expect(img.shape[0]).toBe(1);
    expect(img.shape[1]).toBe(32);
    expect(img.spacing[0]).toBeCloseTo(1, 6);
    const one = await readItk(data('oddities', 'udacity_hippocrop_dicom', 'Study1', '13_HCropVolume', '1.dcm'));
    expect(one.shape.slice(2)).toEqual(img.shape.slice(2));
  });

  it('B39: non-uniform slice positions are refused with the gap positions', async () => {
    const err = await readItk(data('oddities', 'monai_testing_data', 'CT_DICOM')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DataError);
    expect((err as Error).message).toMatch(/irregular slice spacing \(usual 1\.250 mm; 202\.500 mm between -99\.480 and 103\.020\)/);
  });

  it('B39: a missing slice and a 0-byte file are reported by name/position', async () => {
    const src = data('oddities', 'udacity_hippocrop_dicom', 'Study1', '13_HCropVolume');
    const gap = join(dir, 'gap');
    mkdirSync(gap);
    const names = readdirSync(src).sort((a, b) => parseInt(a) - parseInt(b));
    names.filter((n) => n !== '10.dcm').forEach((n) => copyFileSync(join(src, n), join(gap, n)));
    const err = await readItk(gap).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/irregular slice spacing \(usual 1\.000 mm; 2\.000 mm between/);
    writeFileSync(join(gap, 'zero.dcm'), new Uint8Array(0));
    await expect(readDicomSeries(gap)).rejects.toThrow(`1 unreadable file(s): ${join(gap, 'zero.dcm')} (0 bytes)`);
  });
});

describe('DICOM element lengths against the file size (dicom-lengths.ts)', () => {
  const one = data('oddities', 'udacity_hippocrop_dicom', 'Study1', '13_HCropVolume', '1.dcm');

  it('a complete file passes; the same file cut short names the pixel data element and both byte counts', async () => {
    const bytes = new Uint8Array(readFileSync(one));
    expect(dicomLengthProblem(bytes, bytes.length)).toBeNull();
    const cut = bytes.subarray(0, bytes.length - 100);
    const p = dicomLengthProblem(cut, cut.length)!;
    const m = /^data element \(7FE0,0010\) OW at byte (\d+) declares (\d+) bytes but only (\d+) remain in the file$/.exec(p);
    expect(m, p).not.toBeNull();
    expect(Number(m![2]) - Number(m![3])).toBe(100);
    const file = join(dir, 'cut.dcm');
    writeFileSync(file, cut);
    const err = await readItk(file).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DataError);
    expect((err as Error).message).toBe(`${file}: truncated or corrupt DICOM file: ${p}`);
  });

  it('a 32-bit length with a flipped high bit is refused before GDCM allocates; a series names the file once', async () => {
    const bytes = new Uint8Array(readFileSync(one));
    const at = Buffer.from(bytes).indexOf(Buffer.from([0xe0, 0x7f, 0x10, 0x00, 0x4f, 0x57])); // (7FE0,0010) OW
    bytes[at + 11] ^= 0x40; // length + 2^30
    expect(dicomLengthProblem(bytes, bytes.length)).toMatch(/^data element \(7FE0,0010\) OW at byte \d+ declares 10\d{8} bytes but only \d+ remain/);
    const series = join(dir, 'flipped');
    mkdirSync(series);
    copyFileSync(one, join(series, 'a.dcm'));
    writeFileSync(join(series, 'b.dcm'), bytes);
    await expect(readDicomSeries(series)).rejects.toThrow(`1 unreadable file(s): ${join(series, 'b.dcm')} (truncated or corrupt DICOM file: data element (7FE0,0010) OW`);
  });

  it('files the walk cannot judge are left to GDCM: no DICM prefix, an undefined length, an unknown transfer syntax', () => {
    const bytes = new Uint8Array(readFileSync(one));
    expect(dicomLengthProblem(bytes.subarray(128), bytes.length - 128)).toBeNull();
    const bigEndian = new Uint8Array(bytes);
    const ts = Buffer.from(bigEndian).indexOf(Buffer.from('1.2.840.10008.1.2.1\0'));
    bigEndian.set(Buffer.from('1.2.840.10008.1.2.2\0'), ts);
    expect(dicomLengthProblem(bigEndian.subarray(0, bigEndian.length - 100), bigEndian.length - 100)).toBeNull();
  });
});

describe('writeItk / readItk round trips', () => {
  const img: MedicalImage = {
    data: Uint8Array.from({ length: 8 * 8 * 8 }, (_, i) => (i * 13) % 5),
    shape: [1, 8, 8, 8],
    spacing: [1.5, 0.75, 0.5],
    origin: [-3.25, 10.5, 7],
    direction: rotX,
  };
  for (const ext of ['.nrrd', '.nhdr', '.mha', '.mhd', '.nii.gz']) {
    it(`B31: ${ext} keeps a non-symmetric oblique direction and world(1,2,3) within 1e-6`, async () => {
      const sub = join(dir, `rt${ext.replace(/\./g, '_')}`);
      mkdirSync(sub);
      const p = join(sub, `x${ext}`);
      await writeItk(p, img);
      const back = await readItk(p);
      expect(Array.from(back.data)).toEqual(Array.from(img.data));
      expect(back.data).toBeInstanceOf(Uint8Array);
      back.direction.forEach((v, i) => expect(Math.abs(v - rotX[i]!)).toBeLessThan(1e-6));
      const w0 = indexToWorld(img, [1, 2, 3]);
      indexToWorld(back, [1, 2, 3]).forEach((v, i) => expect(Math.abs(v - w0[i]!)).toBeLessThan(1e-5));
      expect(readdirSync(sub).filter((f) => f.startsWith('.'))).toEqual([]);
      if (ext === '.mhd' || ext === '.nhdr') expect(readdirSync(sub).length).toBe(2);
    });
  }

  it("a 2D input (NRRD, MetaImage, 36 x 52) written with its header as template is 2D again, with the input's geometry; 3D without it or with 2 slices", async () => {
    const vox = Uint8Array.from({ length: 36 * 52 }, (_, i) => i % 4);
    const nrrd = join(dir, 'in2d.nrrd');
    writeFileSync(nrrd, Buffer.concat([Buffer.from('NRRD0004\ntype: uint8\ndimension: 2\nspace dimension: 2\nsizes: 36 52\nspace directions: (0,-0.7) (0.8,0)\nspace origin: (10.5,-20)\nencoding: raw\n\n'), vox]));
    const mha = join(dir, 'in2d.mha');
    writeFileSync(mha, Buffer.concat([Buffer.from('ObjectType = Image\nNDims = 2\nDimSize = 36 52\nElementSpacing = 0.7 0.8\nOffset = 10.5 -20\nTransformMatrix = 0 -1 1 0\nElementType = MET_UCHAR\nElementDataFile = LOCAL\n'), vox]));
    for (const [input, dimLine] of [[nrrd, 'dimension: 2\n'], [mha, 'NDims = 2\n']] as const) {
      const im = await readItk(input);
      expect(im.shape).toEqual([1, 1, 52, 36]);
      expect(im.header).toEqual({ itkDimension: 2 });
      expect(im.spacing.map((v) => +v.toFixed(6))).toEqual([1, 0.8, 0.7]);
      expect(im.origin).toEqual([10.5, -20, 0]);
      expect(im.direction).toEqual([0, 1, 0, -1, 0, 0, 0, 0, 1]);
      const out = input.replace('in2d', 'seg2d');
      await writeItk(out, { ...im, data: Uint8Array.from(vox, (v) => v % 2), header: undefined }, { dtype: 'uint8', template: im.header });
      expect(readFileSync(out).subarray(0, 400).toString('latin1')).toContain(dimLine); // was: a 36 x 52 x 1 volume
      const back = await readItk(out);
      expect(back.header).toEqual({ itkDimension: 2 });
      expect(back.shape).toEqual([1, 1, 52, 36]);
      expect(Array.from(back.data)).toEqual(Array.from(vox, (v) => v % 2));
      expect(back.spacing).toEqual(im.spacing);
      expect(back.origin).toEqual(im.origin);
      expect(back.direction).toEqual(im.direction);
      await writeItk(out, im, { dtype: 'uint8' });
      expect((await readItk(out)).header).toBeUndefined();
      await writeItk(out, { ...im, data: new Uint8Array(2 * 36 * 52), shape: [1, 2, 52, 36] }, { dtype: 'uint8', template: im.header });
      expect((await readItk(out)).shape).toEqual([1, 2, 52, 36]);
    }
    // a NIfTI header with dim[0] = 2 as template (an ITK-written .nii input) gives a 2D NRRD as well
    const fromNifti = join(dir, 'seg2d-nifti.nrrd');
    await writeItk(fromNifti, { ...(await readItk(nrrd)), header: undefined }, { template: { dim: [2, 36, 52, 1, 1, 1, 1, 1] } });
    expect((await readItk(fromNifti)).header).toEqual({ itkDimension: 2 });
  });

  it('2 channels are written as a 4D image and read back as [c, z, y, x]', async () => {
    const d = Float32Array.from({ length: 2 * 2 * 3 * 4 }, (_, i) => i * 0.5);
    const p = join(dir, 'c2.nrrd');
    await writeItk(p, { data: d, shape: [2, 2, 3, 4], spacing: [3, 2, 1], origin: [1, 2, 3], direction: [1, 0, 0, 0, 1, 0, 0, 0, 1] });
    const back = await readItk(p);
    expect(back.shape).toEqual([2, 2, 3, 4]);
    expect(back.spacing).toEqual([3, 2, 1]);
    expect(Array.from(back.data)).toEqual(Array.from(d));
  });

  it('dtype casting rounds and refuses out-of-range values', async () => {
    const f: MedicalImage = { ...img, data: Float32Array.from({ length: 512 }, (_, i) => (i % 3) + 0.2) };
    const p = join(dir, 'lab.mha');
    await writeItk(p, f, { dtype: 'int16' });
    const back = await readItk(p);
    expect(back.data).toBeInstanceOf(Int16Array);
    expect(Array.from(back.data.slice(0, 3))).toEqual([0, 1, 2]);
    await expect(writeItk(join(dir, 'bad.mha'), { ...img, data: new Float32Array(512).fill(-1) }, { dtype: 'uint8' })).rejects.toThrow(
      /value -1 does not fit uint8/,
    );
  });
});

describe('conversion and errors', () => {
  it('vector pixels are de-interleaved into channels', () => {
    const it2 = {
      imageType: { dimension: 3, componentType: 'int16', pixelType: 'Vector', components: 2 },
      name: 'v',
      origin: [0, 0, 0],
      spacing: [1, 1, 1],
      direction: new Float64Array([1, 0, 0, 0, 1, 0, 0, 0, 1]),
      size: [3, 1, 1],
      metadata: new Map(),
      data: Int16Array.from([1, 10, 2, 20, 3, 30]),
    } as unknown as ItkImage;
    const m = itkToImage(it2, 'v.nrrd');
    expect(m.shape).toEqual([2, 1, 1, 3]);
    expect(Array.from(m.data)).toEqual([1, 2, 3, 10, 20, 30]);
  });

  it('2D images get z = 1 and an identity third axis; the 2x2 direction stays row-major', () => {
    const i2 = {
      imageType: { dimension: 2, componentType: 'uint8', pixelType: 'Scalar', components: 1 },
      name: '2d',
      origin: [5, 6],
      spacing: [0.5, 0.25],
      direction: new Float64Array([0, -1, 1, 0]),
      size: [2, 3],
      metadata: new Map(),
      data: new Uint8Array(6),
    } as unknown as ItkImage;
    const m = itkToImage(i2, '2d.png');
    expect(m.shape).toEqual([1, 1, 3, 2]);
    expect(m.spacing).toEqual([1, 0.25, 0.5]);
    expect(m.origin).toEqual([5, 6, 0]);
    expect(m.direction).toEqual([0, -1, 0, 1, 0, 0, 0, 0, 1]);
  });

  it('unreadable, empty and missing files are DataErrors naming the file', async () => {
    const junk = join(dir, 'junk.nrrd');
    writeFileSync(junk, 'NRRD0004\nthis is not a header\n');
    await expect(readItk(junk)).rejects.toThrow(DataError);
    await expect(readItk(junk)).rejects.toThrow(`itk-wasm could not read ${junk}`);
    const empty = join(dir, 'empty.mha');
    writeFileSync(empty, '');
    await expect(readItk(empty)).rejects.toThrow(`${empty}: file is empty (0 bytes)`);
    await expect(readItk(join(dir, 'none.mha'))).rejects.toThrow(/cannot open .*none\.mha \(ENOENT\)/);
  });

  it('plugin: registers `itk` without claiming .nii/.nii.gz; sniff recognises NRRD, MetaImage, DICOM', () => {
    const r = new Registry();
    registerDefaults(r);
    expect(r.get('reader', 'itk').extensions).not.toContain('.nii.gz');
    expect(r.get('reader', 'itk').extensions).toContain('.nrrd');
    expect(() => plugin.register(r)).toThrow(/already registered/);
    const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
    expect(itkReader.sniff!(enc('NRRD0004\n'), 'a')).toBe(true);
    expect(itkReader.sniff!(enc('ObjectType = Image\n'), 'a')).toBe(true);
    const dcm = new Uint8Array(140);
    dcm.set(enc('DICM'), 128);
    expect(itkReader.sniff!(dcm, 'a')).toBe(true);
    expect(itkReader.sniff!(new Uint8Array(140), 'a')).toBe(false);
  });
});

describe('DICOM image size fields against the Pixel Data (dicomSizeProblem)', () => {
  const one = data('oddities', 'udacity_hippocrop_dicom', 'Study1', '13_HCropVolume', '1.dcm');
  /** Every real DICOM file of the shared data: the walk reaches the pixel data and finds no problem. */
  const realFiles = ['monai_testing_data/CT_DICOM', 'totalsegmentator/example_ct_dicom', 'udacity_hippocrop_dicom/Study1/12-T1post-05670', 'udacity_hippocrop_dicom/Study3/11_HCropVolume']
    .map((d) => data('oddities', ...d.split('/')))
    .flatMap((d) => readdirSync(d).filter((f) => f.endsWith('.dcm')).slice(0, 4).map((f) => join(d, f)));

  it('real files (implicit and explicit VR, sequences of undefined length) pass; the walk finds their sizes', () => {
    expect(realFiles.length).toBeGreaterThanOrEqual(12);
    for (const f of realFiles) {
      const b = new Uint8Array(readFileSync(f));
      const w = walkDicom(b, b.length)!;
      expect(w.pixelData, f).toBeDefined();
      expect(dicomSizeProblem(w, b.length), f).toBeNull();
      const frame = (w.fields.Rows as number) * (w.fields.Columns as number) * ((w.fields.SamplesPerPixel as number) ?? 1) * ((w.fields.BitsAllocated as number) / 8);
      if (w.pixelData!.length !== undefined) expect(w.pixelData!.length - frame, f).toBeLessThan(2);
    }
  });

  it('sequences of undefined length (nested items) are walked over to the image size fields', () => {
    const bytes = new Uint8Array(readFileSync(one));
    const start = 144 + new DataView(bytes.buffer, bytes.byteOffset).getUint32(140, true); // after the file meta group
    const el = (g: number, e: number, vr: string, len: number[]): number[] => [g & 0xff, g >> 8, e & 0xff, e >> 8, ...Buffer.from(vr), ...len];
    const uid = [...Buffer.from('1.2.3.4\0')];
    const undef = [0, 0, 0xff, 0xff, 0xff, 0xff];
    const item = (body: number[]): number[] => [0xfe, 0xff, 0x00, 0xe0, 0xff, 0xff, 0xff, 0xff, ...body, 0xfe, 0xff, 0x0d, 0xe0, 0, 0, 0, 0];
    const inner = [...el(0x0008, 0x1155, 'UI', [uid.length, 0]), ...uid];
    // (0008,1140) SQ: an undefined-length item holding a nested undefined-length SQ, then a defined-length item
    const seq = [
      ...el(0x0008, 0x1140, 'SQ', undef),
      ...item([...el(0x0008, 0x1200, 'SQ', undef), ...item(inner), 0xfe, 0xff, 0xdd, 0xe0, 0, 0, 0, 0]),
      0xfe, 0xff, 0x00, 0xe0, inner.length, 0, 0, 0, ...inner,
      0xfe, 0xff, 0xdd, 0xe0, 0, 0, 0, 0,
    ];
    const b = new Uint8Array([...bytes.subarray(0, start), ...seq, ...bytes.subarray(start)]);
    const w = walkDicom(b, b.length)!;
    expect(w.pixelData?.length).toBe(walkDicom(bytes, bytes.length)!.pixelData!.length);
    expect(w.fields).toEqual(walkDicom(bytes, bytes.length)!.fields);
    expect(dicomSizeProblem(w, b.length)).toBeNull();
    b[start + seq.length - 8] = 0; // the sequence delimiter broken: the walk stops, GDCM decides
    expect(walkDicom(b, b.length)!.pixelData).toBeUndefined();
  });

  /** The file with one US field (0028,eeee) set to `value` (explicit VR little endian: tag, 'US', 2-byte length). */
  const withUS = (bytes: Uint8Array, element: number, value: number): Uint8Array => {
    const b = new Uint8Array(bytes);
    const at = Buffer.from(b).indexOf(Buffer.from([0x28, 0x00, element & 0xff, element >> 8, 0x55, 0x53, 0x02, 0x00]));
    expect(at, `(0028,${element.toString(16)})`).toBeGreaterThan(0);
    new DataView(b.buffer).setUint16(at + 8, value, true);
    return b;
  };

  it('a valid file reads equal after the check; each mutated field is refused with its name, value and byte counts', async () => {
    const bytes = new Uint8Array(readFileSync(one));
    const w = walkDicom(bytes, bytes.length)!;
    const { Rows: rows, Columns: cols } = w.fields as { Rows: number; Columns: number };
    expect(w.fields.BitsAllocated).toBe(16);
    const copy = join(dir, 'valid.dcm');
    writeFileSync(copy, bytes);
    const [a, b] = [await readItk(one), await readItk(copy)];
    expect(b.shape).toEqual([1, 1, rows, cols]);
    expect(Array.from(b.data)).toEqual(Array.from(a.data));
    const cases: [string, number, number, RegExp][] = [
      ['Rows', 0x0010, rows ^ 0x4000, new RegExp(`Rows ${rows ^ 0x4000} x Columns ${cols} x SamplesPerPixel 1 x BitsAllocated 16/8 x NumberOfFrames 1 = ${(rows ^ 0x4000) * cols * 2} bytes, but Pixel Data \\(7FE0,0010\\) at byte \\d+ holds ${rows * cols * 2} bytes \\(fewer than the fields describe\\)`)],
      ['Columns', 0x0011, cols >> 1, new RegExp(`Columns ${cols >> 1} .* holds ${rows * cols * 2} bytes \\(more than the fields describe\\)`)],
      ['BitsAllocated', 0x0100, 17, /BitsAllocated 17 is not 1 or a multiple of 8 up to 64/],
      ['BitsAllocated', 0x0100, 64, new RegExp(`BitsAllocated 64/8 x NumberOfFrames 1 = ${rows * cols * 8} bytes, but Pixel Data`)],
      ['SamplesPerPixel', 0x0002, 0x0101, /SamplesPerPixel 257 is not 1 \(grayscale\), 3 \(colour\) or 4/],
      ['SamplesPerPixel', 0x0002, 3, new RegExp(`SamplesPerPixel 3 x BitsAllocated 16/8 x NumberOfFrames 1 = ${rows * cols * 6} bytes`)],
      ['Rows', 0x0010, 0, /Rows 0 x Columns \d+: an image has at least one row and one column/],
    ];
    for (const [field, element, value, re] of cases) {
      const file = join(dir, `bad-${field}-${value}.dcm`);
      writeFileSync(file, withUS(bytes, element, value));
      const err = await readItk(file).catch((e: unknown) => e);
      expect(err, `${field} ${value}`).toBeInstanceOf(DataError);
      expect((err as Error).message, `${field} ${value}`).toMatch(new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: corrupt DICOM header: `));
      expect((err as Error).message, `${field} ${value}`).toMatch(re);
      expect((err as DataError).hint).toMatch(/copy or export the image again/);
    }
  });

  it('NumberOfFrames, a missing field, a huge image and compressed pixel data: each named', () => {
    const bytes = new Uint8Array(readFileSync(one));
    const w = walkDicom(bytes, bytes.length)!;
    const px = w.pixelData!.length!;
    expect(dicomSizeProblem({ ...w, fields: { ...w.fields, NumberOfFrames: '1' } }, bytes.length)).toBeNull();
    expect(dicomSizeProblem({ ...w, fields: { ...w.fields, NumberOfFrames: '3' } }, bytes.length)!.message).toMatch(new RegExp(`NumberOfFrames 3 = ${px * 3} bytes, but Pixel Data .* holds ${px} bytes`));
    expect(dicomSizeProblem({ ...w, fields: { ...w.fields, NumberOfFrames: '1x' } }, bytes.length)!.message).toBe('NumberOfFrames "1x" is not a whole number of at least 1');
    expect(dicomSizeProblem({ ...w, fields: { ...w.fields, Columns: undefined } }, bytes.length)!.message).toBe('the file has Pixel Data (7FE0,0010) but no Columns (0028,0011), a type 1 field of the Image Pixel module');
    const huge = dicomSizeProblem({ ...w, fields: { ...w.fields, Rows: 65535, Columns: 65535, NumberOfFrames: '2' } }, bytes.length)!;
    expect(huge.message).toBe(`image size fields declare Rows 65535 x Columns 65535 x SamplesPerPixel 1 x BitsAllocated 16/8 x NumberOfFrames 2 = ${65535 * 65535 * 4} bytes, more than the ${DICOM_MAX_IMAGE_BYTES} bytes itk-wasm can hold (its wasm memory is 32-bit)`);
    // encapsulated (compressed) pixel data: a plausible size passes; one beyond 1024x a 100 kB file is refused
    const enc = { ...w, pixelData: { at: w.pixelData!.at, length: undefined } };
    expect(dicomSizeProblem({ ...enc, fields: { ...w.fields, Rows: 4096, Columns: 4096 } }, 100_000)).toBeNull();
    expect(dicomSizeProblem({ ...enc, fields: { ...w.fields, Rows: 16384, Columns: 16384 } }, 100_000)!.message).toBe(`image size fields declare Rows 16384 x Columns 16384 x SamplesPerPixel 1 x BitsAllocated 16/8 x NumberOfFrames 1 = ${16384 * 16384 * 2} bytes of compressed pixel data in a file of 100000 bytes (at most 102400000 bytes plausible, a compression ratio of 1024)`);
    // padding shorter than one row is accepted (even-length padding and writers that add a few bytes)
    expect(dicomSizeProblem({ ...w, pixelData: { at: w.pixelData!.at, length: px + 2 } }, statSync(one).size)).toBeNull();
  });
});

describe('MetaImage dimension fields (meta-header.ts)', () => {
  const header = (ndims: string, dimSize: string): string =>
    `ObjectType = Image\nNDims = ${ndims}\nBinaryData = True\nBinaryDataByteOrderMSB = False\nCompressedData = False\n` +
    `TransformMatrix = 1 0 0 0 1 0 0 0 1\nElementSpacing = 0.1 0.25 1.5\nDimSize = ${dimSize}\nElementType = MET_UCHAR\nElementDataFile = LOCAL\n`;
  it('valid headers pass (CRLF, 3.0, 2D and 4D); impossible NDims and DimSize values are named', () => {
    expect(metaHeaderProblem(header('3', '4 4 1'))).toBeNull();
    expect(metaHeaderProblem(header('3', '4 4 1').replace(/\n/g, '\r\n'))).toBeNull();
    expect(metaHeaderProblem(header('3.0', '4 4 1'))).toBeNull();
    expect(metaHeaderProblem(header('2', '16 8'))).toBeNull();
    expect(metaHeaderProblem(header('4', '4 4 1 2'))).toBeNull();
    expect(metaHeaderProblem(header('inf', '4 4 1'))).toBe("NDims = 'inf' is not a whole number of dimensions from 1 to 10");
    expect(metaHeaderProblem(header('1e309', '4 4 1'))).toMatch(/^NDims = '1e309' is not a whole number/);
    expect(metaHeaderProblem(header('0', '4 4 1'))).toMatch(/^NDims = '0'/);
    expect(metaHeaderProblem(header('3', '4 4'))).toBe("DimSize = '4 4' has 2 value(s) for NDims = 3");
    expect(metaHeaderProblem(header('3', '4 -4 1'))).toBe("DimSize = '4 -4 1': '-4' is not a whole number of voxels >= 1");
    expect(metaHeaderProblem(header('3', '4 nan 1'))).toMatch(/'nan' is not a whole number of voxels/);
    // fields after ElementDataFile are data, not header
    expect(metaHeaderProblem(`${header('3', '4 4 1')}NDims = inf\n`)).toBeNull();
  });
  it('readItk refuses NDims = inf (the mha fuzz input that made MetaIO loop forever) naming the file; the valid file reads', async () => {
    const bytes = new Uint8Array(16).map((_, i) => i * 7);
    const write = (name: string, nd: string): string => {
      const f = join(dir, name);
      writeFileSync(f, Buffer.concat([Buffer.from(header(nd, '4 4 1'), 'latin1'), Buffer.from(bytes)]));
      return f;
    };
    const good = await readItk(write('ok.mha', '3'));
    expect(good.shape).toEqual([1, 1, 4, 4]);
    expect(Array.from(good.data)).toEqual(Array.from(bytes));
    const bad = write('ndims-inf.mha', 'inf');
    const err = await readItk(bad).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DataError);
    expect((err as Error).message).toBe(`${bad}: corrupt MetaImage header: NDims = 'inf' is not a whole number of dimensions from 1 to 10`);
  });
});

describe('host file descriptors across failed DICOM reads (pipeline-cache.ts, IN_MEMORY)', () => {
  // GDCM left the file it read open when it failed with a C++ exception: 1-2 descriptors per corrupt file, and the
  // dicom fuzz target (seed 2701) stopped with EMFILE after 41,949 inputs. Linux only (counts /proc/self/fd).
  it.skipIf(!statSync('/proc/self/fd', { throwIfNoEntry: false }))('corrupt DICOM files, single and as a series, leave no descriptor open; a valid file still reads after them', async () => {
    const src = readFileSync(data('oddities', 'monai_testing_data', 'CT_DICOM', '7166.dcm'));
    const good = await readItk(data('oddities', 'monai_testing_data', 'CT_DICOM', '7166.dcm'));
    const fds = (): number => readdirSync('/proc/self/fd').length;
    const p = join(dir, 'fd-test.dcm');
    const before = fds();
    const messages = new Set<string>();
    for (let i = 0; i < 40; i++) {
      const c = Buffer.from(src);
      c.fill(i, 200 + i * 11, 260 + i * 11);
      writeFileSync(p, c);
      const e = await readItk(p).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(DataError);
      messages.add((e as Error).message.split(' (')[0]!);
    }
    // every message names the file on disk, never the reader's in-memory copy
    expect([...messages].every((m) => m.includes(p) && !m.includes('/nnunet-input'))).toBe(true);
    const series = join(dir, 'fd-series');
    mkdirSync(series);
    for (let i = 0; i < 5; i++) {
      const c = Buffer.from(src);
      c.fill(7 + i, 220 + i * 13, 280 + i * 13);
      writeFileSync(join(series, `slice${i}`), c);
    }
    await expect(readDicomSeries(series)).rejects.toThrow(/5 unreadable file\(s\)/);
    expect(fds()).toBe(before);
    const again = await readItk(data('oddities', 'monai_testing_data', 'CT_DICOM', '7166.dcm'));
    expect(again.shape).toEqual(good.shape);
    expect(again.data).toEqual(good.data);
  }, 300_000);
});
