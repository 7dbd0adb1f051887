/**
 * Findings of a fresh tester, second round: a bad value of an option with a fixed set of choices printed the whole
 * help (now one line, exit 2); `export-onnx` did not name the folds of the model folder; `predict --continue` counted
 * every case in its progress and its summary counted kept outputs as written; outputs were named `<case>_0000.nii.gz` or `<case>.nii.gz` depending on how the inputs
 * were named (now always `<case><file_ending>`, as nnU-Net); README rows and the example's README named commands
 * and cases that were not there.
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it, vi } from 'vitest';
import { formatDuration, resolveBudget, trainingSecondsPerTask, type RunSpec } from '@nnunet-ts/core';
import { createProgram } from './program.js';
import { budgetSummary, slurmTimeSeconds } from './queue-commands.js';
import { EXAMPLE, NNUNET_MODEL, cli, sessionDir } from './__fixtures__/cli-session.js';

const dir = sessionDir('nnunet-polish-');
const REPO = join(EXAMPLE, '..', '..');

/** Runs the CLI with stderr (progress, commander's messages) captured besides its `err` lines. */
async function logged(...args: string[]): Promise<{ code: number; out: string; err: string; log: string }> {
  const said: string[] = [];
  const spy = vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => said.push(String(s)) > 0);
  try {
    const r = await cli(...args);
    return { ...r, log: said.join('') };
  } finally {
    spy.mockRestore();
  }
}

describe('a value outside an option\'s fixed set', () => {
  it('--export-order-z 2 is one line naming the value, the allowed values and the help, exit 2, without the help text', async () => {
    const r = await logged('predict', '-i', EXAMPLE, '-o', join(dir, 'oz'), '-m', NNUNET_MODEL, '--export-order-z', '2');
    expect(r.code).toBe(2);
    expect(r.err).toBe('error: --export-order-z "2" is not an allowed value; allowed: 0 (nearest, nnU-Net), 1 (linear) (see: nnunet-ts predict --help)');
    expect(r.log).toBe('');
    expect(existsSync(join(dir, 'oz'))).toBe(false);
    // the allowed values still parse
    expect((await logged('predict', '-i', join(dir, 'none'), '-o', join(dir, 'oz1'), '-m', NNUNET_MODEL, '--export-order-z', '1', '-q')).err).toContain('input folder not found');
  });

  it('--preset nope is one line naming the presets', async () => {
    const r = await logged('decathlon', join(dir, 'no-task'), '-o', join(dir, 'np'), '--preset', 'nope');
    expect(r.code).toBe(2);
    expect(r.err).toBe("error: unknown preset 'nope'; available: quick, tiny (see: nnunet-ts decathlon --help)");
    expect(existsSync(join(dir, 'np'))).toBe(false);
  });

  it("commander's own errors (unknown flag, missing option) point to the verb's help instead of printing it", async () => {
    let r = await logged('predict', '-i', EXAMPLE, '-o', join(dir, 'uf'), '-m', NNUNET_MODEL, '--no-such-flag');
    expect(r.code).toBe(2);
    expect(r.log).toMatch(/^error: unknown option '--no-such-flag'[^\n]*\n\(see: nnunet-ts predict --help\)\n$/);
    r = await logged('export-onnx', '-m', NNUNET_MODEL);
    expect(r.code).toBe(2);
    expect(r.log).toBe("error: required option '-o, --output <file>' not specified\n(see: nnunet-ts export-onnx --help)\n");
    r = await logged('no-such-verb');
    expect(r.code).toBe(2);
    expect(r.log).toBe("error: unknown command 'no-such-verb'\n(see: nnunet-ts --help)\n");
  });
});

