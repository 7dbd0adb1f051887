/**
 * Plan for the machine (issue 16): a synthetic anisotropic two-channel MRI dataset with the shapes and spacings of a
 * real brain-tumour set (512x512x24 and 260x320x25 voxels, 0.43-0.69 mm in-plane, 6.5 mm slices, oblique) runs
 * through `decathlon --time-budget` within its budget; the plan, the decisions and the estimates are written; a budget
 * too small is refused before any preprocessing with the estimate and the fix.
 *
 * `NNUNET_TIME_BUDGET` (default `5m`) sets the budget; `NNUNET_TIME_BUDGET=30m` is the quick preset's.
 */
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runLayout, type Plans } from '@nnunet-ts/core';
import { createDefaultRegistry, runCli } from '@nnunet-ts/cli';
import { makeAnisotropicTask } from './fixtures/anisotropic.js';

const tmp: string[] = [];
let root = '';
let parent = '';
beforeAll(async () => {
  parent = mkdtempSync(join(tmpdir(), 'nnunet-budget-'));
  tmp.push(parent);
  process.env.NNUNET_TS_CACHE = join(parent, 'cache');
  const reg = createDefaultRegistry();
  const writer = reg.all('writer').find((w) => w.extensions.includes('.nii.gz'))!;
  root = await makeAnisotropicTask(parent, (p, img, isLabel) => writer.write(p, img, { dtype: isLabel ? 'uint8' : 'int16' }));
}, 600_000);
afterAll(() => {
  delete process.env.NNUNET_TS_CACHE;
  tmp.forEach((d) => rmSync(d, { recursive: true, force: true }));
});

const budgetArg = process.env.NNUNET_TIME_BUDGET ?? '5m';

