/**
 * Dataset-level and voxel-level faults that `validate` reports (docs/FAULTS.md, "Dataset" and "Voxel values"),
 * and `--strict`, which turns every note into an error.
 */
import { rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { gzipSync } from 'node:zlib';
import { addCase, cleanupTemp, datasetJsonV2, makeDatasetV2, niftiBytes, parseNiftiHeader, put, tempDir, vol, writeNiftiFile } from '../bad-inputs/generate.js';
import { cli, core, makeRegistry } from '../bad-inputs/harness.js';

afterAll(cleanupTemp);

const img = (seed: number, extra: Partial<Parameters<typeof vol>[3]> = {}) => vol([6, 5, 4], 'float32', (i, j, k) => ((i * 7 + j * 13 + k * 29 + seed * 31) % 17) + 0.5, extra);
const lab = () => vol([6, 5, 4], 'uint8', (i, j, k) => (i > 2 && j > 1 && k > 1 ? 1 : 0));

/** A valid one-channel dataset with `n` training cases; returns its root. */
function dataset(n = 2, json = datasetJsonV2(['MR'], { background: 0, tumour: 1 }, n)): string {
  const root = makeDatasetV2(tempDir('nnunet-faults-'), json);
  for (let i = 0; i < n; i++) addCase(root, `case_${i}`, [img(i)], lab());
  return root;
}

/** The NIfTI-1 `bytes` (vox_offset 352, any integer type) re-stored as int64 (datatype 1024, bitpix 64), same values. */
function asInt64(bytes: Uint8Array): Uint8Array {
  const h = parseNiftiHeader(bytes);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = h.dim[1]! * h.dim[2]! * h.dim[3]!;
  const per = (bytes.length - 352) / n;
  const out = new Uint8Array(352 + 8 * n);
  out.set(bytes.subarray(0, 352));
  const o = new DataView(out.buffer);
  o.setInt16(70, 1024, true);
  o.setInt16(72, 64, true);
  for (let i = 0; i < n; i++) {
    const v = per === 1 ? dv.getUint8(352 + i) : per === 2 ? dv.getInt16(352 + 2 * i, true) : dv.getInt32(352 + 4 * i, true);
    o.setBigInt64(352 + 8 * i, BigInt(v), true);
  }
  return out;
}

async function check(root: string, strict = false) {
  const ds = await core.loadDataset(root);
  const r = await core.validateDataset(ds, makeRegistry(), { strict });
  return { r, text: core.formatValidationReport(r) };
}

async function runCli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await cli.runCli(args, { out: (s) => out.push(s) }, (s) => err.push(s));
  return { code, out: out.join('\n'), err: err.join('\n') };
}

