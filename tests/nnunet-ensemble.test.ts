/**
 * `ensemble` (nnU-Net's `nnUNetv2_ensemble`): folders of `--save_probabilities` outputs written by nnU-Net itself
 * (shared/models references) and by our `predict --save-probabilities` are averaged and turned into segmentations
 * with the geometry of the properties `.pkl`. nnU-Net's own segmentations are the judge for a single folder.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { nnunetPropertiesPickle, pickleDumps, readNnunetPropertiesPkl, readNpz, writeNpz } from '@nnunet-ts/core';
import { runCli } from '@nnunet-ts/cli';
import { readNifti } from '@nnunet-ts/io-nifti';
import { EXAMPLE_TASK, sharedPath } from './helpers/paths.js';

const MODELS = {
  A: 'nnUNetTrainer_16x30__nnUNetPlans__3d_fullres',
  B: 'nnUNetTrainer_1x2__nnUNetResEncUNetMPlans_gpu0p1GB__3d_fullres',
  C: 'nnUNetTrainer_1x5__nnUNetPlans__2d',
} as const;
type M = keyof typeof MODELS;
const modelDir = (m: M) => sharedPath('models', 'Dataset004_Hippocampus', MODELS[m]);
const refPred = (m: M) => sharedPath('models', 'references', 'Dataset004_Hippocampus', MODELS[m], 'predictions');
const DATASET_JSON = join(modelDir('A'), 'dataset.json');
const THREE = ['hippocampus_008', 'hippocampus_020', 'hippocampus_033'];

async function cli(...args: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli([...args, '-q'], { out: (s) => out.push(s) }, (s) => err.push(s));
  return { code, out, err };
}

/** A folder holding `<case>.npz` and `<case>.pkl` of `ids` copied from `src`. */
function subset(src: string, ids: string[]): string {
  const d = mkdtempSync(join(tmpdir(), 'ens-in-'));
  for (const id of ids) for (const e of ['.npz', '.pkl']) copyFileSync(join(src, id + e), join(d, id + e));
  return d;
}

/** Argmax over channels of the mean of the folders' probabilities (numpy's first-max rule), computed here. */
function meanArgmax(folders: string[], id: string): Uint8Array {
  const arrays = folders.map((f) => readNpz(join(f, `${id}.npz`), 'probabilities'));
  const K = arrays[0]!.shape[0]!;
  const n = arrays[0]!.data.length / K;
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    let best = -1;
    let bestV = -Infinity;
    for (let k = 0; k < K; k++) {
      let s = 0;
      for (const a of arrays) s += a.data[k * n + i] as number;
      const v = Math.fround(s / arrays.length);
      if (v > bestV) [best, bestV] = [k, v];
    }
    out[i] = best;
  }
  return out;
}

function countDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) d++;
  return d;
}

describe("nnU-Net's properties .pkl", () => {
  it('gives the geometry of the input image (NibabelIO original_affine -> LPS spacing, origin, direction)', async () => {
    const pkl = join(refPred('A'), 'hippocampus_020.pkl');
    const { geometry, properties } = readNnunetPropertiesPkl(readFileSync(pkl), pkl);
    const img = await readNifti(join(EXAMPLE_TASK, 'imagesTs', 'hippocampus_020.nii.gz'));
    expect(geometry.spacing.map((v) => +v.toFixed(6))).toEqual(img.spacing.map((v) => +v.toFixed(6)));
    geometry.origin.forEach((v, i) => expect(v).toBeCloseTo(img.origin[i]!, 5));
    geometry.direction.forEach((v, i) => expect(v).toBeCloseTo(img.direction[i]!, 6));
    expect(properties.shape_before_cropping).toEqual(img.shape.slice(1));
    expect(properties.spacing).toEqual([1, 1, 1]);
  });

  it('refuses a pickle that is not a properties dict, naming the file', () => {
    expect(() => readNnunetPropertiesPkl(pickleDumps([1, 2]), 'x.pkl')).toThrow(/x\.pkl.*not a dict|not a dict/);
  });
});