describe('decathlon --time-budget on an anisotropic two-channel dataset', () => {
  it('a budget below what the cheapest plan needs is refused before preprocessing, naming the estimate', { timeout: 600_000 }, async () => {
    const out = join(parent, 'too-small');
    const errs: string[] = [];
    const code = await runCli(['decathlon', root, '-o', out, '--time-budget', '20s', '-q'], { out: () => {} }, (s) => errs.push(s));
    expect(code).toBe(1);
    expect(errs.join('\n')).toMatch(/time budget of 20s is too small .* the cheapest plan needs a budget of about \d+/);
    expect(errs.join('\n')).toMatch(/give a budget of at least/);
    // the predictions counted are every fold's validation cases and the test cases (5 folds here)
    const n = /preprocessing and (\d+) predictions: (\d+) validation case\(s\) per fold and (\d+) test case\(s\)/.exec(errs.join('\n'));
    expect(n, errs.join('\n')).not.toBeNull();
    expect(Number(n![1])).toBe(5 * Number(n![2]) + Number(n![3]));
    expect(Number(n![2])).toBeGreaterThan(0);
    expect(existsSync(runLayout(out).configurationData('3d_fullres'))).toBe(false);
  });

  it('train --time-budget plans for the machine too: a budget too small is refused before preprocessing, counting no test images', { timeout: 600_000 }, async () => {
    const out = join(parent, 'train-too-small');
    const errs: string[] = [];
    expect(await runCli(['plan', root, '-o', out, '-q'], { out: () => {} }, (s) => errs.push(s)), errs.join('\n')).toBe(0);
    const code = await runCli(['train', root, '-o', out, '--time-budget', '20s', '-f', '0', '-q'], { out: () => {} }, (s) => errs.push(s));
    expect(code).toBe(1);
    expect(errs.join('\n')).toMatch(/time budget of 20s is too small .* the cheapest plan needs a budget of about \d+/);
    // train predicts the validation cases of its fold, no test images
    const n = /preprocessing and (\d+) predictions: (\d+) validation case\(s\) per fold and (\d+) test case\(s\)/.exec(errs.join('\n'));
    expect(n, errs.join('\n')).not.toBeNull();
    expect(Number(n![3])).toBe(0);
    expect(Number(n![1])).toBe(Number(n![2]));
    expect(existsSync(runLayout(out).configurationData('3d_fullres'))).toBe(false);
    expect(existsSync(runLayout(out).modelDir('3d_fullres'))).toBe(false);
  });

  it(`runs within ${budgetArg} (or the budget its refusal names on a slower machine), writes the decisions into plans and run.json, and estimates every stage`, { timeout: 3_600_000 }, async () => {
    const out = join(parent, 'run');
    const L = runLayout(out);
    const lines: string[] = [];
    const errs: string[] = [];
    let budget = budgetArg;
    let t0 = performance.now();
    let code = await runCli(['decathlon', root, '-o', out, '--time-budget', budget, '-f', '0'], { out: (s) => lines.push(s) }, (s) => errs.push(s));
    // a slower (loaded) machine: the refusal names the budget that fits; that budget must then be kept. The load of a
    // shared CI machine changes between two runs, and a new calibration can then name a larger budget (CI, load ~8:
    // 5m refused naming 6m, then 6m refused naming 7m27s): the run is retried at each named budget, at most 3 times
    for (let attempt = 0; code === 1 && attempt < 3; attempt++) {
      const least = /give a budget of at least ((\d+)h (\d+)m|(\d+)m (\d+)s|(\d+)s)/.exec(errs.join('\n'));
      expect(least, errs.join('\n')).not.toBeNull();
      const [, , h, hm, m, ms, sec] = least!.map((v) => Number(v ?? 0));
      budget = `${Math.ceil((h! * 3600 + hm! * 60 + m! * 60 + ms! + sec!) / 60)}m`;
      errs.length = 0;
      t0 = performance.now();
      code = await runCli(['decathlon', root, '-o', out, '--time-budget', budget, '-f', '0'], { out: (s) => lines.push(s) }, (s) => errs.push(s));
    }
    const wall = (performance.now() - t0) / 1000;
    expect(code, errs.join('\n')).toBe(0);
    const budgetSeconds = JSON.parse(readFileSync(L.runInfo, 'utf8')).time_budget.budget_seconds as number;
    // the whole run (fingerprint and calibration included: both are taken off the budget) within its budget; the
    // slack covers a machine whose load changes during the run
    expect(wall).toBeLessThan(budgetSeconds * 1.25);
    const plans = JSON.parse(readFileSync(L.plans, 'utf8')) as Plans & { time_budget: Record<string, unknown> };
    const tb = plans.time_budget;
    expect(['3d_fullres', '2d']).toContain(tb.configuration);
    const cfg = plans.configurations[tb.configuration as string]!;
    expect(cfg.patch_size).toEqual(tb.patch_size);
    expect(cfg.batch_size).toBe(tb.batch_size);
    // nnU-Net's 8 GB plan for this data is 24x256x256 (or larger) at batch 2: the budget plan is smaller
    const voxels = (cfg.patch_size as number[]).reduce((a, b) => a * b, 1) * (cfg.batch_size as number);
    expect(voxels).toBeLessThan(2 * 24 * 256 * 256);
    expect(Number(tb.epochs)).toBeGreaterThanOrEqual(1);
    // validation iterations keep nnU-Net's 50 per 250 when the epoch is shortened
    expect(tb.validation_iterations_per_epoch).toBe(Math.min(50, Math.max(1, Math.round((50 * Number(tb.iterations_per_epoch)) / 250))));
    expect(Number(tb.seconds_before_stages)).toBeGreaterThan(0);
    expect(Number(tb.seconds_before_stages)).toBeLessThan(budgetSeconds / 2);
    const est = JSON.parse(readFileSync(join(out, 'estimates.json'), 'utf8')) as { estimated: { stage: string; seconds: number }[]; measured: Record<string, number> };
    expect(est.estimated.map((e) => e.stage)).toEqual(expect.arrayContaining([`train ${tb.configuration}`, `validation ${tb.configuration}`, `predict test ${tb.configuration}`]));
    expect(Object.keys(est.measured)).toEqual(expect.arrayContaining([`train ${tb.configuration}`, `validation ${tb.configuration}`, 'predict test']));
    // estimates against measurement (the note reports the ratios; here only gross errors fail: the load of a shared CI
    // machine changes between calibration and the stages)
    for (const stage of [`train ${tb.configuration}`, `predict test ${tb.configuration}`]) {
      const e = est.estimated.find((x) => x.stage === stage)!;
      const m = est.measured[stage.startsWith('predict') ? 'predict test' : stage]!;
      expect(m / e.seconds, `${stage}: estimated ${e.seconds} s, measured ${m} s`).toBeGreaterThan(0.25);
      expect(m / e.seconds, `${stage}: estimated ${e.seconds} s, measured ${m} s`).toBeLessThan(4);
    }
    const summary = JSON.parse(readFileSync(L.summary, 'utf8').replace(/NaN/g, 'null'));
    expect(summary.metric_per_case).toHaveLength(2);
    expect(readdirSync(L.predictions).filter((f) => f.endsWith('.nii.gz'))).toHaveLength(2);
    // estimate against measurement per stage, in run.json and in the CI log (no timing assert: benchmarks hold speed targets)
    const rows = JSON.parse(readFileSync(L.runInfo, 'utf8')).estimates_against_measurement as { stage: string; estimated_seconds: number; measured_seconds: number; ratio: number }[];
    expect(rows.map((r) => r.stage)).toEqual(expect.arrayContaining([`train ${tb.configuration}`, `validation ${tb.configuration}`, 'predict test']));
    for (const r of rows) expect(r.ratio).toBeCloseTo(r.measured_seconds / r.estimated_seconds, 1);
    console.log(`time budget ${budgetSeconds}s: wall ${wall.toFixed(0)}s; decisions ${JSON.stringify(tb)}\n` +
      rows.map((r) => `  ${r.stage.padEnd(22)} estimated ${r.estimated_seconds} s, measured ${r.measured_seconds} s, measured/estimated ${r.ratio}`).join('\n'));
    // a second run resumes every stage and keeps the decisions
    const again: string[] = [];
    expect(await runCli(['decathlon', root, '-o', out, '--time-budget', budget, '-f', '0'], { out: (s) => again.push(s) }, (s) => errs.push(s)), errs.join('\n')).toBe(0);
    expect(JSON.parse(readFileSync(L.plans, 'utf8')).time_budget).toEqual(tb);
    // the resumed run found every stage done: nothing left to estimate, the first run's measurements are kept
    const after = JSON.parse(readFileSync(join(out, 'estimates.json'), 'utf8')) as typeof est;
    expect(after.estimated.map((e) => e.stage).filter((s) => /^(train|validation|predict test)/.test(s))).toEqual([]);
    expect(after.measured).toEqual(est.measured);
  });
});
