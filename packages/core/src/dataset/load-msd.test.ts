import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DataError } from '../util/errors.js';
import { convertMsd } from './convert.js';
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

describe('nnU-Net v1 raw layout (training lists CASE.nii.gz, imagesTr holds CASE_0000.nii.gz)', () => {
  const root = join(dir, 'Task500_HippoV1');
  for (const s of ['imagesTr', 'labelsTr', 'imagesTs']) mkdirSync(join(root, s), { recursive: true });
  const ids = ['hippocampus_001', 'hippocampus_003'];
  const training = ids.map((id) => ({ image: `./imagesTr/${id}.nii.gz`, label: `./labelsTr/${id}.nii.gz` }));
  writeFileSync(join(root, 'dataset.json'), JSON.stringify({ name: 'Hippocampus', modality: { 0: 'MRI' }, labels: { 0: 'background', 1: 'Anterior' }, numTraining: 2, training, test: ['./imagesTs/hippocampus_002.nii.gz'] }));
  for (const id of ids) {
    writeFileSync(join(root, 'imagesTr', `${id}_0000.nii.gz`), `image ${id}`);
    writeFileSync(join(root, 'labelsTr', `${id}.nii.gz`), `label ${id}`);
  }
  writeFileSync(join(root, 'imagesTs', 'hippocampus_002_0000.nii.gz'), 'test image');

  it('loading it is one error naming dataset.json and the conversion (was: every image "missing", and the same files "not listed")', async () => {
    await expect(loadDataset(root)).rejects.toThrow(
      `${join(root, 'dataset.json')}: this is an nnU-Net v1 raw dataset: 'training' lists 2 image(s) without the channel suffix (./imagesTr/hippocampus_001.nii.gz) while the files on disk have it (hippocampus_001_0000.nii.gz); nnU-Net v2 and nnunet-ts read the v2 layout`,
    );
    const e = await loadDataset(root).catch((x: unknown) => x as DataError);
    expect(e).toBeInstanceOf(DataError);
    expect((e as DataError).hint).toBe(`convert it (the input is not modified): nnunet-ts convert-msd ${root} -o <nnUNet_raw>/Dataset500_HippoV1 (nnU-Net v2's nnUNetv2_convert_old_nnUNet_dataset does the same), then validate the converted folder`);
  });

  it('convert-msd converts it: channel files copied under their names, labels, imagesTs, a v2 dataset.json', async () => {
    const out = join(dir, 'raw', 'Dataset500_HippoV1');
    const ds = await convertMsd(root, out);
    expect(ds.layout).toBe('v2');
    expect(ds.cases.map((c) => [c.id, c.images, c.label])).toEqual(ids.map((id) => [id, [join(out, 'imagesTr', `${id}_0000.nii.gz`)], join(out, 'labelsTr', `${id}.nii.gz`)]));
    expect(readFileSync(join(out, 'imagesTr', 'hippocampus_003_0000.nii.gz'), 'utf8')).toBe('image hippocampus_003');
    expect(ds.testCases.map((c) => c.images)).toEqual([[join(out, 'imagesTs', 'hippocampus_002_0000.nii.gz')]]);
    expect(ds.json.channel_names).toEqual({ 0: 'MRI' });
    expect(ds.problems).toEqual([]);
    expect(readdirSync(join(root, 'imagesTr')).sort()).toEqual(['hippocampus_001_0000.nii.gz', 'hippocampus_003_0000.nii.gz']);
  });
});