describe('nnunet-ts ensemble', () => {
  it("one nnU-Net folder: the segmentations are nnU-Net's own, voxel for voxel, with the input's geometry", async () => {
    const out = mkdtempSync(join(tmpdir(), 'ens-out-'));
    const r = await cli('ensemble', '-i', refPred('A'), '-o', out, '--dataset-json', DATASET_JSON);
    expect(r.err).toEqual([]);
    expect(r.code).toBe(0);
    expect(r.out.join('\n')).toMatch(/wrote 10 ensembled segmentation\(s\) of 1 folder\(s\)/);
    for (const id of ['hippocampus_008', 'hippocampus_056', 'hippocampus_077']) {
      const ours = await readNifti(join(out, `${id}.nii.gz`));
      const ref = await readNifti(join(refPred('A'), `${id}.nii.gz`));
      expect(ours.shape).toEqual(ref.shape);
      expect(countDiff(ours.data, ref.data)).toBe(0);
      expect(ours.spacing).toEqual(ref.spacing);
      ours.origin.forEach((v, i) => expect(v).toBeCloseTo(ref.origin[i]!, 5));
      ours.direction.forEach((v, i) => expect(v).toBeCloseTo(ref.direction[i]!, 6));
    }
    expect(JSON.parse(readFileSync(join(out, 'dataset.json'), 'utf8')).labels).toEqual(JSON.parse(readFileSync(DATASET_JSON, 'utf8')).labels);
  });

  it('three nnU-Net models (plain 3D, ResEnc 3D, 2D): the argmax of the mean probabilities; --save-npz as numpy loads it', async () => {
    const folders = [subset(refPred('A'), THREE), refPred('B'), refPred('C')];
    const out = mkdtempSync(join(tmpdir(), 'ens-out-'));
    const r = await cli('ensemble', '-i', ...folders, '-o', out, '--dataset-json', DATASET_JSON, '--save-npz');
    expect(r.err).toEqual([]);
    expect(r.code).toBe(0);
    let changed = 0;
    for (const id of THREE) {
      const seg = await readNifti(join(out, `${id}.nii.gz`));
      expect(countDiff(seg.data, meanArgmax(folders, id))).toBe(0);
      changed += countDiff(seg.data, (await readNifti(join(refPred('A'), `${id}.nii.gz`))).data);
    }
    // the barely trained B and C move the ensemble away from model A alone
    expect(changed).toBeGreaterThan(1000);
    const mean = readNpz(join(out, 'hippocampus_008.npz'), 'probabilities');
    const a = readNpz(join(folders[0]!, 'hippocampus_008.npz'), 'probabilities');
    const b = readNpz(join(folders[1]!, 'hippocampus_008.npz'), 'probabilities');
    const c = readNpz(join(folders[2]!, 'hippocampus_008.npz'), 'probabilities');
    expect(mean.shape).toEqual([3, 40, 48, 36]);
    expect(mean.data[12345]).toBeCloseTo((a.data[12345]! + b.data[12345]! + c.data[12345]!) / 3, 6);
    expect(readFileSync(join(out, 'hippocampus_008.pkl'))).toEqual(readFileSync(join(folders[0]!, 'hippocampus_008.pkl')));
    const py = spawnSync('python3', ['-c', `import numpy as np, pickle
p = np.load('${join(out, 'hippocampus_008.npz')}')['probabilities']; print(p.dtype, p.shape)
print(sorted(pickle.load(open('${join(out, 'hippocampus_008.pkl')}', 'rb')).keys()))`], { encoding: 'utf8' });
    expect(py.stderr).toBe('');
    expect(py.stdout.trim().split('\n')[0]).toBe('float32 (3, 40, 48, 36)');
  });

  it("ours and nnU-Net's: folders written by predict --save-probabilities ensemble alone and with nnU-Net's", async () => {
    const input = mkdtempSync(join(tmpdir(), 'ens-img-'));
    for (const id of THREE.slice(0, 2)) symlinkSync(join(EXAMPLE_TASK, 'imagesTs', `${id}.nii.gz`), join(input, `${id}_0000.nii.gz`));
    const ours = mkdtempSync(join(tmpdir(), 'ens-ours-'));
    const p = await cli('predict', '-i', input, '-o', ours, '-m', modelDir('A'), '-f', '0', '--disable-tta', '--save-probabilities');
    expect(p.err).toEqual([]);
    expect(p.code).toBe(0);
    for (const f of ['dataset.json', 'plans.json', 'hippocampus_008.npz', 'hippocampus_008.pkl']) expect(existsSync(join(ours, f))).toBe(true);

    const alone = mkdtempSync(join(tmpdir(), 'ens-out-'));
    expect((await cli('ensemble', '-i', ours, '-o', alone)).code).toBe(0); // dataset.json from the folder itself
    const mixed = mkdtempSync(join(tmpdir(), 'ens-out-'));
    const nn = subset(refPred('A'), THREE.slice(0, 2));
    expect((await cli('ensemble', '-i', ours, nn, '-o', mixed)).code).toBe(0);
    for (const id of THREE.slice(0, 2)) {
      const pred = await readNifti(join(ours, `${id}.nii.gz`));
      const a = await readNifti(join(alone, `${id}.nii.gz`));
      expect(countDiff(a.data, pred.data)).toBe(0);
      expect(a.spacing).toEqual(pred.spacing);
      a.origin.forEach((v, i) => expect(v).toBeCloseTo(pred.origin[i]!, 5));
      const m = await readNifti(join(mixed, `${id}.nii.gz`));
      expect(countDiff(m.data, meanArgmax([ours, nn], id))).toBe(0);
    }
  }, 120_000);

  it('region-based probabilities: labels by regions_class_order where a region is > 0.5', async () => {
    const d = mkdtempSync(join(tmpdir(), 'ens-reg-'));
    writeFileSync(join(d, 'dataset.json'), JSON.stringify({
      channel_names: { 0: 'T1' }, labels: { background: 0, whole: [1, 2], core: 2 }, regions_class_order: [1, 2], numTraining: 1, file_ending: '.nii.gz',
    }));
    // [2 regions, 1, 1, 4]: region 1 (whole) 0.9 0.9 0.2 0.6; region 2 (core) 0.1 0.7 0.9 0.5
    writeNpz(join(d, 'r.npz'), { probabilities: { descr: '<f4', shape: [2, 1, 1, 4], data: Float32Array.of(0.9, 0.9, 0.2, 0.6, 0.1, 0.7, 0.9, 0.5) } });
    const props = { spacing: [2, 1, 1], shape_before_cropping: [1, 1, 4], bbox_used_for_cropping: [[0, 1], [0, 1], [0, 4]], shape_after_cropping_and_before_resampling: [1, 1, 4] };
    writeFileSync(join(d, 'r.pkl'), pickleDumps(nnunetPropertiesPickle(props, { spacing: [2, 1, 1], origin: [5, 6, 7], direction: [1, 0, 0, 0, 1, 0, 0, 0, 1] })));
    const out = join(mkdtempSync(join(tmpdir(), 'ens-out-')), 'nested');
    expect((await cli('ensemble', '-i', d, '-o', out)).code).toBe(0);
    const seg = await readNifti(join(out, 'r.nii.gz'));
    expect(Array.from(seg.data)).toEqual([1, 2, 2, 1]);
    expect(seg.spacing).toEqual([2, 1, 1]);
    expect(seg.origin).toEqual([5, 6, 7]);
  });

  it('refuses folders with different cases, naming the folder and the missing cases', async () => {
    const out = mkdtempSync(join(tmpdir(), 'ens-out-'));
    const r = await cli('ensemble', '-i', refPred('A'), refPred('B'), '-o', out, '--dataset-json', DATASET_JSON);
    expect(r.code).toBe(1);
    expect(r.err[0]).toMatch(/not all folders hold the same cases: 7 case\(s\) have no \.npz here: hippocampus_039/);
    expect(r.err[0]).toContain(MODELS.B);
  });

  it('refuses a folder without dataset.json, and probabilities that do not fit the labels', async () => {
    const d = subset(refPred('A'), ['hippocampus_008']);
    const out = mkdtempSync(join(tmpdir(), 'ens-out-'));
    const r = await cli('ensemble', '-i', d, '-o', out);
    expect(r.code).toBe(1);
    expect(r.err.join('\n')).toMatch(/dataset\.json not found[\s\S]*--dataset-json/);
    const two = mkdtempSync(join(tmpdir(), 'ens-ds-'));
    mkdirSync(two, { recursive: true });
    writeFileSync(join(two, 'dataset.json'), JSON.stringify({ channel_names: { 0: 'MRI' }, labels: { background: 0, a: 1 }, numTraining: 1, file_ending: '.nii.gz' }));
    const r2 = await cli('ensemble', '-i', d, '-o', out, '--dataset-json', join(two, 'dataset.json'));
    expect(r2.code).toBe(1);
    expect(r2.err[0]).toMatch(/probabilities of hippocampus_008 have 3 channels, but .* defines 2 output\(s\)/);
  });
});