describe('export-onnx names the folds of the model folder', () => {
  /** A copy of the shared nnU-Net model with folds 0 and 2 (the same checkpoint, linked). */
  function twoFoldModel(): string {
    const m = join(dir, 'models', 'nnUNetTrainer_16x30__nnUNetPlans__3d_fullres');
    if (existsSync(m)) return m;
    for (const f of [0, 2]) {
      mkdirSync(join(m, `fold_${f}`), { recursive: true });
      symlinkSync(join(NNUNET_MODEL, 'fold_0', 'checkpoint_final.pth'), join(m, `fold_${f}`, 'checkpoint_final.pth'));
    }
    for (const f of ['plans.json', 'dataset.json']) copyFileSync(join(NNUNET_MODEL, f), join(m, f));
    return m;
  }

  it('a fold that is not there: exit 1 naming it and the folds found, before any backend is chosen', async () => {
    const m = twoFoldModel();
    const r = await logged('export-onnx', '-m', m, '-o', join(dir, 'f1.onnx'), '-f', '1');
    expect(r.code).toBe(1);
    expect(r.err).toBe(`error: ${join(m, 'fold_1')}: fold 1 has no checkpoint_final in the model folder; folds found: 0, 2\nhint: pass -f with one of 0, 2 (an ONNX file holds one fold's network), or leave -f out for fold 0`);
    expect(r.log).not.toContain('backend');
    expect(existsSync(join(dir, 'f1.onnx'))).toBe(false);
  });

  it('without -f: exports the first fold and says which folds were found', { timeout: 300_000 }, async () => {
    const m = twoFoldModel();
    const r = await logged('export-onnx', '-m', m, '-o', join(dir, 'f.onnx'), '--backend', 'cpu-js', '-q');
    expect(r.code, r.err).toBe(0);
    expect(r.out).toBe(`wrote ${join(dir, 'f.onnx')} (fold 0, ONNX opset 17)\nfolds found in ${m}: 0, 2; exported fold 0 (the first); -f <fold> exports another`);
    const withFold = await logged('export-onnx', '-m', m, '-o', join(dir, 'f2.onnx'), '-f', '2', '--backend', 'cpu-js', '-q');
    expect(withFold.code, withFold.err).toBe(0);
    expect(withFold.out).toBe(`wrote ${join(dir, 'f2.onnx')} (fold 2, ONNX opset 17)`);
  });
});

describe('predict: output names and --continue', () => {
  const config = join(dir, 'no-estimate.json');
  const predict = (input: string, out: string, ...more: string[]) => logged('predict', '-i', input, '-o', out, '-m', NNUNET_MODEL, '--backend', 'cpu-native', '--disable-tta', '--config', config, ...more);

  it('inputs with and without _0000, and a single file, give <case>.nii.gz; --continue counts the cases left', { timeout: 600_000 }, async () => {
    writeFileSync(config, JSON.stringify({ estimate: false }));
    const mixed = join(dir, 'mixed');
    mkdirSync(mixed);
    copyFileSync(join(EXAMPLE, 'imagesTs', 'hippocampus_008.nii.gz'), join(mixed, 'hippocampus_008_0000.nii.gz'));
    copyFileSync(join(EXAMPLE, 'imagesTs', 'hippocampus_020.nii.gz'), join(mixed, 'hippocampus_020.nii.gz'));
    const out = join(dir, 'mixed-out');
    let r = await predict(mixed, out);
    expect(r.code, r.err).toBe(0);
    expect(readdirSync(out).filter((n) => !n.startsWith('.')).sort()).toEqual(['hippocampus_008.nii.gz', 'hippocampus_020.nii.gz']);
    expect(r.log).toContain('predict: 2/2');
    expect(r.out).toBe(`wrote 2 segmentation(s) to ${out}`);

    // one file, named with or without the channel suffix
    for (const name of ['hippocampus_033_0000.nii.gz', 'hippocampus_033.nii.gz']) {
      const single = join(dir, `single-${name}`);
      mkdirSync(single);
      copyFileSync(join(EXAMPLE, 'imagesTs', 'hippocampus_033.nii.gz'), join(single, name));
      const o = join(dir, `single-out-${name}`);
      r = await predict(join(single, name), o, '-q');
      expect(r.code, r.err).toBe(0);
      expect(readdirSync(o).filter((n) => !n.startsWith('.'))).toEqual(['hippocampus_033.nii.gz']);
    }

    // --continue: one output kept, the progress counts the one left
    rmSync(join(out, 'hippocampus_020.nii.gz'));
    r = await predict(mixed, out, '--continue');
    expect(r.code, r.err).toBe(0);
    expect(r.log).toContain(`predict: 1 of 2 case(s) already predicted in ${out}, kept; 1 left`);
    expect(r.log).toContain('predict: 1/1 hippocampus_020');
    expect(r.log).not.toMatch(/predict: \d\/2/);
    // the summary counts what was written and what kept (was: "wrote 2 segmentation(s)", 1 written)
    expect(r.out).toBe(`wrote 1 segmentation(s) to ${out}; kept 1 already there (--continue)`);
    // nothing left: no progress at all
    r = await predict(mixed, out, '--continue');
    expect(r.code, r.err).toBe(0);
    expect(r.log).toContain(`predict: 2 of 2 case(s) already predicted in ${out}, kept; 0 left`);
    expect(r.log).not.toMatch(/predict: \d\/\d/);
    expect(r.out).toBe(`wrote 0 segmentation(s) to ${out}; kept 2 already there (--continue)`);
  });

  it('a case given twice (a_0000 and a) is refused naming both files, nothing written', { timeout: 300_000 }, async () => {
    writeFileSync(config, JSON.stringify({ estimate: false }));
    const twice = join(dir, 'twice');
    mkdirSync(twice);
    copyFileSync(join(EXAMPLE, 'imagesTs', 'hippocampus_008.nii.gz'), join(twice, 'hippocampus_008_0000.nii.gz'));
    copyFileSync(join(EXAMPLE, 'imagesTs', 'hippocampus_008.nii.gz'), join(twice, 'hippocampus_008.nii.gz'));
    const r = await predict(twice, join(dir, 'twice-out'), '-q');
    expect(r.code).toBe(1);
    expect(r.err).toBe(`error: ${twice}: hippocampus_008.nii.gz and hippocampus_008_0000.nii.gz are both case hippocampus_008: both would be written to the same output\nhint: keep one of the two files in the input folder`);
    expect(existsSync(join(dir, 'twice-out', 'hippocampus_008.nii.gz'))).toBe(false);
  });
});

