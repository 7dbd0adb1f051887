import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadDataset } from './load.js';

const dir = mkdtempSync(join(tmpdir(), 'nnunet-msd-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('MSD task: stray files and .nii for .nii.gz', () => {
  it('unlisted files in imagesTr/labelsTr are notes; a listed .nii.gz present as .nii is used with a note', async () => {
    const root = join(dir, 'Task04_Hippocampus');
    for (const s of ['imagesTr', 'labelsTr']) mkdirSync(join(root, s), { recursive: true });
    const training = ['hippocampus_001', 'hippocampus_003'].map((id) => ({ image: `./imagesTr/${id}.nii.gz`, label: `./labelsTr/${id}.nii.gz` }));
    writeFileSync(join(root, 'dataset.json'), JSON.stringify({ name: 'Hippocampus', modality: { 0: 'MRI' }, labels: { 0: 'background', 1: 'Anterior' }, numTraining: 2, training, test: [] }));
    for (const f of ['imagesTr/hippocampus_001.nii.gz', 'labelsTr/hippocampus_001.nii.gz', 'imagesTr/hippocampus_003.nii', 'labelsTr/hippocampus_003.nii.gz',
      'imagesTr/hippocampus_003 (copy).nii.gz', 'imagesTr/.DS_Store', 'labelsTr/.DS_Store']) writeFileSync(join(root, f), '');
    const ds = await loadDataset(root);
    expect(ds.layout).toBe('msd');
    expect(ds.cases.find((c) => c.id === 'hippocampus_003')!.images).toEqual([join(root, 'imagesTr', 'hippocampus_003.nii')]);
    expect(ds.notes).toContain(`${join(root, 'imagesTr', 'hippocampus_003.nii')}: ending '.nii' accepted for file_ending '.nii.gz' listed in dataset.json as ./imagesTr/hippocampus_003.nii.gz (read by content)`);
    expect(ds.notes).toContain(`${join(root, 'imagesTr')}: ignored 2 file(s) not listed in dataset.json 'training': .DS_Store, hippocampus_003 (copy).nii.gz`);
    expect(ds.notes).toContain(`${join(root, 'labelsTr')}: ignored 1 file(s) not listed in dataset.json 'training': .DS_Store`);
    expect(ds.problems).toEqual([]);
  });
});
