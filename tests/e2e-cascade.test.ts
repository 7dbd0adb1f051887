/**
 * The 3D cascade end to end through the CLI functions on a synthetic sphere task small enough for a 2-core CI:
 * 4 training + 2 test cubes of 40^3 voxels, planned with `--gpu-memory-gb 0.02` so the 3D patch (20x20x16) covers
 * less than a quarter of the median image and the planner adds `3d_lowres` (29^3 at 1.38 mm) and
 * `3d_cascade_fullres`. Two folds, 6 epochs x 10 iterations per fold.
 *
 * Measured on a 2-core machine (cpu-native, seed fixed): lowres CV Dice 0.75, cascade CV Dice 0.64-0.65, cascade test
 * Dice 0.93 (both folds, the lowres stage predicting first); 1.6-2.2 min.
 */
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadModel, predictPreprocessed, readImage, readModelFolder, readNpy, readPreprocessedCase, resampleLogitsForNextStage, runLayout, parseJsonWithNaN, selectDevice, type EvaluationSummary } from '@nnunet-ts/core';
import { createDefaultRegistry, runCli } from '@nnunet-ts/cli';
import { cascadeInputChannels } from '@nnunet-ts/net-cascade';
import { makeSphereTask } from './fixtures/synthetic.js';

const tmp: string[] = [];
afterAll(() => tmp.forEach((d) => rmSync(d, { recursive: true, force: true })));

