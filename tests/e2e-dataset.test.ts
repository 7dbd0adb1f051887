/**
 * Dataset stage on real data (shared/data) and on a broken temporary copy of the embedded example:
 * loading both layouts, validation (all problems of all cases), and MSD -> v2 conversion.
 */
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Registry, convertMsd, loadDataset, readCase, readImage, registerCoreDefaults, validateDataset, formatValidationReport, pickWriter } from '@nnunet-ts/core';
import { registerDefaults as registerNifti } from '@nnunet-ts/io-nifti';
import { EXAMPLE_TASK, sharedPath } from './helpers/paths.js';

const tmp: string[] = [];
afterAll(() => tmp.forEach((d) => rmSync(d, { recursive: true, force: true })));
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'nnunet-ds-'));
  tmp.push(d);
  return d;
}
function registry(): Registry {
  const r = new Registry();
  registerCoreDefaults(r);
  registerNifti(r);
  return r;
}

describe('loadDataset + validateDataset on shared data', () => {
  it('Task04_Hippocampus (MSD v1, 220 cases, mixed dtypes, float labels) loads and validates clean', async () => {
    const ds = await loadDataset(sharedPath('data', 'Task04_Hippocampus'));
    expect(ds.layout).toBe('msd');
    expect(ds.cases).toHaveLength(220);
    expect(ds.json.channel_names).toEqual({ '0': 'MRI' });
    expect(ds.json.labels).toEqual({ background: 0, Anterior: 1, Posterior: 2 });
    expect(ds.json.file_ending).toBe('.nii.gz');
    expect(ds.testCases.map((c) => c.id)).toEqual(['hippocampus_118']);
    const r = await validateDataset(ds, registry());
    expect(r.problems, formatValidationReport(r)).toEqual([]);
    expect(r.ok).toBe(true);
  });

  it('BraTS2015_DeepMedic_subset (2 channels, v2 file names) validates clean and stacks channels to [2, z, y, x]', async () => {
    const ds = await loadDataset(sharedPath('data', 'BraTS2015_DeepMedic_subset'));
    expect(ds.cases).toHaveLength(6);
    expect(ds.cases[0]!.images).toHaveLength(2);
    expect(ds.json.labels['enhancing tumor']).toBe(4);
    const reg = registry();
    const r = await validateDataset(ds, reg);
    expect(r.problems, formatValidationReport(r)).toEqual([]);
    const c = await readCase(reg, ds.cases[0]!);
    expect(c.image.shape[0]).toBe(2);
    expect(c.seg.shape.slice(1)).toEqual(c.image.shape.slice(1));
  });
});

describe('a broken copy of the example', () => {
  it('reports the label containing 3 and the image with another spacing, naming both files and both values', async () => {
    const root = join(tempDir(), 'Task04_Broken');
    cpSync(EXAMPLE_TASK, root, { recursive: true });
    const reg = registry();
    const ds0 = await loadDataset(root);
    const [a, b] = [ds0.cases[1]!, ds0.cases[2]!];
    const lab = await readImage(reg, a.label!);
    const data = Int16Array.from(lab.data);
    data[data.length >> 1] = 3;
    await pickWriter(reg, '.nii.gz').write(a.label!, { ...lab, data }, { template: lab.header, dtype: 'uint8' });
    const img = await readImage(reg, b.images[0]!);
    await pickWriter(reg, '.nii.gz').write(b.images[0]!, { ...img, spacing: [1, 1, 1.5], header: undefined });
    const r = await validateDataset(await loadDataset(root), reg);
    const text = formatValidationReport(r);
    expect(r.ok).toBe(false);
    expect(r.problems.map((p) => p.caseId).sort()).toEqual([a.id, b.id].sort());
    const pa = r.problems.find((p) => p.caseId === a.id)!;
    expect(pa.file).toBe(a.label);
    expect(pa.message).toContain('unexpected label value(s) [3]; declared {0, 1, 2}');
    const pb = r.problems.find((p) => p.caseId === b.id)!;
    expect(pb.file).toBe(b.label);
    expect(pb.message).toContain(b.images[0]!);
    // each value names its file (image, then label)
    expect(pb.message).toContain(`spacing image ${basename(b.images[0]!)}: (1.5, 1, 1); label: (1, 1, 1) mm`);
    expect(text).toContain(`case ${a.id}:`);
  });
});