describe('README and the example', () => {
  it('the commands table has a row for every verb', () => {
    const readme = readFileSync(join(REPO, 'README.md'), 'utf8');
    const rows = new Set([...readme.matchAll(/^\| `([a-z-]+)[ `]/gm)].map((m) => m[1]));
    const verbs = createProgram({ out: () => {} }).commands.map((c) => c.name());
    expect(verbs).toContain('export-nnunet');
    expect(verbs.filter((v) => !rows.has(v))).toEqual([]);
  });

  it("the example's README names only cases of the example, with their real image and label types", () => {
    const text = readFileSync(join(EXAMPLE, 'README.md'), 'utf8');
    const named = [...text.matchAll(/hippocampus_(\d{3})|`_(\d{3})`/g)].map((m) => `hippocampus_${m[1] ?? m[2]}.nii.gz`);
    expect(named.length).toBeGreaterThanOrEqual(7);
    const present = new Set(['imagesTr', 'imagesTs'].flatMap((d) => readdirSync(join(EXAMPLE, d))));
    expect(named.filter((n) => !present.has(n))).toEqual([]);
    // uint8 (NIfTI datatype 2) exactly where the README says so
    const uint8 = (file: string) => gunzipSync(readFileSync(file)).readInt16LE(70) === 2;
    const uint8Images = ['imagesTr', 'imagesTs'].flatMap((d) => readdirSync(join(EXAMPLE, d)).filter((n) => uint8(join(EXAMPLE, d, n))));
    expect(uint8Images.sort()).toEqual(['hippocampus_033.nii.gz', 'hippocampus_034.nii.gz', 'hippocampus_065.nii.gz', 'hippocampus_075.nii.gz', 'hippocampus_087.nii.gz', 'hippocampus_088.nii.gz']);
    expect(readdirSync(join(EXAMPLE, 'labelsTr')).filter((n) => !uint8(join(EXAMPLE, 'labelsTr', n)))).toEqual(['hippocampus_003.nii.gz']);
  });
});

