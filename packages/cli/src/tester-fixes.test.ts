/**
 * Findings of a fresh-user session, each a clear error (exit 1) instead of NaN, a silent Dice 0, or a message naming
 * the wrong file: `evaluate -l abc`, `evaluate` on images instead of label maps, `predict --checkpoint best` on an
 * nnU-Net v2 model folder, `predict -m` of a missing folder, `predict --config` ignoring `"estimate": false`,
 * `decathlon -f 7` / `-c 4d` (refused before any work).
 */
import { copyFileSync, existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import type { MedicalImage } from '@nnunet-ts/core';
import { writeNifti } from '@nnunet-ts/io-nifti';
import { EXAMPLE, NNUNET_MODEL, cli, sessionDir } from './__fixtures__/cli-session.js';

const dir = sessionDir('nnunet-tester-');

const GRID: Omit<MedicalImage, 'data'> = { shape: [1, 2, 2, 2], spacing: [1, 1, 1], origin: [0, 0, 0], direction: [1, 0, 0, 0, 1, 0, 0, 0, 1] };

/** A 2x2x2 image with `values` (repeated) in `folder/c1.nii.gz`, stored as `dtype`. */
async function image(folder: string, values: number[], dtype: 'uint8' | 'int16' | 'float32'): Promise<string> {
  mkdirSync(folder, { recursive: true });
  const file = join(folder, 'c1.nii.gz');
  const data = Float32Array.from({ length: 8 }, (_, i) => values[i % values.length]!);
  await writeNifti(file, { ...GRID, data }, { dtype });
  return file;
}

describe('evaluate', () => {
  it('-l abc is a usage error naming the bad value (exit 2), not Dice NaN', async () => {
    const ref = join(dir, 'l-ref');
    await image(ref, [0, 1], 'uint8');
    for (const l of ['abc', '1,x', '1.5', '']) {
      const r = await cli('evaluate', '-p', ref, '-r', ref, '-l', l, '-q');
      expect(r.code, l).toBe(2);
      expect(r.err).toContain(`error: --labels must be integer label values separated by commas, like 1,2, got '${l}'`);
      expect(r.out).not.toContain('NaN');
    }
    expect((await cli('evaluate', '-p', ref, '-r', ref, '-l', 'abc', '-q')).err).toContain("('abc' is not a label value)");
    const ok = await cli('evaluate', '-p', ref, '-r', ref, '-l', '1', '-o', join(dir, 'l-summary.json'), '-q');
    expect(ok.code).toBe(0);
    expect(ok.out).toContain('foreground mean: Dice 1.0000 over 1 cases');
  });

  it('a float image as prediction or reference is an error naming the file and the fix', async () => {
    const ref = await image(join(dir, 'f-ref'), [0, 1], 'uint8');
    const img = await image(join(dir, 'f-img'), [0.25, 37.5, 112.125], 'float32');
    let r = await cli('evaluate', '-p', dirname(img), '-r', dirname(ref), '-l', '1', '-q');
    expect(r.code).toBe(1);
    expect(r.err).toContain(`error: ${img}: the prediction is not a label map: it holds non-integer values such as 0.25`);
    expect(r.err).toContain('hint: pass the predicted segmentations (-p), not images; a label map holds integer class values');
    r = await cli('evaluate', '-p', dirname(ref), '-r', dirname(img), '-l', '1', '-o', join(dir, 'f.json'), '-q');
    expect(r.code).toBe(1);
    expect(r.err).toContain(`${img}: the reference is not a label map`);
    expect(r.err).toContain('pass the reference segmentations (-r, e.g. labelsTs), not images');
    // a label map saved as float with rounding noise: the hint says to round it
    const noisy = await image(join(dir, 'f-noisy'), [0, 0.99999994], 'float32');
    r = await cli('evaluate', '-p', dirname(noisy), '-r', dirname(ref), '-l', '1', '-q');
    expect(r.code).toBe(1);
    expect(r.err).toContain('the values are close to integers: the label map was saved as float; round it and save it as an integer type (uint8)');
  });

  it('an integer image with many values is refused; a few unknown values warn; a float label map with integer values passes', async () => {
    const ref = await image(join(dir, 'i-ref'), [0, 1], 'uint8');
    // an image stored as integers (64 values) on a 4x4x4 grid
    const big = join(dir, 'i-img');
    mkdirSync(big);
    const refBig = join(dir, 'i-refbig');
    mkdirSync(refBig);
    const grid: Omit<MedicalImage, 'data'> = { shape: [1, 4, 4, 4], spacing: [1, 1, 1], origin: [0, 0, 0], direction: [1, 0, 0, 0, 1, 0, 0, 0, 1] };
    await writeNifti(join(big, 'c1.nii.gz'), { ...grid, data: Int16Array.from({ length: 64 }, (_, i) => i * 10) }, { dtype: 'int16' });
    await writeNifti(join(refBig, 'c1.nii.gz'), { ...grid, data: Uint8Array.from({ length: 64 }, (_, i) => i % 2) }, { dtype: 'uint8' });
    let r = await cli('evaluate', '-p', big, '-r', refBig, '-l', '1', '-q');
    expect(r.code).toBe(1);
    expect(r.err).toContain(`${join(big, 'c1.nii.gz')}: the prediction is not a label map of these labels: it holds 63 values outside 0 and the labels (1)`);
    // two unknown values: a warning naming them, Dice computed (they count as background)
    const few = await image(join(dir, 'i-few'), [0, 1, 5, 7], 'uint8');
    r = await cli('evaluate', '-p', dirname(few), '-r', dirname(ref), '-l', '1', '-o', join(dir, 'i.json'), '-q');
    expect(r.code).toBe(0);
    expect(r.out).toContain(`warning: ${few}: prediction values 5, 7 are not among the evaluated labels (0, 1) and count as background`);
    // float32 with exact integers is a label map (nnU-Net compares seg == label)
    const f = await image(join(dir, 'i-float'), [0, 1], 'float32');
    r = await cli('evaluate', '-p', dirname(f), '-r', dirname(ref), '-l', '1', '-o', join(dir, 'i2.json'), '-q');
    expect(r.code).toBe(0);
    expect(r.out).toContain('foreground mean: Dice 1.0000 over 1 cases');
  });
});

describe('predict', () => {
  it('-m of a folder that does not exist says so', async () => {
    const r = await cli('predict', '-i', join(EXAMPLE, 'imagesTs'), '-o', join(dir, 'p1'), '-m', '/nonexistent-nnunet-model', '-q');
    expect(r.code).toBe(1);
    expect(r.err).toContain('error: /nonexistent-nnunet-model: model folder does not exist');
    expect(r.err).not.toContain('plans.json');
  });

  it('--checkpoint best on an nnU-Net v2 model folder with only checkpoint_final.pth names checkpoint_best.pth and the checkpoints it has', async () => {
    expect(existsSync(join(NNUNET_MODEL, 'fold_0', 'checkpoint_final.pth')), `${NNUNET_MODEL} (NNUNET_SHARED)`).toBe(true);
    for (const chk of ['best', 'checkpoint_best.pth']) {
      const r = await cli('predict', '-i', join(EXAMPLE, 'imagesTs'), '-o', join(dir, 'p2'), '-m', NNUNET_MODEL, '--checkpoint', chk, '--backend', 'cpu-js', '-q');
      expect(r.code, r.err).toBe(1);
      expect(r.err).toContain(`error: ${join(NNUNET_MODEL, 'fold_0', 'checkpoint_best.pth')}: checkpoint 'best' not found: no checkpoint_best.pth in fold_0`);
      expect(r.err).toContain('hint: this fold holds checkpoint_final.pth: use --checkpoint final');
      expect(r.err).not.toContain('.json');
    }
  });
});

describe('predict --config', () => {
  it('{"estimate": false} skips the calibration forwards and its estimate line; without it the estimate is printed', { timeout: 300_000 }, async () => {
    const input = join(dir, 'est-in');
    mkdirSync(input, { recursive: true });
    copyFileSync(join(EXAMPLE, 'imagesTs', 'hippocampus_008.nii.gz'), join(input, 'hippocampus_008.nii.gz'));
    const config = join(dir, 'no-estimate.json');
    writeFileSync(config, JSON.stringify({ estimate: false }));
    const logged = async (...args: string[]): Promise<{ code: number; log: string }> => {
      const said: string[] = [];
      const spy = vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => said.push(String(s)) > 0);
      try {
        const r = await cli('predict', '-i', input, '-m', NNUNET_MODEL, '--backend', 'cpu-native', '--disable-tta', ...args);
        return { code: r.code, log: said.join('') + r.err };
      } finally {
        spy.mockRestore();
      }
    };
    const off = await logged('-o', join(dir, 'est-off'), '--config', config);
    expect(off.code, off.log).toBe(0);
    expect(off.log).toContain('predict: 1/1 hippocampus_008');
    expect(off.log).not.toContain('estimate:');
    const on = await logged('-o', join(dir, 'est-on'));
    expect(on.code, on.log).toBe(0);
    expect(on.log).toMatch(/estimate: predicting 1 case\(s\) takes about .* \(1 fold\(s\), mirroring off, [\d.]+ s per tile\)/);
  });
});

