/**
 * nnU-Net's `--save_probabilities` files: the `.npz` (probabilities) and `.pkl` (properties) of the reference model
 * A predictions in shared/models are read and reproduced. Python (numpy) is the judge of what we write: nnU-Net's
 * ensembling loads these files with `np.load` and `pickle.load`.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { nnunetPropertiesPickle, pickleDumps, preprocessCase, readNpz, Registry, registerPreprocessingDefaults, writeNnunetProbabilities, writeNpz, type Plans } from '@nnunet-ts/core';
import { readNifti } from '@nnunet-ts/io-nifti';
import { EXAMPLE_TASK, sharedPath } from './helpers/paths.js';

const MODEL = sharedPath('models', 'Dataset004_Hippocampus', 'nnUNetTrainer_16x30__nnUNetPlans__3d_fullres');
const REF = sharedPath('models', 'references', 'Dataset004_Hippocampus', 'nnUNetTrainer_16x30__nnUNetPlans__3d_fullres', 'predictions');

/** Runs python3 (numpy needed; .ci/run installs python3-numpy) and returns stdout; fails the test on error. */
function python(code: string): string {
  const r = spawnSync('python3', ['-c', code], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`python3 failed: ${r.stderr || r.error}`);
  return r.stdout;
}

describe("nnU-Net's --save_probabilities files", () => {
  it('reads the reference .npz: float32 [c, z, y, x] probabilities whose argmax is the reference segmentation', async () => {
    const p = readNpz(join(REF, 'hippocampus_008.npz'), 'probabilities');
    expect(p.descr).toBe('<f4');
    expect(p.shape).toEqual([3, 40, 48, 36]);
    const seg = await readNifti(join(REF, 'hippocampus_008.nii.gz'));
    expect(seg.shape).toEqual([1, 40, 48, 36]);
    const n = 40 * 48 * 36;
    let diff = 0;
    let sumErr = 0;
    for (let i = 0; i < n; i++) {
      let best = 0;
      for (let k = 1; k < 3; k++) if (p.data[k * n + i]! > p.data[best * n + i]!) best = k;
      if (best !== seg.data[i]) diff++;
      sumErr = Math.max(sumErr, Math.abs(p.data[i]! + p.data[n + i]! + p.data[2 * n + i]! - 1));
    }
    expect(diff).toBe(0);
    expect(sumErr).toBeLessThan(1e-5);
    expect(() => readNpz(join(REF, 'hippocampus_008.npz'), 'logits')).toThrow(/no array 'logits' in the .npz/);
  });

  it('writes a .npz numpy loads (deflated zip, key probabilities), and reads it back', () => {
    const dir = mkdtempSync(join(tmpdir(), 'npz-'));
    const data = Float32Array.from({ length: 2 * 3 * 4 * 5 }, (_, i) => i / 7);
    writeNpz(join(dir, 'a.npz'), { probabilities: { descr: '<f4', data, shape: [2, 3, 4, 5] } });
    const out = python(`import numpy as np, zipfile
z = zipfile.ZipFile('${join(dir, 'a.npz')}'); print(z.infolist()[0].compress_type)
a = np.load('${join(dir, 'a.npz')}')['probabilities']; print(a.dtype, a.shape, repr(float(a[1, 2, 3, 4])), a.flags['C_CONTIGUOUS'])`);
    expect(out.trim().split('\n')).toEqual(['8', 'float32 (2, 3, 4, 5) 17.0 True']);
    expect(Array.from(readNpz(join(dir, 'a.npz'), 'probabilities').data)).toEqual(Array.from(data));
  });

  it("writes the properties .pkl as nnU-Net's (same spacing, shapes, crop box, NIfTI affine) for a real case", async () => {
    const registry = new Registry();
    registerPreprocessingDefaults(registry);
    const plans = JSON.parse(readFileSync(join(MODEL, 'plans.json'), 'utf8')) as Plans;
    const image = await readNifti(join(EXAMPLE_TASK, 'imagesTs', 'hippocampus_008.nii.gz'));
    const pp = preprocessCase({ image: Float32Array.from(image.data), shape: [...image.shape], spacing: [...image.spacing], seg: null }, plans, '3d_fullres', registry);
    const dir = mkdtempSync(join(tmpdir(), 'pkl-'));
    const n = image.shape[1] * image.shape[2] * image.shape[3];
    writeNnunetProbabilities(join(dir, 'hippocampus_008'), new Float32Array(3 * n).fill(1 / 3), pp.properties, image);
    const out = python(`import pickle, numpy as np
ours = pickle.load(open('${join(dir, 'hippocampus_008.pkl')}', 'rb')); ref = pickle.load(open('${join(REF, 'hippocampus_008.pkl')}', 'rb'))
for k in ref:
    if k == 'nibabel_stuff': print(k, np.allclose(ours[k]['original_affine'], ref[k]['original_affine'], atol=1e-6), ours[k]['original_affine'].dtype)
    else: print(k, ours[k] == ref[k], type(ours[k]).__name__)
print('sitk', ours['sitk_stuff'])
print('npz', np.load('${join(dir, 'hippocampus_008.npz')}')['probabilities'].shape)`);
    expect(out.trim().split('\n')).toEqual([
      'nibabel_stuff True float64',
      'spacing True list',
      'shape_before_cropping True tuple',
      'bbox_used_for_cropping True list',
      'shape_after_cropping_and_before_resampling True tuple',
      // ITK LPS: the RAS identity affine with offset (1, 1, 1) flips x and y
      'sitk {\'spacing\': (1.0, 1.0, 1.0), \'origin\': (-1.0, -1.0, 1.0), \'direction\': (-1.0, 0.0, 0.0, 0.0, -1.0, 0.0, 0.0, 0.0, 1.0)}',
      'npz (3, 40, 48, 36)',
    ]);
  });

  it('properties pickle: ints stay ints, floats floats; the RAS affine comes from the LPS geometry (spacing, origin)', () => {
    const bytes = pickleDumps(nnunetPropertiesPickle(
      { spacing: [3, 0.5, 0.5], shape_before_cropping: [2, 3, 4], bbox_used_for_cropping: [[0, 2], [1, 3], [0, 4]], shape_after_cropping_and_before_resampling: [2, 2, 4] },
      { spacing: [3, 0.5, 0.5], origin: [10, 20, 30], direction: [1, 0, 0, 0, 1, 0, 0, 0, 1] },
    ));
    const out = python(`import pickle, sys
d = pickle.loads(bytes.fromhex('${Buffer.from(bytes).toString('hex')}'))
print(d['spacing'], d['bbox_used_for_cropping'], d['shape_after_cropping_and_before_resampling'], d['nibabel_stuff']['original_affine'].tolist())`);
    expect(out.trim()).toBe('[3.0, 0.5, 0.5] [[0, 2], [1, 3], [0, 4]] (2, 2, 4) [[-0.5, -0.0, -0.0, -10.0], [-0.0, -0.5, -0.0, -20.0], [0.0, 0.0, 3.0, 30.0], [0.0, 0.0, 0.0, 1.0]]');
  });
});
