/**
 * Bad-input rows exercised through dataset loading and validation (`loadDataset` + `validateDataset`, and
 * `readCase`, the path preprocessing and prediction take to read a case).
 */
import { mkdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  addCase,
  cleanupTemp,
  datasetJsonV2,
  fill,
  makeDatasetV2,
  orthonormalColumns,
  put,
  rng,
  rotationAngleDeg,
  tempDir,
  vol,
  writeNiftiFile,
} from './generate.js';
import { core, errorText, isUserError, makeRegistry, mentionsNumber, need, thrown, validate } from './harness.js';

afterAll(cleanupTemp);

type AnyFn = (...args: any[]) => any;

/** Problems (file + message) of a validation report that concern `fileName`. */
function problemsFor(text: string, fileName: string): string {
  return text
    .split('\n')
    .filter((l) => l.includes(fileName))
    .join('\n');
}

describe('validate rows', () => {
  it('B01: a PET channel on a 4 mm grid next to a CT/label 1 mm grid fails the check, naming the file and each differing field', async () => {
    const parent = tempDir();
    const root = makeDatasetV2(parent, datasetJsonV2(['CT', 'PET'], { background: 0, lesion: 1 }, 1));
    const ct = vol([32, 32, 6], 'int16', (i, j) => (i + j) * 3 - 100, { spacing: [1, 1, 3.27], origin: [-16, -16, -20] });
    const pet = vol([8, 8, 6], 'float32', (i, j) => i * j * 0.5, { spacing: [4, 4, 3.27], origin: [-14.5, -14.5, -20] });
    const lab = vol([32, 32, 6], 'uint8', (i, j, k) => (i >= 8 && i <= 15 && j >= 8 && j <= 15 && k >= 1 && k <= 4 ? 1 : 0), {
      spacing: [1, 1, 3.27],
      origin: [-16, -16, -20],
    });
    addCase(root, 'petct_001', [ct, pet], lab);
    const r = await validate(root);
    expect(r.ok).toBe(false);
    const about = problemsFor(r.errorText, 'petct_001_0001.nii.gz');
    expect(about, r.text).toMatch(/shape/i);
    expect(about).toMatch(/spacing/i);
    expect(about).toMatch(/origin/i);
    // both values of each field
    expect(about).toMatch(/32, 32, 6/);
    expect(about).toMatch(/8, 8, 6/);
    expect(about).toMatch(/4, 4, 3\.27/);
    expect(about).toMatch(/1, 1, 3\.27/);
    expect(about).toMatch(/-14\.5/);
    expect(about).toMatch(/-16/);
    // the read path used by preprocessing/prediction refuses to pair the arrays by index
    const readCase = need<AnyFn>(core as never, 'readCase');
    const loadDataset = need<AnyFn>(core as never, 'loadDataset');
    const ds = await loadDataset(root);
    const err = await thrown(() => readCase(makeRegistry(), ds.cases[0]));
    expect(isUserError(err), errorText(err)).toBe(true);
    expect(errorText(err)).toContain('petct_001_0001.nii.gz');
    expect(errorText(err)).toMatch(/shape|grid/i);
  });

  it('B01 (opt-in): with alignGrids the PET channel is resampled linearly onto the CT/label grid, and it is logged', async () => {
    const parent = tempDir();
    const root = makeDatasetV2(parent, datasetJsonV2(['CT', 'PET'], { background: 0, lesion: 1 }, 1));
    const ct = vol([32, 32, 6], 'int16', (i, j) => i + j, { spacing: [1, 1, 3.27], origin: [-16, -16, -20] });
    // PET intensity = its world x (LPS, mm): trilinear resampling reproduces a linear function exactly
    const pet = vol([8, 8, 6], 'float32', (i) => -14.5 + 4 * i, { spacing: [4, 4, 3.27], origin: [-14.5, -14.5, -20] });
    const lab = vol([32, 32, 6], 'uint8', (i, j) => (i >= 8 && i <= 15 && j >= 8 && j <= 15 ? 1 : 0), { spacing: [1, 1, 3.27], origin: [-16, -16, -20] });
    addCase(root, 'petct_001', [ct, pet], lab);
    const ds = await need<AnyFn>(core as never, 'loadDataset')(root);
    const logs: string[] = [];
    const cs = await need<AnyFn>(core as never, 'readCase')(makeRegistry(), ds.cases[0], undefined, { alignGrids: true, log: (m: string) => logs.push(m) });
    expect(cs.image.shape).toEqual([2, 6, 32, 32]);
    expect(cs.image.spacing[1]).toBe(1);
    const n = 6 * 32 * 32;
    let checked = 0;
    for (let k = 0; k < 6; k++)
      for (let j = 0; j < 32; j++)
        for (let i = 0; i < 32; i++) {
          const wx = -16 + i;
          const wy = -16 + j;
          if (wx < -14.5 || wx > 13.5 || wy < -14.5 || wy > 13.5) continue;
          expect(Math.abs(cs.image.data[n + (k * 32 + j) * 32 + i] - wx), `voxel ${i},${j},${k}`).toBeLessThan(1e-4);
          checked++;
        }
    expect(checked).toBe(6 * 28 * 28);
    expect(logs.join('\n')).toMatch(/petct_001_0001\.nii\.gz: resampled \(linear\)/);
    // the label was already on the CT grid: untouched
    expect(Array.from(cs.seg.data).reduce((a: number, b: number) => a + b, 0)).toBe(6 * 64);
  });

  it('B03: an oblique image with an axis-aligned label is refused, giving the rotation angle and the origin offset', async () => {
    const parent = tempDir();
    const root = makeDatasetV2(parent, datasetJsonV2(['MRI'], { background: 0, lesion: 1 }, 1));
    const oblique = orthonormalColumns([0.9845, 0.1749, -0.0108, 0.1749, -0.9846, -0.0029, 0.0111, -0.0009, 0.9999]);
    const flipY = [1, 0, 0, 0, -1, 0, 0, 0, 1];
    const img = vol([20, 20, 10], 'float32', (i, j, k) => i + j + k, { spacing: [0.5, 0.5, 1.5], origin: [-12.21, 12.06, -7.75], direction: oblique });
    const lab = vol([20, 20, 10], 'uint8', (i, j, k) => (i >= 8 && i < 12 && j >= 8 && j < 12 && k >= 3 && k < 7 ? 1 : 0), {
      spacing: [0.5, 0.5, 1.5],
      origin: [-9.96, 9.96, -7.6],
      direction: flipY,
    });
    addCase(root, 'prostate_001', [img], lab);
    const angle = rotationAngleDeg(oblique, flipY);
    const offset = Math.hypot(-12.21 + 9.96, 12.06 - 9.96, -7.75 + 7.6);
    expect(angle).toBeGreaterThan(9.5);
    const r = await validate(root);
    expect(r.ok).toBe(false);
    const about = problemsFor(r.errorText, 'prostate_001.nii.gz');
    expect(about, r.text).toMatch(/rotat|angle/i);
    expect(mentionsNumber(about, angle, 0.05), `rotation ${angle.toFixed(3)} deg in: ${about}`).toBe(true);
    expect(about).toMatch(/offset/i);
    expect(mentionsNumber(about, offset, 0.01), `origin offset ${offset.toFixed(4)} mm in: ${about}`).toBe(true);
    // opt-in only: the label is resampled into image space with nearest neighbour (values stay {0, 1}), logged
    const ds = await need<AnyFn>(core as never, 'loadDataset')(root);
    const logs: string[] = [];
    const cs = await need<AnyFn>(core as never, 'readCase')(makeRegistry(), ds.cases[0], undefined, { alignGrids: true, log: (m: string) => logs.push(m) });
    expect(cs.seg.shape).toEqual([1, 10, 20, 20]);
    expect([...new Set(cs.seg.data)].sort()).toEqual([0, 1]);
    expect(logs.join('\n')).toMatch(/prostate_001\.nii\.gz: resampled \(nearest\)/);
  });

  it('B04: channels of one case with 5 and 30 slices are refused before preprocessing, naming both files, shapes and spacings', async () => {
    const parent = tempDir();
    const root = makeDatasetV2(parent, datasetJsonV2(['FLAIR', 'T1'], { background: 0, lesion: 1 }, 1));
    const ok0 = vol([12, 12, 6], 'float32', (i) => i);
    addCase(root, 'brain_001', [ok0, ok0], vol([12, 12, 6], 'uint8', (i) => (i > 5 ? 1 : 0)));
    const flair = vol([24, 24, 5], 'float32', (i, j) => i + j, { spacing: [1, 1, 6] });
    const t1 = vol([24, 24, 30], 'float32', (i, j) => i - j, { spacing: [1, 1, 1] });
    addCase(root, 'brain_002', [flair, t1], null, '.nii.gz', 'imagesTs');
    const r = await validate(root);
    expect(r.ok).toBe(false);
    const about = problemsFor(r.errorText, 'brain_002_0001.nii.gz');
    expect(about, r.text).toContain('brain_002_0000.nii.gz');
    expect(about).toMatch(/24, 24, 5\b/);
    expect(about).toMatch(/24, 24, 30\b/);
    expect(about).toMatch(/1, 1, 6\b/);
    expect(about).toMatch(/1, 1, 1\b/);
    expect(about).toMatch(/share one grid|same grid/i);
    // prediction reads the case the same way: a DataError naming both files, not a crash in the network
    const readCase = need<AnyFn>(core as never, 'readCase');
    const ds = await need<AnyFn>(core as never, 'loadDataset')(root);
    const err = await thrown(() => readCase(makeRegistry(), ds.testCases[0]));
    expect(isUserError(err), errorText(err)).toBe(true);
    expect(errorText(err)).toContain('brain_002_0000.nii.gz');
    expect(errorText(err)).toContain('brain_002_0001.nii.gz');
  });

  it('B05: label values {0,2,3,4,5} against declared 0..4 give a per-file error naming [5], and a note that 1 never occurs', async () => {
    const parent = tempDir();
    const root = makeDatasetV2(parent, datasetJsonV2(['MRI'], { background: 0, a: 1, b: 2, c: 3, d: 4 }, 2));
    const img = vol([10, 10, 10], 'float32', (i, j, k) => i + j + k);
    const shifted = [0, 2, 3, 4, 5];
    addCase(root, 'case_001', [img], vol([10, 10, 10], 'uint8', (i) => shifted[i % 5]!));
    addCase(root, 'case_002', [img], vol([10, 10, 10], 'uint8', (i) => [0, 2, 3][i % 3]!));
    const r = await validate(root);
    expect(r.ok).toBe(false);
    const about = problemsFor(r.errorText, 'case_001.nii.gz');
    expect(about, r.text).toMatch(/unexpected/i);
    expect(about).toMatch(/\[5\]/);
    expect(about).toMatch(/0, 1, 2, 3, 4|0\.\.4/);
    expect(problemsFor(r.errorText, 'case_002.nii.gz')).toBe('');
    expect(r.text).toMatch(/\b1\b[^\n]*never/);
  });

  it('B06: a {0,255} mask is reported as undeclared 255 with a hint that it looks like an 8-bit binary mask', async () => {
    const parent = tempDir();
    const root = makeDatasetV2(parent, datasetJsonV2(['US'], { background: 0, nodule: 1 }, 1));
    const img = vol([32, 32, 1], 'uint8', (i, j) => (i * 7 + j * 3) % 256);
    const disc = vol([32, 32, 1], 'uint8', (i, j) => ((i - 16) ** 2 + (j - 16) ** 2 <= 36 ? 255 : 0));
    addCase(root, 'thyroid_001', [img], disc);
    const r = await validate(root);
    expect(r.ok).toBe(false);
    const about = problemsFor(r.errorText, 'thyroid_001.nii.gz');
    expect(about, r.text).toMatch(/\[255\]/);
    expect(about).toMatch(/binary mask/i);
    expect(about).toMatch(/255/);
    expect(about).toMatch(/divide|\/ ?255|\{0, 1\}/i);
  });

  it('B16: a channel declared CT holding values in [0,1] is flagged as implausible for Hounsfield units', async () => {
    const parent = tempDir();
    const root = makeDatasetV2(parent, datasetJsonV2(['CT'], { background: 0, organ: 1 }, 1));
    const ct = vol([16, 16, 16], 'float32', (i, j, k) => {
      const d = Math.hypot(i - 8, j - 8, k - 8);
      return d > 7 ? 0 : d < 2 ? 0.9 : 0.5;
    });
    const lab = vol([16, 16, 16], 'uint8', (i, j, k) => (Math.hypot(i - 8, j - 8, k - 8) < 4 ? 1 : 0));
    addCase(root, 'ct_001', [ct], lab);
    const r = await validate(root);
    const about = problemsFor(r.text, 'ct_001_0000.nii.gz');
    expect(about, r.text).toMatch(/HU|Hounsfield/);
    expect(about).toMatch(/CT/);
    // at prediction time: the same image against a training fingerprint of about -1000..1500 HU warns
    const reg = makeRegistry();
    const fp = {
      foreground_intensity_properties_per_channel: { '0': { mean: 40, median: 40, std: 300, min: -1024, max: 3000, percentile_99_5: 1500, percentile_00_5: -1000 } },
      median_relative_size_after_cropping: 1,
      shapes_after_crop: [[16, 16, 16], [16, 16, 16]],
      spacings: [[1, 1, 1], [1, 1, 1]],
    };
    if (!reg.has('planner', 'nnUNetPlanner')) need<AnyFn>(core as never, 'registerPlanners')(reg, { override: true });
    const plans = reg.get('planner', 'nnUNetPlanner').plan(fp, datasetJsonV2(['CT'], { background: 0, organ: 1 }, 2) as never);
    const img = await reg.get('reader', 'nifti').read(join(root, 'imagesTr', 'ct_001_0000.nii.gz'));
    const warnings: string[] = [];
    await need<AnyFn>(core as never, 'preprocessCase')(
      { image: img.data, shape: img.shape, spacing: img.spacing, seg: null },
      plans,
      '3d_fullres',
      reg,
      { caseId: 'ct_001', onWarning: (m: string) => warnings.push(m) },
    );
    expect(warnings.join('\n')).toMatch(/ct_001[^\n]*CT[^\n]*Hounsfield/);
    expect(warnings.join('\n')).toMatch(/-1000/);
  });

  it('B36: imagesTs with case_0000.nii while file_ending is .nii.gz is accepted with a note (or refused listing it); notes.txt is ignored with a note', async () => {
    const parent = tempDir();
    const root = makeDatasetV2(parent, datasetJsonV2(['CT'], { background: 0, liver: 1 }, 1));
    const img = vol([8, 8, 4], 'int16', (i) => i);
    addCase(root, 'liver_001', [img], vol([8, 8, 4], 'uint8', (i) => (i > 3 ? 1 : 0)));
    writeNiftiFile(join(root, 'imagesTs', 'case_0000.nii'), img);
    put(join(root, 'imagesTs', 'notes.txt'), 'scanned on 2019-01-01\n');
    const loadDataset = need<AnyFn>(core as never, 'loadDataset');
    let ds: { testCases: { id: string; images: string[] }[]; notes: string[] };
    try {
      ds = await loadDataset(root);
    } catch (e) {
      expect(isUserError(e), errorText(e)).toBe(true);
      expect(errorText(e)).toContain('case_0000.nii');
      expect(errorText(e)).toContain('.nii.gz');
      return;
    }
    expect(ds.testCases.map((c) => c.id)).toEqual(['case']);
    expect(basename(ds.testCases[0]!.images[0]!)).toBe('case_0000.nii');
    const notes = ds.notes.join('\n');
    expect(problemsFor(notes, 'case_0000.nii'), notes).toMatch(/\.nii\.gz/);
    expect(problemsFor(notes, 'notes.txt'), notes).toMatch(/ignor/i);
    expect(ds.testCases.flatMap((c) => c.images).some((p) => p.endsWith('notes.txt'))).toBe(false);
  });

  it('B40: non-ASCII folder and case names (CJK, umlaut in NFD on disk) are found, paired and kept exactly (NFC)', async () => {
    const parent = join(tempDir(), 'Daten_ä');
    mkdirSync(parent, { recursive: true });
    const root = makeDatasetV2(parent, datasetJsonV2(['CT'], { background: 0, nodule: 1 }, 2), 'Dataset001_Lunge');
    const img = vol([8, 8, 4], 'int16', (i, j) => i * j);
    const lab = vol([8, 8, 4], 'uint8', (i) => (i > 4 ? 1 : 0));
    addCase(root, '肺结节_001', [img], lab);
    // image file name in NFD (as macOS writes it), label in NFC
    writeNiftiFile(join(root, 'imagesTr', `${'Sättiger_002'.normalize('NFD')}_0000.nii.gz`), img);
    writeNiftiFile(join(root, 'labelsTr', `${'Sättiger_002'.normalize('NFC')}.nii.gz`), lab);
    const loadDataset = need<AnyFn>(core as never, 'loadDataset');
    const ds = await loadDataset(root);
    const ids = ds.cases.map((c: { id: string }) => c.id);
    expect([...ids].sort()).toEqual(['Sättiger_002'.normalize('NFC'), '肺结节_001'].sort());
    for (const c of ds.cases) expect(c.label, `label of ${c.id}`).toBeTruthy();
    const r = await validate(root);
    expect(r.ok, r.text).toBe(true);
    // split files keep the identifiers exactly
    const createSplits = need<AnyFn>(core as never, 'createSplits');
    const splits = createSplits(ids, 2, 12345);
    const inSplits = new Set(splits.flatMap((s: { train: string[]; val: string[] }) => [...s.train, ...s.val]));
    expect([...inSplits].sort()).toEqual([...ids].sort());
    const c0 = await need<AnyFn>(core as never, 'readCase')(makeRegistry(), ds.cases[0]);
    expect(c0).toBeTruthy();
  });

  it("B42: PID_0000..PID_0004 with one channel declared: \"case 'PID' has 5 channel files\" and \"found 1 training case but numTraining = 5\"", async () => {
    const parent = tempDir();
    const root = makeDatasetV2(parent, datasetJsonV2(['CT'], { background: 0, tumour: 1 }, 5));
    const r0 = rng(42);
    const imgs = [0, 1, 2, 3, 4].map(() => vol([6, 6, 4], 'float32', () => r0()));
    addCase(root, 'PID', imgs, vol([6, 6, 4], 'uint8', (i) => (i > 2 ? 1 : 0)));
    const r = await validate(root);
    expect(r.ok).toBe(false);
    expect(r.errorText).toMatch(/case 'PID' has 5 channel file/);
    expect(r.errorText).toMatch(/declares 1 channel/);
    expect(r.errorText).toMatch(/found 1 training case\(?s?\)? but numTraining = 5/);
  });

  it('B43 (a): a v1-style dataset.json in a v2 folder is converted explicitly (each mapping noted) or refused listing keys and mappings', async () => {
    const parent = tempDir();
    const root = makeDatasetV2(parent, {
      name: 'Liver',
      modality: { '0': 'CT' },
      labels: { '0': 'background', '1': 'liver' },
      numTraining: 2,
    });
    const img = vol([6, 6, 4], 'int16', (i) => i * 10);
    const lab = vol([6, 6, 4], 'uint8', (i) => (i > 2 ? 1 : 0));
    addCase(root, 'liver_001', [img], lab);
    addCase(root, 'liver_002', [img], lab);
    const loadDataset = need<AnyFn>(core as never, 'loadDataset');
    let ds: { json: Record<string, unknown>; notes: string[] };
    try {
      ds = await loadDataset(root);
    } catch (e) {
      const text = errorText(e);
      expect(isUserError(e), text).toBe(true);
      expect(text).toContain('dataset.json');
      expect(text).toMatch(/channel_names/);
      expect(text).toMatch(/file_ending/);
      expect(text).toMatch(/modality'?\s*(->|→|to)\s*'?channel_names/);
      return;
    }
    expect(ds.json['channel_names']).toEqual({ '0': 'CT' });
    expect(ds.json['labels']).toEqual({ background: 0, liver: 1 });
    expect(ds.json['file_ending']).toBe('.nii.gz');
    const notes = ds.notes.join('\n');
    expect(notes).toMatch(/modality'?[^\n]*channel_names/);
    expect(notes).toMatch(/labels[^\n]*invert/i);
    expect(notes).toMatch(/file_ending/);
  });

  it('B43 (b): a trailing comma in dataset.json is reported with its line and column', async () => {
    const parent = tempDir();
    const text = [
      '{',
      '  "channel_names": {',
      '    "0": "CT",',
      '  },',
      '  "labels": {"background": 0, "liver": 1},',
      '  "numTraining": 1,',
      '  "file_ending": ".nii.gz"',
      '}',
    ].join('\n');
    const root = makeDatasetV2(parent, text);
    addCase(root, 'liver_001', [vol([4, 4, 2], 'int16', () => 0)], vol([4, 4, 2], 'uint8', () => 0));
    const err = await thrown(() => need<AnyFn>(core as never, 'loadDataset')(root));
    const msg = errorText(err);
    expect(isUserError(err), msg).toBe(true);
    expect(msg).toContain('dataset.json');
    // the offending '}' after the trailing comma is on line 4, column 3
    expect(msg).toMatch(/line 4\b/);
    expect(msg).toMatch(/column 3\b/);
  });
});

// keep `fill` referenced for future recipes that need raw arrays
void fill;
