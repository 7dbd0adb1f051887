/**
 * The validator on real files from shared/data/oddities, assembled (by symlink) into small v2 datasets: which real
 * files `validate` flags and why. Reading only; shared/ is never modified.
 */
import { mkdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { sharedPath } from '../helpers/paths.js';
import { cleanupTemp, datasetJsonV2, makeDatasetV2, tempDir } from './generate.js';
import { validate } from './harness.js';

afterAll(cleanupTemp);

const odd = (...p: string[]) => sharedPath('data', 'oddities', ...p);

function link(target: string, path: string) {
  mkdirSync(join(path, '..'), { recursive: true });
  symlinkSync(target, path);
}

describe('real oddities through validate', () => {
  it('MONAI big-endian .nii images with uint16 .nii.gz labels pass (the .nii ending is accepted with a note)', async () => {
    const root = makeDatasetV2(tempDir(), datasetJsonV2(['MRI'], { background: 0, brain: 1 }, 2));
    link(odd('monai_testing_data', 'anatomical.nii'), join(root, 'imagesTr', 'anat_0000.nii'));
    link(odd('monai_testing_data', 'anatomical_label.nii.gz'), join(root, 'labelsTr', 'anat.nii.gz'));
    link(odd('monai_testing_data', 'reoriented_anat_moved.nii'), join(root, 'imagesTr', 'moved_0000.nii'));
    link(odd('monai_testing_data', 'reoriented_anat_moved_label.nii.gz'), join(root, 'labelsTr', 'moved.nii.gz'));
    const r = await validate(root);
    expect(r.ok, r.text).toBe(true);
    expect(r.text).toMatch(/anat_0000\.nii[^\n]*accepted/);
  });

  it('the ProstateX T2 (0.5x0.5x3 mm) and DWI (2x2x3 mm) of one patient as two channels are flagged: different grids', async () => {
    const root = makeDatasetV2(tempDir(), datasetJsonV2(['T2', 'ADC'], { background: 0, prostate: 1 }, 0));
    link(odd('monai_testing_data', 'prostate_test_0000_t2_tse_tra_4.nii.gz'), join(root, 'imagesTs', 'prostatex_0000_0000.nii.gz'));
    link(odd('monai_testing_data', 'prostate_test_0000_ep2d_diff_tra_7.nii.gz'), join(root, 'imagesTs', 'prostatex_0000_0001.nii.gz'));
    const r = await validate(root);
    expect(r.ok).toBe(false);
    expect(r.errorText).toMatch(/prostatex_0000_0001\.nii\.gz[^\n]*shape[^\n]*\(384, 384, 19\)[^\n]*\(84, 128, 19\)/);
    expect(r.errorText).toMatch(/spacing/);
    expect(r.errorText).toMatch(/share one grid/);
  });

  it('the TotalSegmentator DICOM seg (512x512x20) next to the int32 CT (122x101x112) is flagged as a label on another grid', async () => {
    const root = makeDatasetV2(tempDir(), datasetJsonV2(['CT'], { background: 0, spleen: 1 }, 1));
    link(odd('totalsegmentator', 'example_ct_int32.nii.gz'), join(root, 'imagesTr', 'ts_0000.nii.gz'));
    link(odd('totalsegmentator', 'example_seg_dicom.nii.gz'), join(root, 'labelsTr', 'ts.nii.gz'));
    const r = await validate(root);
    expect(r.ok).toBe(false);
    expect(r.errorText).toMatch(/ts\.nii\.gz[^\n]*label grid differs[^\n]*shape[^\n]*\(122, 101, 112\)[^\n]*\(512, 512, 20\)/);
    // and its 32 TotalSegmentator classes are not declared here
    expect(r.errorText).toMatch(/ts\.nii\.gz[^\n]*unexpected label value/);
  });
});