describe('3D cascade on a synthetic sphere task', () => {
  it('3d_lowres then 3d_cascade_fullres: lowres CV predictions as one-hot input, predict runs both stages', { timeout: 900_000 }, async () => {
    const parent = mkdtempSync(join(tmpdir(), 'nnunet-cascade-'));
    tmp.push(parent);
    const reg = createDefaultRegistry();
    const writer = reg.all('writer').find((w) => w.extensions.includes('.nii.gz'))!;
    const root = await makeSphereTask(parent, (p, img, isLabel) => writer.write(p, img, { dtype: isLabel ? 'uint8' : 'float32' }), {
      size: 40,
      nTrain: 4,
      nTest: 2,
    });
    // CT: one global normalization for all cases (per-case z-scores shift with the sphere's volume)
    const dsJson = join(root, 'dataset.json');
    writeFileSync(dsJson, readFileSync(dsJson, 'utf8').replace('"MRI"', '"CT"'));
    const out = join(parent, 'run');
    const L = runLayout(out);
    const config = join(parent, 'budget.json');
    writeFileSync(config, JSON.stringify({ preset: 'tiny', nFolds: 2, folds: 'all', epochs: 6 }));
    const lines: string[] = [];
    const errs: string[] = [];
    const cli = (...args: string[]) => runCli([...args, '-q'], { out: (s) => lines.push(s) }, (s) => errs.push(s));

    expect(await cli('plan', root, '-o', out, '--gpu-memory-gb', '0.02'), errs.join('\n')).toBe(0);
    const plans = JSON.parse(readFileSync(L.plans, 'utf8'));
    expect(Object.keys(plans.configurations)).toEqual(expect.arrayContaining(['3d_lowres', '3d_fullres', '3d_cascade_fullres']));
    expect(plans.configurations['3d_cascade_fullres']).toEqual({ inherits_from: '3d_fullres', previous_stage: '3d_lowres' });

    // the cascade alone: a clear error naming the lowres folder and the command to run first
    const lowresDir = L.modelDir('3d_lowres');
    expect(await cli('train', root, '-o', out, '-c', '3d_cascade_fullres', '--config', config)).toBe(1);
    expect(errs.join('\n')).toContain(lowresDir);
    expect(errs.join('\n')).toMatch(/nnunet-ts train .* -c 3d_lowres/);
    errs.length = 0;

    // decathlon: lowres (both folds: cross-validation predictions of every case), then the cascade, find-best, test set
    expect(await cli('decathlon', root, '-o', out, '-c', '3d_lowres,3d_cascade_fullres', '--config', config, '--gpu-memory-gb', '0.02'), errs.join('\n')).toBe(0);
    const cascadeDir = L.modelDir('3d_cascade_fullres');
    // lowres data at its own (coarser) spacing; the cascade reuses the 3d_fullres data
    expect((await readPreprocessedCase(L.configurationData('3d_lowres'), 'sphere_000')).shape).toEqual([1, 29, 29, 29]);
    expect((await readPreprocessedCase(L.configurationData('3d_fullres'), 'sphere_000')).shape).toEqual([1, 40, 40, 40]);
    expect(existsSync(L.configurationData('3d_cascade_fullres'))).toBe(false);
    for (const f of [0, 1]) {
      expect(existsSync(join(lowresDir, `fold_${f}`, 'validation', 'summary.json'))).toBe(true);
      const meta = JSON.parse(readFileSync(join(cascadeDir, `fold_${f}`, 'checkpoint_final.json'), 'utf8'));
      expect(meta.input_channels).toBe(cascadeInputChannels(1, [1]));
      expect(meta.input_channels).toBe(2);
      expect(meta.previous_stage).toBe('3d_lowres');
    }
    const lowresPp = JSON.parse(readFileSync(join(lowresDir, 'fold_0', 'debug.json'), 'utf8'));
    expect(lowresPp.previous_stage).toBeNull();
    expect(JSON.parse(readFileSync(join(cascadeDir, 'previous_stage.json'), 'utf8'))).toEqual({
      previous_stage: '3d_lowres',
      previous_stage_model: '../nnUNetTrainer__nnUNetPlans__3d_lowres',
      foreground_labels: [1],
    });
    // the cascade's input, as nnU-Net's lowres trainer writes it: each case's lowres logits (the fold where it was
    // validation) resampled ONCE onto the 3d_fullres grid and argmaxed, in predicted_next_stage/3d_cascade_fullres
    const splits = JSON.parse(readFileSync(L.splits, 'utf8')) as { val: string[] }[];
    const backend = await selectDevice(reg, 'auto', () => {});
    for (const id of ['sphere_000', 'sphere_001', 'sphere_002', 'sphere_003']) {
      const file = join(lowresDir, 'predicted_next_stage', '3d_cascade_fullres', `${id}.npy`);
      const stored = readNpy(readFileSync(file), file);
      expect(stored.descr).toBe('<i2');
      expect(stored.shape).toEqual([40, 40, 40]);
      const k = splits.findIndex((s) => s.val.includes(id));
      const model = await loadModel(readModelFolder(lowresDir, [k]), reg, backend);
      const low = await readPreprocessedCase(L.configurationData('3d_lowres'), id);
      const logits = await predictPreprocessed(model.models, low.data, low.shape, { stepSize: 0.5, mirror: false });
      const expected = resampleLogitsForNextStage(logits, [2, 29, 29, 29], [40, 40, 40], low.properties, plans, '3d_lowres', reg);
      let differ = 0;
      let fg = 0;
      for (let i = 0; i < expected.length; i++) {
        if (stored.data[i] !== expected[i]) differ++;
        if (expected[i]! > 0) fg++;
      }
      expect(differ).toBe(0);
      expect(fg).toBeGreaterThan(1000);
    }
    const ranking = JSON.parse(readFileSync(L.bestModel, 'utf8')).ranking.map((r: { name: string }) => r.name);
    expect(ranking).toEqual(expect.arrayContaining(['3d_lowres', '3d_cascade_fullres']));
    const cv = parseJsonWithNaN(readFileSync(join(cascadeDir, 'crossval_summary.json'), 'utf8')) as EvaluationSummary;
    expect(cv.metric_per_case).toHaveLength(4);
    expect(cv.foreground_mean.Dice).toBeGreaterThan(0.5); // measured 0.65
    console.log(`cascade CV foreground Dice ${cv.foreground_mean.Dice}`);

    // predict with the cascade folder: lowres first, then the cascade; outputs on the input grid
    const pred = join(parent, 'pred');
    expect(await cli('predict', '-i', join(root, 'imagesTs'), '-o', pred, '-m', cascadeDir, '--disable-tta'), errs.join('\n')).toBe(0);
    for (const id of ['sphere_004', 'sphere_005']) {
      const input = await readImage(reg, join(root, 'imagesTs', `${id}_0000.nii.gz`));
      const seg = await readImage(reg, join(pred, `${id}.nii.gz`));
      expect(seg.shape).toEqual(input.shape);
      expect(seg.spacing).toEqual(input.spacing);
      expect(seg.origin).toEqual(input.origin);
      expect(seg.direction).toEqual(input.direction);
    }
    expect(await cli('evaluate', '-p', pred, '-r', join(root, 'labelsTs'), '-d', dsJson), errs.join('\n')).toBe(0);
    const s = parseJsonWithNaN(readFileSync(join(pred, 'summary.json'), 'utf8')) as EvaluationSummary;
    expect(s.metric_per_case).toHaveLength(2);
    console.log(`cascade test foreground Dice ${s.foreground_mean.Dice}`);
    expect(s.foreground_mean.Dice).toBeGreaterThan(0.8); // measured 0.93

    // the cascade cannot predict without its lowres stage: the error names the missing folder
    renameSync(lowresDir, `${lowresDir}.moved`);
    expect(await cli('predict', '-i', join(root, 'imagesTs'), '-o', join(parent, 'pred2'), '-m', cascadeDir)).toBe(1);
    expect(errs.join('\n')).toContain(lowresDir);
    renameSync(`${lowresDir}.moved`, lowresDir);
  });
});