describe('validate: faults no bad-inputs recipe names', () => {
  it('F-V01: NaN and infinite voxels in an image are a problem naming the file and the count', async () => {
    const root = dataset();
    const data = Float64Array.from(img(9).data as ArrayLike<number>);
    data[3] = NaN;
    data[10] = Infinity;
    data[11] = -Infinity;
    const f = writeNiftiFile(join(root, 'imagesTr', 'case_0_0000.nii.gz'), vol([6, 5, 4], 'float32', data));
    const { r, text } = await check(root);
    expect(r.ok).toBe(false);
    expect(text).toContain(`${f}: 3 voxel(s) are NaN or infinite`);
  });

  it('F-V02: a label holding two volumes (dim[4] = 2) is a problem, not read as one label', async () => {
    const root = dataset();
    const two = { dims: [6, 5, 4, 2], dtype: 'uint8' as const, data: new Uint8Array(240) };
    const f = writeNiftiFile(join(root, 'labelsTr', 'case_1.nii.gz'), two);
    const { r, text } = await check(root);
    expect(r.ok).toBe(false);
    expect(text).toContain(`${f}: label holds 2 channels`);
  });

  it('F-V03: a _0000 channel file holding two channels is a problem (dataset declares one channel per file)', async () => {
    const root = dataset(2, datasetJsonV2(['T1', 'T2'], { background: 0, tumour: 1 }, 2));
    for (let i = 0; i < 2; i++) addCase(root, `case_${i}`, [img(i), img(i + 5)], lab());
    const f = writeNiftiFile(join(root, 'imagesTr', 'case_0_0001.nii.gz'), { dims: [6, 5, 4, 2], dtype: 'float32', data: new Float32Array(240).fill(1) });
    const { r, text } = await check(root);
    expect(r.ok).toBe(false);
    expect(text).toContain(`${f}: channel file holds 2 channels`);
  });

  it('F-V04: two training cases with the same voxels (also int16 vs float32 copies) give a duplicate note; --strict fails', async () => {
    const root = dataset(3);
    const same = vol([6, 5, 4], 'int16', (i, j, k) => i + j + k);
    writeNiftiFile(join(root, 'imagesTr', 'case_0_0000.nii.gz'), same);
    writeNiftiFile(join(root, 'imagesTr', 'case_2_0000.nii.gz'), { ...same, dtype: 'float32' });
    const { r, text } = await check(root);
    expect(r.ok).toBe(true);
    expect(text).toContain(`case 'case_2' has the same image voxels as training case 'case_0'`);
    const s = await check(root, true);
    expect(s.r.ok).toBe(false);
    expect(s.text).toContain('(strict) case ');
  });

  it('F-V05: a test case identical to a training case is reported as train/test overlap', async () => {
    const root = dataset(2);
    addCase(root, 'case_t', [img(1)], null, '.nii.gz', 'imagesTs');
    const { text } = await check(root);
    expect(text).toContain(`test case 'case_t' has the same image voxels as training case 'case_1' (train/test overlap`);
  });

  it('F-V06: case ids differing only in letter case are noted (they collide on macOS/Windows)', async () => {
    const root = makeDatasetV2(tempDir('nnunet-faults-'), datasetJsonV2(['MR'], { background: 0, tumour: 1 }, 2));
    addCase(root, 'Liver1', [img(1)], lab());
    addCase(root, 'liver1', [img(2)], lab());
    const { text } = await check(root);
    expect(text).toContain(`case ids 'Liver1' and 'liver1' differ only in letter case`);
  });

  it('F-V07: a label file without an image is noted, naming it', async () => {
    const root = dataset(2);
    writeNiftiFile(join(root, 'labelsTr', 'case_9.nii.gz'), lab());
    const { text } = await check(root);
    expect(text).toContain(`${join(root, 'labelsTr')}: 1 label file(s) without an image, ignored: case_9.nii.gz`);
  });

  it('F-V07b: a label named with a suffix (case_2_seg) says the name it should have (fresh-user finding)', async () => {
    const root = makeDatasetV2(tempDir('nnunet-faults-'), datasetJsonV2(['MR'], { background: 0, tumour: 1 }, 3));
    for (let i = 0; i < 2; i++) addCase(root, `case_${i}`, [img(i)], lab());
    addCase(root, 'case_2', [img(2)], null);
    writeNiftiFile(join(root, 'labelsTr', 'case_2_seg.nii.gz'), lab());
    const { text } = await check(root);
    expect(text).toContain(`${join(root, 'labelsTr')}: 1 label file(s) without an image, ignored: case_2_seg.nii.gz (did you mean case_2.nii.gz, the label name of imagesTr/case_2_0000.nii.gz?)`);
  });

  it('F-V07c: dataset.json labels without "background": 0 say to add it (fresh-user finding)', async () => {
    const root = makeDatasetV2(tempDir('nnunet-faults-'), datasetJsonV2(['MR'], { a: 1, b: 2 }, 2));
    for (let i = 0; i < 2; i++) addCase(root, `case_${i}`, [img(i)], lab());
    const { r } = await check(root);
    expect(r.problems.map((p) => p.message)).toContain('declared label values {1, 2} are not consecutive integers 0..K (RULES.md §1); no label has the value 0: add "background": 0 to "labels" in dataset.json');
  });

  it('F-V08: reader warnings (spatial units in meters, no qform/sform) reach the report as notes', async () => {
    const root = dataset(2);
    const f = writeNiftiFile(join(root, 'imagesTr', 'case_0_0000.nii.gz'), { ...img(0), qformCode: 0, sformCode: 0 });
    const { text } = await check(root);
    expect(text).toContain(`note: ${f}: qform_code and sform_code are both 0`);
  });

  it('F-V09: a constant image is noted with its value', async () => {
    const root = dataset(2);
    const f = writeNiftiFile(join(root, 'imagesTr', 'case_1_0000.nii.gz'), vol([6, 5, 4], 'float32', () => 7));
    const { text } = await check(root);
    expect(text).toContain(`${f}: every voxel is 7 (a constant image`);
  });

  it("F-V11: a label saved as .nii in a .nii.gz dataset is noted (nnU-Net would not find it), naming the file and the fix", async () => {
    const root = dataset(2);
    rmSync(join(root, 'labelsTr', 'case_1.nii.gz'));
    const f = writeNiftiFile(join(root, 'labelsTr', 'case_1.nii'), lab());
    const { r, text } = await check(root);
    expect(r.ok).toBe(true);
    expect(text).toContain(`note: ${f}: label ending '.nii' is not the dataset's file_ending '.nii.gz': read here by content, but nnU-Net looks for case_1.nii.gz and would not find this label; gzip it (gzip -k case_1.nii) or convert it to .nii.gz`);
    expect((await check(root, true)).r.ok).toBe(false);
  });

  it('F-V12: a label with another image ending (.nrrd in a .nii.gz dataset) is named in the missing-label problem with the conversion to make', async () => {
    const root = dataset(2);
    rmSync(join(root, 'labelsTr', 'case_0.nii.gz'));
    put(join(root, 'labelsTr', 'case_0.nrrd'), 'NRRD0004');
    const { r, text } = await check(root);
    expect(r.ok).toBe(false);
    expect(text).toContain(`${join(root, 'labelsTr', 'case_0.nrrd')}: label saved with another ending than the dataset's file_ending '.nii.gz': nnU-Net looks for labelsTr/case_0.nii.gz and does not find it; convert case_0.nrrd to .nii.gz`);
    expect(text).not.toContain('label file is missing');
  });

  it('F-V13: a 2D training case (one slice) among 3D cases is noted with its shape and the shapes of the others; --strict fails', async () => {
    const root = dataset(3);
    const flat = vol([6, 5, 1], 'float32', (i, j) => i + j + 1);
    const f = writeNiftiFile(join(root, 'imagesTr', 'case_2_0000.nii.gz'), flat);
    writeNiftiFile(join(root, 'labelsTr', 'case_2.nii.gz'), vol([6, 5, 1], 'uint8', (i) => (i > 2 ? 1 : 0)));
    const { r, text } = await check(root);
    expect(r.ok).toBe(true);
    expect(text).toContain(`note: ${f}: case 'case_2' is 2D (shape 1x5x6, one slice) while the other 2 training case(s) are 3D volumes (case_0 4x5x6, case_1 4x5x6); nnU-Net plans with it and pads it to the 3d patch, so it trains as a padded slice: give the whole volume, or remove the case`);
    expect((await check(root, true)).r.ok).toBe(false);
    // all cases 2D: no note
    const two = dataset(2);
    for (let i = 0; i < 2; i++) addCase(two, `case_${i}`, [flat], vol([6, 5, 1], 'uint8', (k) => (k > 2 ? 1 : 0)));
    expect((await check(two)).text).not.toContain('is 2D');
  });

  it('F-V14: an image that is a broken symbolic link is a problem naming the link, its target and the fix (was: "dataset OK", its label noted as without an image; now that note is left out)', async () => {
    const root = dataset(3);
    const link = join(root, 'imagesTr', 'case_2_0000.nii.gz');
    const target = join(root, 'moved-away', 'case_2_0000.nii.gz');
    rmSync(link);
    symlinkSync(target, link);
    const { r, text } = await check(root);
    expect(r.ok).toBe(false);
    expect(r.problems).toContainEqual({
      caseId: 'case_2',
      file: link,
      message: `image is a broken symbolic link: its target ${target} does not exist; restore the target (or point the link at the file's new place), copy the file itself here, or remove the link and the case's label`,
    });
    expect(text).not.toContain('dataset OK');
    expect(text).not.toContain('without an image');
    // a broken label link likewise
    const root2 = dataset(2);
    const lab1 = join(root2, 'labelsTr', 'case_1.nii.gz');
    rmSync(lab1);
    symlinkSync('../gone/case_1.nii.gz', lab1);
    expect((await check(root2)).r.problems).toContainEqual({ caseId: 'case_1', file: lab1, message: expect.stringContaining("label is a broken symbolic link: its target ../gone/case_1.nii.gz does not exist;") });
  });

  it('F-V15: an int64 label map (what nibabel writes for an np.int64 array) is read and validated: dataset OK (was: refused, "convert the image to ... float32")', async () => {
    const root = dataset(2);
    const f = join(root, 'labelsTr', 'case_1.nii.gz');
    put(f, gzipSync(asInt64(niftiBytes(lab()))));
    const { r, text } = await check(root);
    expect(r.problems).toEqual([]);
    expect(text).toContain('dataset OK (2 cases checked)');
    const seg = await core.readImage(makeRegistry(), f);
    expect(seg.data.constructor.name).toBe('Int32Array');
    expect(Array.from(seg.data)).toEqual(Array.from(lab().data as ArrayLike<number>));
  });

  it('F-V16: FreeSurfer-style declared labels {0, 17, 53} say how to renumber them, naming each value (was: "not consecutive (RULES.md §1)" only)', async () => {
    const root = makeDatasetV2(tempDir('nnunet-faults-'), datasetJsonV2(['T1'], { background: 0, 'Left-Hippocampus': 17, 'Right-Hippocampus': 53 }, 2));
    const fs = () => vol([6, 5, 4], 'uint8', (i, j) => (i > 3 ? 53 : j > 2 ? 17 : 0));
    for (let i = 0; i < 2; i++) addCase(root, `case_${i}`, [img(i)], fs());
    const { r } = await check(root);
    expect(r.problems.map((p) => p.message)).toContain('declared label values {0, 17, 53} are not consecutive integers 0..K (RULES.md §1); nnU-Net needs the classes numbered 0, 1, 2, ...: renumber the values in every label file (17 -> 1 (Left-Hippocampus), 53 -> 2 (Right-Hippocampus)) and list the new values in dataset.json "labels"');
    // declared 0..2 but the files still hold the original numbers
    const root2 = makeDatasetV2(tempDir('nnunet-faults-'), datasetJsonV2(['T1'], { background: 0, left: 1, right: 2 }, 2));
    for (let i = 0; i < 2; i++) addCase(root2, `case_${i}`, [img(i)], fs());
    const lab0 = join(root2, 'labelsTr', 'case_0.nii.gz');
    expect((await check(root2)).r.problems).toContainEqual({ caseId: 'case_0', file: lab0, message: 'unexpected label value(s) [17, 53]; declared {0, 1, 2} (the file holds {0, 17, 53}: if these are the classes in another numbering (FreeSurfer-style values), renumber them to the values dataset.json declares)' });
  });

  it('F-V17: partial-volume label values (0.5, 1.5 after linear resampling) say to resample labels with nearest neighbour (was: "is this an image rather than a label?")', async () => {
    const root = makeDatasetV2(tempDir('nnunet-faults-'), datasetJsonV2(['MR'], { background: 0, a: 1, b: 2 }, 2));
    for (let i = 0; i < 2; i++) addCase(root, `case_${i}`, [img(i)], vol([6, 5, 4], 'uint8', (x) => Math.min(2, x >> 1)));
    const f = writeNiftiFile(join(root, 'labelsTr', 'case_1.nii.gz'), vol([6, 5, 4], 'float32', (x) => Math.min(2, x / 2)));
    const { r } = await check(root);
    expect(r.problems).toContainEqual({ caseId: 'case_1', file: f, message: 'unexpected label value(s) [0.5, 1.5]; declared {0, 1, 2} (non-integer values between the label values, such as 0.5, 1.5: the label map looks resampled with linear interpolation; resample label maps with nearest-neighbour interpolation (SimpleITK sitkNearestNeighbor, scipy/skimage order=0) from the original)' });
    // an image given as a label (values beyond the declared range) keeps the image hint
    const g = writeNiftiFile(join(root, 'labelsTr', 'case_0.nii.gz'), img(3));
    expect((await check(root)).r.problems.find((p) => p.file === g)?.message).toMatch(/\(non-integer values such as 0\.5: is this an image rather than a label\?\)$/);
  });

  it("F-V18: macOS AppleDouble files (._case_0000.nii.gz) are noted as macOS metadata, ignored (was: \"not ending in '.nii.gz'\", though they do)", async () => {
    const root = dataset(2);
    put(join(root, 'imagesTr', '._case_0_0000.nii.gz'), 'Mac OS X        ATTR');
    put(join(root, 'imagesTr', '._case_1_0000.nii.gz'), 'Mac OS X        ATTR');
    const { r, text } = await check(root);
    expect(r.ok).toBe(true);
    expect(r.notes).toContain(`${join(root, 'imagesTr')}: ignored 2 macOS metadata file(s) (AppleDouble '._' files that macOS writes beside copied files; not images): ._case_0_0000.nii.gz, ._case_1_0000.nii.gz; delete them with dot_clean or rm ._*`);
    expect(text).not.toContain('not ending in');
  });

  it('F-V10: `validate --strict` exits 1 on a dataset whose only findings are notes; the default exits 0', async () => {
    const root = dataset(2);
    put(join(root, 'imagesTr', 'README.txt'), 'not an image');
    const plain = await runCli('validate', root, '-q');
    expect(plain.code).toBe(0);
    expect(plain.out).toContain('note: ');
    expect(plain.out).toContain('dataset OK (2 cases checked)');
    const strict = await runCli('validate', root, '--strict', '-q');
    expect(strict.code).toBe(1);
    expect(strict.out).toContain(`${join(root, 'imagesTr')}: (strict) ignored 1 file(s) not ending in '.nii.gz': README.txt`);
    expect(strict.err).toContain('--strict: notes count as problems');
  });
});