describe('convertMsd', () => {
  it('writes the v2 layout (CASE_0000, name->value labels, imagesTs/labelsTs) and leaves the input untouched', async () => {
    const before = readdirSync(join(EXAMPLE_TASK, 'imagesTr')).map((n) => statSync(join(EXAMPLE_TASK, 'imagesTr', n)).mtimeMs);
    const jsonBefore = readFileSync(join(EXAMPLE_TASK, 'dataset.json'), 'utf8');
    const out = join(tempDir(), 'Dataset004_Hippocampus_subset');
    const ds = await convertMsd(EXAMPLE_TASK, out, registry());
    expect(ds.layout).toBe('v2');
    expect(ds.cases).toHaveLength(40);
    expect(ds.testCases).toHaveLength(10);
    expect(ds.testCases.every((c) => c.label)).toBe(true);
    expect(existsSync(join(out, 'imagesTr', 'hippocampus_003_0000.nii.gz'))).toBe(true);
    expect(existsSync(join(out, 'labelsTs', 'hippocampus_008.nii.gz'))).toBe(true);
    const json = JSON.parse(readFileSync(join(out, 'dataset.json'), 'utf8'));
    expect(json).toMatchObject({ channel_names: { '0': 'MRI' }, labels: { background: 0, Anterior: 1, Posterior: 2 }, numTraining: 40, file_ending: '.nii.gz' });
    expect(json.training).toBeUndefined();
    expect(readFileSync(join(EXAMPLE_TASK, 'dataset.json'), 'utf8')).toBe(jsonBefore);
    expect(readdirSync(join(EXAMPLE_TASK, 'imagesTr')).map((n) => statSync(join(EXAMPLE_TASK, 'imagesTr', n)).mtimeMs)).toEqual(before);
    const r = await validateDataset(ds, registry());
    expect(r.ok, formatValidationReport(r)).toBe(true);
  });

  it('splits a 4D MSD image into _0000 and _0001 files on the same grid', async () => {
    const reg = registry();
    const root = join(tempDir(), 'Task98_FourD');
    cpSync(EXAMPLE_TASK, root, { recursive: true, filter: (s) => !/hippocampus_0(0[4-9]|[1-9]\d)/.test(s) });
    const ds0 = await loadDataset(root);
    const c = ds0.cases[0]!;
    const img = await readImage(reg, c.images[0]!);
    const n = img.data.length;
    const four = new Float32Array(2 * n);
    for (let i = 0; i < n; i++) { four[i] = img.data[i]!; four[n + i] = 2 * img.data[i]!; }
    await pickWriter(reg, '.nii.gz').write(c.images[0]!, { ...img, data: four, shape: [2, img.shape[1], img.shape[2], img.shape[3]], header: undefined });
    const j = JSON.parse(readFileSync(join(root, 'dataset.json'), 'utf8'));
    j.modality = { '0': 'T1', '1': 'T1x2' };
    j.training = [j.training[0]];
    j.numTraining = 1;
    delete j.test;
    writeFileSync(join(root, 'dataset.json'), JSON.stringify(j));
    rmSync(join(root, 'imagesTs'), { recursive: true });
    rmSync(join(root, 'labelsTs'), { recursive: true });
    const ds = await convertMsd(root, join(tempDir(), 'Dataset098_FourD'), reg);
    expect(ds.cases[0]!.images.map((p) => p.split('/').pop())).toEqual([`${c.id}_0000.nii.gz`, `${c.id}_0001.nii.gz`]);
    const c1 = await readCase(reg, ds.cases[0]!);
    expect(c1.image.shape[0]).toBe(2);
    expect(c1.image.data[n + 100]).toBeCloseTo(2 * c1.image.data[100]!, 4);
  });
});

describe('validate names the folder a missing channel file belongs in', () => {
  it('a test case missing its _0001 file is reported under imagesTs, a training case under imagesTr', async () => {
    const out = join(tempDir(), 'Dataset004_Hippocampus_subset');
    await convertMsd(EXAMPLE_TASK, out, registry());
    const json = JSON.parse(readFileSync(join(out, 'dataset.json'), 'utf8'));
    writeFileSync(join(out, 'dataset.json'), JSON.stringify({ ...json, channel_names: { '0': 'MRI', '1': 'MRI2' } }));
    // every training case but one gets its second channel; no test case does
    const train = readdirSync(join(out, 'imagesTr')).filter((n) => n.endsWith('_0000.nii.gz')).sort();
    for (const n of train.slice(1)) cpSync(join(out, 'imagesTr', n), join(out, 'imagesTr', n.replace('_0000', '_0001')));
    const report = await validateDataset(await loadDataset(out), registry());
    const missing = report.problems.filter((p) => /channel file for channel 1 .* is missing/.test(p.message)).map((p) => p.file);
    expect(missing).toContain(join(out, 'imagesTr', train[0]!.replace('_0000', '_0001')));
    expect(missing).toContain(join(out, 'imagesTs', 'hippocampus_008_0001.nii.gz'));
    expect(missing.filter((f) => f.includes(`${join(out, 'imagesTr')}/hippocampus_008`))).toEqual([]);
  });
});