describe('slurm carries the budget to every job and says it', () => {
  it('--preset tiny (no time budget): the epochs in the summary, the training script and jobs.json', { timeout: 600_000 }, async () => {
    const out = join(dir, 'slurm-tiny');
    const r = await cli('slurm', EXAMPLE, '-o', out, '--preset', 'tiny', '-q');
    expect(r.code, r.err).toBe(0);
    expect(r.out.split('\n')[1]).toBe("no time budget: nnU-Net's plans; 3d_fullres, fold(s) 0: one array task per (configuration, fold), each training 4 epochs x 10 iterations");
    const run = (JSON.parse(readFileSync(join(out, 'jobs.json'), 'utf8')) as { run: RunSpec }).run;
    expect([run.budget.epochs, run.budget.iterationsPerEpoch, run.folds, run.configurations]).toEqual([4, 10, [0], ['3d_fullres']]);
    expect(readFileSync(join(out, 'slurm', 'train_0.sbatch'), 'utf8')).toContain('# each task trains its fold 4 epochs x 10 iterations');
  });

  it('--preset quick --time-budget 3h: planned on this machine; the plans, jobs.json, the training script and the summary carry it', { timeout: 900_000 }, async () => {
    const cache = process.env.NNUNET_TS_CACHE;
    process.env.NNUNET_TS_CACHE = join(dir, 'cache');
    try {
      const out = join(dir, 'slurm-quick');
      const r = await cli('slurm', EXAMPLE, '-o', out, '--preset', 'quick', '--time-budget', '3h', '--backend', 'cpu-native', '--time', '0:30:00', '-q');
      expect(r.code, r.err).toBe(0);
      const plans = JSON.parse(readFileSync(join(out, 'nnUNet_preprocessed', 'nnUNetPlans.json'), 'utf8')) as { time_budget: Record<string, unknown> & { configuration: string; epochs: number; iterations_per_epoch: number; patch_size: number[] } };
      const tb = plans.time_budget;
      expect(tb.budget_seconds).toBe(3 * 3600);
      const run = (JSON.parse(readFileSync(join(out, 'jobs.json'), 'utf8')) as { run: RunSpec }).run;
      // the quick preset's fold and configuration order, the budget's decisions
      expect(run.folds).toEqual([0]);
      expect(run.configurations).toEqual([tb.configuration]);
      expect([run.budget.epochs, run.budget.iterationsPerEpoch]).toEqual([tb.epochs, tb.iterations_per_epoch]);
      expect(tb.epochs * tb.iterations_per_epoch).toBeGreaterThanOrEqual(480);
      expect(tb.epochs * tb.iterations_per_epoch).toBeLessThanOrEqual(810);
      expect(run.budget.timeBudgetSeconds).toBe(3 * 3600);
      expect(run.trainingEndsAt).toBeUndefined();
      expect(run.trainingSecondsPerTask).toBe(Math.round(trainingSecondsPerTask(tb, 1)!));
      expect(run.trainingSecondsPerTask).toBeGreaterThan(3600);
      const share = formatDuration(run.trainingSecondsPerTask!);
      const train = readFileSync(join(out, 'slurm', 'train_0.sbatch'), 'utf8');
      expect(train).toContain(`# each task trains its fold ${tb.epochs} epochs x ${tb.iterations_per_epoch} iterations`);
      expect(train).toContain(`# time budget 3h 00m for the whole run: each task trains at most ${share} from its own start`);
      expect(r.out.split('\n')[1]).toBe(
        `time budget 3h 00m (--time-budget 3h) for the whole run, planned on this machine (backend cpu-native): ${tb.configuration}, fold(s) 0: one array task per (configuration, fold), ` +
          `each training ${tb.epochs} epochs x ${tb.iterations_per_epoch} iterations, and at most ${share} of training from the task's start (the budget's training time per fold)`,
      );
      // an sbatch --time below the share would have SLURM kill the tasks: said, with the time to give
      expect(r.out.split('\n')[2]).toBe(
        `warning: --time 0:30:00 is shorter than each training task's ${share} of training (and its validation after it): SLURM would stop the tasks before they end; give --time of at least ${formatDuration(run.trainingSecondsPerTask! * 1.25)}`,
      );
      expect(readFileSync(join(out, 'slurm', 'train_0.sbatch'), 'utf8')).toContain('#SBATCH --time=0:30:00\n');
    } finally {
      if (cache === undefined) delete process.env.NNUNET_TS_CACHE;
      else process.env.NNUNET_TS_CACHE = cache;
    }
  });

  it("sbatch --time values in SLURM's forms", () => {
    expect(['30', '30:15', '2:00:00', '1-0', '1-2', '1-2:30', '1-2:30:15', 'UNLIMITED', '1h'].map(slurmTimeSeconds)).toEqual([
      1800, 1815, 7200, 86400, 93600, 95400, 95415, null, null,
    ]);
  });

  it("the summary names a preset's budget as coming from the preset", () => {
    const run: RunSpec = {
      out: '/r', dataset: '/d', budget: { ...resolveBudget('quick'), epochs: 16, iterationsPerEpoch: 30 }, backend: 'auto', configurations: ['2d'], folds: [0], trainingSecondsPerTask: 1500,
    };
    expect(budgetSummary(run, { preset: 'quick' }, 'cpu-js')).toBe(
      "time budget 30m 00s (--preset quick) for the whole run, planned on this machine (backend cpu-js): 2d, fold(s) 0: one array task per (configuration, fold), each training 16 epochs x 30 iterations, and at most 25m 00s of training from the task's start (the budget's training time per fold)",
    );
  });
});