describe('decathlon: bad folds and configurations are refused before any work', () => {
  it('-f 7 names the valid folds; nothing is fingerprinted', async () => {
    const out = join(dir, 'run-f');
    const r = await cli('decathlon', EXAMPLE, '-o', out, '-f', '0,7', '-q');
    expect(r.code).toBe(2);
    expect(r.err).toContain('error: fold 7 does not exist: a run with 5 folds has folds 0-4');
    expect(r.err).toContain("hint: pass -f with folds in 0-4, or 'all'");
    expect(existsSync(out) ? readdirSync(out) : []).toEqual([]);
  });

  it('-c 4d names the configurations the planner writes; a planner that does not exist is named', async () => {
    const out = join(dir, 'run-c');
    let r = await cli('decathlon', EXAMPLE, '-o', out, '-c', '3d_fullres,4d', '-q');
    expect(r.code).toBe(2);
    expect(r.err).toContain("error: unknown configuration '4d': the planner nnUNetPlanner writes 2d, 3d_fullres, 3d_lowres, 3d_cascade_fullres");
    expect(r.err).toContain('hint: pass -c with some of 2d, 3d_fullres, 3d_lowres, 3d_cascade_fullres (comma-separated), or all');
    expect(existsSync(join(out, 'nnUNet_preprocessed'))).toBe(false);
    r = await cli('decathlon', EXAMPLE, '-o', out, '--planner', 'nnUNetPlannerXXL', '-q');
    expect(r.code).toBe(1);
    expect(r.err).toContain("no planner plugin named 'nnUNetPlannerXXL'");
    expect(existsSync(join(out, 'nnUNet_preprocessed'))).toBe(false);
  });
});
