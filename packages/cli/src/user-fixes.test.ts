import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { PREDICT_MANIFEST, PredictionResume, casesOfFolder, checkFinalBudget, foldsToRun, readJson, trainingLabel } from '@nnunet-ts/core';
import { makeContext } from './context.js';
import { writeNifti } from '@nnunet-ts/io-nifti';
import { createProgram, runCli } from './program.js';

const EXAMPLE = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'examples', 'Task04_Hippocampus_subset');
const dir = mkdtempSync(join(tmpdir(), 'nnunet-fix-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function cli(...args: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(args, { out: (s) => out.push(s) }, (s) => err.push(s));
  return { code, out, err };
}

describe('predict: existing outputs', () => {
  it('-o equal to or inside -i is refused before anything is written', async () => {
    const inDir = join(dir, 'imgs');
    mkdirSync(inDir);
    for (const o of [inDir, join(inDir, 'pred')]) {
      const r = await cli('predict', '-i', inDir, '-o', o, '-m', join(dir, 'nomodel'), '-q');
      expect(r.code).toBe(1);
      expect(r.err.join('\n')).toContain(`the output folder ${o} is ${o === inDir ? 'the input folder' : `inside the input folder ${inDir}`}`);
      expect(r.err.join('\n')).toContain('pass a separate -o folder outside -i');
    }
  });

  it('overwrite by default; continue keeps; manifest keeps only unchanged inputs and model', () => {
    const out = join(dir, 'out');
    mkdirSync(out);
    const img = join(dir, 'a.nii.gz');
    writeFileSync(img, 'x');
    const pred = join(out, 'a.nii.gz');
    writeFileSync(pred, 'old');
    expect(new PredictionResume(out, 'overwrite', '').keep(pred, 'a', [img])).toBe(false);
    expect(new PredictionResume(out, 'continue', '').keep(pred, 'a', [img])).toBe(true);
    // no manifest entry: re-predict
    expect(new PredictionResume(out, 'manifest', 'm1').keep(pred, 'a', [img])).toBe(false);
    new PredictionResume(out, 'manifest', 'm1').written('a', [img]);
    expect(Object.keys(readJson<Record<string, unknown>>(join(out, PREDICT_MANIFEST)))).toEqual(['a']);
    expect(new PredictionResume(out, 'manifest', 'm1').keep(pred, 'a', [img])).toBe(true);
    // another model checksum: re-predict
    expect(new PredictionResume(out, 'manifest', 'm2').keep(pred, 'a', [img])).toBe(false);
    // the input changed (size and mtime): re-predict
    writeFileSync(img, 'changed');
    utimesSync(img, new Date(), new Date(Date.now() + 5000));
    expect(new PredictionResume(out, 'manifest', 'm1').keep(pred, 'a', [img])).toBe(false);
  });
});

describe('train: a different budget in the same --out', () => {
  it('checkpoint_final with another budget stops with the fold folder, both budgets and the fix; same budget passes', () => {
    const fold = join(dir, 'run', 'fold_0');
    mkdirSync(fold, { recursive: true });
    writeFileSync(join(fold, 'checkpoint_final.json'), JSON.stringify({ num_epochs: 6, num_iterations_per_epoch: 10 }));
    expect(() => checkFinalBudget(fold, 6, 10)).not.toThrow();
    let msg = '';
    try {
      checkFinalBudget(fold, 8, 10);
    } catch (e) {
      msg = `${(e as Error).message} ${(e as { file?: string }).file} ${(e as { hint?: string }).hint}`;
    }
    expect(msg).toContain('this fold was trained with 6 epochs x 10 iterations, but 8 epochs x 10 iterations were requested');
    expect(msg).toContain(fold);
    expect(msg).toContain(`use a new --out, or delete ${fold} to train it again with the new budget`);
    // no checkpoint_final: nothing to compare
    expect(() => checkFinalBudget(join(dir, 'run', 'fold_1'), 8, 10)).not.toThrow();
  });

  it('the progress label names the epoch being trained', () => {
    expect(trainingLabel(0, 6)).toBe('epoch 1/6');
    // epoch index 1 is being trained after epoch 0 finished
    expect(trainingLabel(1, 6, 'last loss 0.500 ema dice 0.100')).toBe('epoch 2/6 last loss 0.500 ema dice 0.100');
  });
});

describe('--config validation and folds', () => {
  it('an unknown key is rejected with the key named and the valid keys listed', async () => {
    const cfg = join(dir, 'typo.json');
    writeFileSync(cfg, JSON.stringify({ epoch: 3 }));
    const r = await cli('validate', dir, '--config', cfg, '-q');
    expect(r.code).toBe(1);
    const text = r.err.join('\n');
    expect(text).toContain(`${cfg}: invalid config: unknown key 'epoch'`);
    expect(text).toContain('valid keys: preset, configurations, folds, nFolds, epochs, iterationsPerEpoch,');
  });
  it('a wrong type is rejected with the key named', async () => {
    const cfg = join(dir, 'type.json');
    writeFileSync(cfg, JSON.stringify({ epochs: '3', mirror: 1, folds: [0, 'x'] }));
    await expect(makeContext({ config: cfg, quiet: true })).rejects.toThrow(
      `invalid config: key 'folds' must be 'all' or a list (got [0,"x"]); key 'epochs' must be integer (got "3"); key 'mirror' must be boolean (got 1)`,
    );
    // a valid config still loads
    writeFileSync(cfg, JSON.stringify({ epochs: 3, folds: 'all', mirror: false }));
    expect((await makeContext({ config: cfg, quiet: true })).budget).toMatchObject({ epochs: 3, folds: 'all', mirror: false });
  });
  it('a fold missing from the splits is an error naming the fold and the valid range', () => {
    const splits = [0, 1, 2, 3, 4].map(() => ({ train: [], val: [] }));
    expect(() => foldsToRun([0, 7], splits, '/r/splits_final.json')).toThrow('/r/splits_final.json: fold 7 does not exist: the splits have 5 fold(s) (0-4)');
    expect(foldsToRun('all', splits, 'x')).toEqual([0, 1, 2, 3, 4]);
    expect(foldsToRun([1, 4], splits, 'x')).toEqual([1, 4]);
  });
});

describe('evaluate: references without a prediction', () => {
  async function seg(path: string, v: number): Promise<void> {
    const data = new Int16Array(8).fill(0);
    data[0] = v;
    await writeNifti(path, { data, shape: [1, 2, 2, 2], spacing: [1, 1, 1], origin: [0, 0, 0], direction: [1, 0, 0, 0, 1, 0, 0, 0, 1] }, { dtype: 'uint8' });
  }
  it('4 references, 3 predictions: error listing the missing one; --allow-missing warns with count and name', async () => {
    const ref = join(dir, 'ev_ref');
    const pred = join(dir, 'ev_pred');
    mkdirSync(ref);
    mkdirSync(pred);
    for (const id of ['c1', 'c2', 'c3', 'c4']) await seg(join(ref, `${id}.nii.gz`), 1);
    for (const id of ['c1', 'c2', 'c3']) await seg(join(pred, `${id}.nii.gz`), 1);
    const r = await cli('evaluate', '-p', pred, '-r', ref, '-l', '1', '-q');
    expect(r.code).toBe(1);
    expect(r.err.join('\n')).toContain(`1 reference(s) in ${ref} have no prediction: c4.nii.gz`);
    expect(r.err.join('\n')).toContain('pass --allow-missing');
    const a = await cli('evaluate', '-p', pred, '-r', ref, '-l', '1', '-q', '--allow-missing');
    expect(a.code).toBe(0);
    expect(a.out[0]).toBe('warning: 1 reference(s) have no prediction and are not evaluated: c4.nii.gz');
    expect(a.out.join('\n')).toContain('foreground mean: Dice 1.0000 over 3 cases');
  });
  it('a prediction without a reference (extra file): error naming it; --allow-missing skips it with a warning naming it (fresh-user finding)', async () => {
    const ref = join(dir, 'ex_ref');
    const pred = join(dir, 'ex_pred');
    mkdirSync(ref);
    mkdirSync(pred);
    for (const id of ['c1', 'c2', 'c3']) await seg(join(ref, `${id}.nii.gz`), 1);
    for (const id of ['c1', 'c2', 'c3', 'extra_9']) await seg(join(pred, `${id}.nii.gz`), 1);
    writeFileSync(join(pred, 'notes.txt'), 'not an image: ignored');
    const r = await cli('evaluate', '-p', pred, '-r', ref, '-l', '1', '-q');
    expect(r.code).toBe(1);
    expect(r.err.join('\n')).toContain(`1 prediction(s) in ${pred} have no reference in ${ref}: extra_9.nii.gz`);
    expect(r.err.join('\n')).toContain('remove them from the prediction folder, or pass --allow-missing');
    const a = await cli('evaluate', '-p', pred, '-r', ref, '-l', '1', '-q', '--allow-missing');
    expect(a.code, a.err.join('\n')).toBe(0);
    expect(a.out[0]).toBe(`warning: 1 prediction(s) have no reference in ${ref} and are not evaluated: extra_9.nii.gz`);
    expect(a.out.join('\n')).toContain('foreground mean: Dice 1.0000 over 3 cases');
    // both at once: a reference without a prediction and an extra prediction
    await seg(join(ref, 'c4.nii.gz'), 1);
    const b = await cli('evaluate', '-p', pred, '-r', ref, '-l', '1', '-q', '--allow-missing');
    expect(b.code).toBe(0);
    expect(b.out.slice(0, 2)).toEqual(['warning: 1 reference(s) have no prediction and are not evaluated: c4.nii.gz', `warning: 1 prediction(s) have no reference in ${ref} and are not evaluated: extra_9.nii.gz`]);
    // nothing in common
    const other = join(dir, 'ex_other');
    mkdirSync(other);
    await seg(join(other, 'zz.nii.gz'), 1);
    const c = await cli('evaluate', '-p', other, '-r', ref, '-l', '1', '-q', '--allow-missing');
    expect(c.code).toBe(1);
    expect(c.err.join('\n')).toContain(`no prediction in ${other} has a reference of the same name in ${ref}`);
  });
  it('a missing reference folder is named', async () => {
    const r = await cli('evaluate', '-p', dir, '-r', '/tmp/nope-nnunet-ref', '-l', '1', '-q');
    expect(r.code).toBe(1);
    expect(r.err.join('\n')).toContain('/tmp/nope-nnunet-ref: reference folder not found');
  });
});

describe('messages', () => {
  it('a 2-channel case for a 1-channel model names the case, its files and the expected count', () => {
    const inDir = join(dir, 'twoch');
    mkdirSync(inDir);
    for (const f of ['hip_001_0000.nii.gz', 'hip_001_0001.nii.gz']) writeFileSync(join(inDir, f), '');
    expect(() => casesOfFolder(inDir, '.nii.gz', 1)).toThrow(
      'case hip_001 has 2 channel file(s) (hip_001_0000.nii.gz, hip_001_0001.nii.gz), but the model expects 1 channel(s)',
    );
  });
  it('train before plan says which verb to run', async () => {
    const run = join(dir, 'unplanned');
    const r = await cli('train', EXAMPLE, '-o', run, '-q');
    expect(r.code).toBe(1);
    expect(r.err.join('\n')).toContain(`${join(run, 'nnUNet_preprocessed', 'nnUNetPlans.json')}: nnUNetPlans.json not found: this run folder has not been planned yet`);
    expect(r.err.join('\n')).toContain('run `nnunet-ts plan <dataset> -o <run>` (then `preprocess`) first, or `nnunet-ts decathlon <task> -o <run>`');
  });
  it('find-best / predict on missing folders, and an unknown backend on a verb without compute', async () => {
    let r = await cli('find-best', '-o', '/tmp/nope-nnunet-run', '-q');
    expect(r.code).toBe(1);
    expect(r.err.join('\n')).toContain('/tmp/nope-nnunet-run: run folder not found');
    const empty = join(dir, 'emptyrun');
    mkdirSync(empty);
    r = await cli('find-best', '-o', empty, '-q');
    expect(r.err.join('\n')).toContain(`${empty}: not a run folder: it has no trained configurations (no nnUNet_results)`);
    r = await cli('predict', '-i', '/tmp/nope-nnunet-in', '-o', join(dir, 'p'), '-m', '/tmp/nope', '-q');
    expect(r.err.join('\n')).toContain('/tmp/nope-nnunet-in: input folder not found');
    expect(r.err.join('\n')).toContain('hint: pass -i <folder> with the images to segment');
    r = await cli('validate', dir, '--backend', 'cuda', '-q');
    expect(r.code).toBe(1);
    expect(r.err.join('\n')).toContain("unknown backend 'cuda'");
    expect(r.err.join('\n')).toMatch(/available: auto, .*cpu-js/);
  });
});

describe('small', () => {
  it('preprocess --help lists -c and --preset, not the training options', () => {
    const pre = createProgram().commands.find((c) => c.name() === 'preprocess')!;
    const flags = pre.options.map((o) => o.long);
    expect(flags).toContain('--configurations');
    expect(flags).toContain('--preset');
    for (const f of ['--epochs', '--iterations-per-epoch', '--folds']) expect(flags).not.toContain(f);
    const train = createProgram().commands.find((c) => c.name() === 'train')!;
    expect(train.options.map((o) => o.long)).toEqual(expect.arrayContaining(['--epochs', '--iterations-per-epoch', '--folds']));
  });
});
