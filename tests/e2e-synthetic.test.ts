/**
 * End to end through the CLI functions on a tiny synthetic task (6 training + 2 test cubes of 32^3 voxels holding a
 * sphere, NIfTI in a temp folder): validate, fingerprint, plan, preprocess, train, find-best, predict, evaluate,
 * and `decathlon` on the same task (resuming from the stages' outputs). Uses the `tiny` budget preset and the
 * fastest available backend.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readImage, runLayout, parseJsonWithNaN, type EvaluationSummary } from '@nnunet-ts/core';
import { createDefaultRegistry, runCli } from '@nnunet-ts/cli';
import { makeSphereTask } from './fixtures/synthetic.js';

const tmp: string[] = [];
afterAll(() => tmp.forEach((d) => rmSync(d, { recursive: true, force: true })));

describe('e2e on a synthetic sphere task', () => {
  it('every verb, then decathlon: Dice > 0.8 on the test spheres, predictions on the input grid', { timeout: 1_200_000 }, async () => {
    const parent = mkdtempSync(join(tmpdir(), 'nnunet-e2e-'));
    tmp.push(parent);
    const reg = createDefaultRegistry();
    const writer = reg.all('writer').find((w) => w.extensions.includes('.nii.gz'))!;
    const root = await makeSphereTask(parent, (p, img, isLabel) => writer.write(p, img, { dtype: isLabel ? 'uint8' : 'float32' }), {
      spacing: [1.5, 1, 1],
    });
    const out = join(parent, 'run');
    const L = runLayout(out);
    const lines: string[] = [];
    const errs: string[] = [];
    const cli = (...args: string[]) => runCli([...args, '-q'], { out: (s) => lines.push(s) }, (s) => errs.push(s));
    const budget = ['--preset', 'tiny'];

    expect(await cli('validate', root), errs.join('\n')).toBe(0);
    expect(await cli('fingerprint', root, '-o', out), errs.join('\n')).toBe(0);
    expect(existsSync(L.fingerprint)).toBe(true);
    expect(await cli('plan', root, '-o', out), errs.join('\n')).toBe(0);
    expect(await cli('plan', '--fingerprint', L.fingerprint, '--dataset-json', join(root, 'dataset.json'), '-o', join(out, 'plans-copy.json')), errs.join('\n')).toBe(0);
    expect(JSON.parse(readFileSync(join(out, 'plans-copy.json'), 'utf8')).configurations).toEqual(JSON.parse(readFileSync(L.plans, 'utf8')).configurations);
    expect(await cli('preprocess', root, '-o', out, ...budget), errs.join('\n')).toBe(0);
    expect(await cli('train', root, '-o', out, ...budget), errs.join('\n')).toBe(0);
    const modelDir = L.modelDir('3d_fullres');
    expect(existsSync(join(modelDir, 'fold_0', 'checkpoint_final.json'))).toBe(true);
    expect(await cli('find-best', '-o', out, '--dataset', root), errs.join('\n')).toBe(0);
    expect(lines.join('\n')).toContain('best: 3d_fullres');

    const pred = join(parent, 'pred');
    expect(await cli('predict', '-i', join(root, 'imagesTs'), '-o', pred, '-m', modelDir, '--disable-tta'), errs.join('\n')).toBe(0);
    const input = await readImage(reg, join(root, 'imagesTs', 'sphere_006_0000.nii.gz'));
    const seg = await readImage(reg, join(pred, 'sphere_006.nii.gz'));
    expect(seg.shape).toEqual(input.shape);
    expect(seg.spacing).toEqual(input.spacing);
    expect(seg.origin).toEqual(input.origin);
    expect(seg.direction).toEqual(input.direction);
    expect(await cli('evaluate', '-p', pred, '-r', join(root, 'labelsTs'), '-d', join(root, 'dataset.json')), errs.join('\n')).toBe(0);
    const s1 = parseJsonWithNaN(readFileSync(join(pred, 'summary.json'), 'utf8')) as EvaluationSummary;
    expect(s1.mean['1']!.Dice).toBeGreaterThan(0.8);

    // decathlon on the same run folder: every stage output is reused, then predict + evaluate the test set
    expect(await cli('decathlon', root, '-o', out, ...budget), errs.join('\n')).toBe(0);
    const s2 = parseJsonWithNaN(readFileSync(L.summary, 'utf8')) as EvaluationSummary;
    expect(s2.metric_per_case).toHaveLength(2);
    expect(s2.foreground_mean.Dice).toBeGreaterThan(0.8);
    expect(lines.join('\n')).toMatch(/sphere \(1\): Dice 0\.[89]\d+/);

    // a run killed after training's last checkpoint_latest: final checkpoint, predictions and summary gone
    for (const f of ['checkpoint_final.json', 'checkpoint_final.bin']) rmSync(join(modelDir, 'fold_0', f));
    rmSync(L.predictions, { recursive: true });
    rmSync(L.summary);
    expect(await cli('decathlon', root, '-o', out, ...budget), errs.join('\n')).toBe(0);
    const s3 = parseJsonWithNaN(readFileSync(L.summary, 'utf8')) as EvaluationSummary;
    expect(s3.foreground_mean.Dice).toBe(s2.foreground_mean.Dice);
  });

  it('a bad dataset fails with one clear message and exit code 1', async () => {
    const errs: string[] = [];
    const code = await runCli(['validate', join(tmpdir(), 'does-not-exist-nnunet'), '-q'], { out: () => {} }, (s) => errs.push(s));
    expect(code).toBe(1);
    expect(errs[0]).toMatch(/^error: .*does-not-exist-nnunet: dataset folder not found/);
    expect(errs.join('\n')).not.toMatch(/at .*\.ts:\d+/);
  });
});
