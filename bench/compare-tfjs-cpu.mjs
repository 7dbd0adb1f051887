#!/usr/bin/env node
// tfjs's default CPU backend (`tfjs-cpu`) vs `cpu-native` on the quick preset's job. Slow (one tfjs-cpu training
// step of the real network takes minutes), so not part of `npm run bench`. Needs `npm run build`.
//
//   node bench/compare-tfjs-cpu.mjs [--batch 2] [--progress <fold_0/progress.json of a quick run>]
//        [--summary <that run's summary.json>] [--train [--train-out /tmp/tfjs-equivalent]] [--out <json>]
//        [--measured <an earlier output: reuse its step measurements>]
//
// 1. Plans the real Hippocampus 3d_fullres network (bench/hippocampus.mjs), then runs the same training step
//    (forward + DC_and_CE_loss with deep supervision + backward + clip + SGD) from the same initial weights and the
//    same batch on both backends: the first-step losses must agree within float tolerance (same math), and the
//    step times give the speed ratio.
// 2. Reads the quick run's measured training wall time (first epoch start to last epoch end in progress.json,
//    validation iterations included) and computes how many iterations tfjs-cpu completes in that time.
// 3. --train: trains that many iterations with the CLI on cpu-native (quick preset otherwise unchanged: epochs 1 x
//    N iterations) and reads the test Dice it prints / writes. Because both backends compute the same thing, this
//    is the Dice tfjs-cpu would reach in the quick preset's wall time, obtained faster.
// Writes bench/compare-tfjs-cpu-results.json (or --out) and prints it.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync, readdirSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { machine, round } from './lib.mjs';
import { EXAMPLE, hippocampusPlan, planSummary, trainingStep } from './hippocampus.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const opt = (k, d) => {
  const i = args.indexOf(k);
  return i >= 0 ? args[i + 1] : d;
};
const log = (s) => process.stderr.write(`[compare ${new Date().toISOString().slice(11, 19)}] ${s}\n`);
const batch = Number(opt('--batch', '2'));
const outFile = opt('--out', join(here, 'compare-tfjs-cpu-results.json'));
const findRun = () => {
  const base = '/tmp/run1/nnUNet_results';
  if (!existsSync(base)) return undefined;
  const d = readdirSync(base).find((n) => n.endsWith('__3d_fullres'));
  return d ? join(base, d, 'fold_0', 'progress.json') : undefined;
};
const progressFile = opt('--progress', findRun());
const summaryFile = opt('--summary', progressFile ? join(dirname(progressFile), '..', '..', '..', 'summary.json') : undefined);
const result = { machine: machine(), batch };

// ---- 1. the same training step on both backends
const p = await hippocampusPlan();
result.plan = planSummary(p);
const core = p.core;
const registry = new core.Registry();
(await import('@nnunet-ts/backend-cpu')).registerDefaults(registry);
(await import('@nnunet-ts/backend-tfjs')).registerDefaults(registry);
// --measured <json>: reuse the step measurements of an earlier run of this script (e.g. to redo only --train)
const measured = opt('--measured') ? JSON.parse(readFileSync(opt('--measured'), 'utf8')).trainingStep : null;
const steps = measured ?? {};
for (const name of measured ? [] : ['cpu-native', 'tfjs-cpu']) {
  const backend = await registry.get('backend', name).create();
  log(`${name}: ${backend.info.description}; building the planned network, batch ${batch}`);
  const { step } = await trainingStep(p, backend, batch, { seed: 0 });
  const la = os.loadavg()[0];
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const first = await step();
  const seconds = (performance.now() - t0) / 1000;
  const cu = process.cpuUsage(c0);
  const row = { description: backend.info.description, firstStepLoss: first.loss, firstStepCe: first.ce, firstStepDice: first.dice, firstStepSeconds: round(seconds, 2), firstStepCpuSeconds: round((cu.user + cu.system) / 1e6, 2), loadavg1: round(la, 2) };
  if (name === 'cpu-native') {
    // the native first step includes one-time allocation: time two more and take the median of the three
    const ts = [seconds];
    for (let i = 0; i < 2; i++) {
      const t = performance.now();
      await step();
      ts.push((performance.now() - t) / 1000);
    }
    ts.sort((a, b) => a - b);
    row.stepSeconds = round(ts[1], 3);
  } else {
    // one step (it takes minutes). tfjs-cpu runs on one thread, so on an otherwise idle core its wall time would be
    // its CPU time: take the smaller, i.e. the figure most favourable to tfjs-cpu on a shared machine
    row.stepSeconds = round(Math.min(seconds, row.firstStepCpuSeconds), 2);
  }
  steps[name] = row;
  log(`${name}: first-step loss ${first.loss.toFixed(6)}, step ${row.stepSeconds} s (${row.firstStepCpuSeconds} CPU-s first step, load ${row.loadavg1})`);
  backend.dispose?.();
}
result.trainingStep = steps;
const a = steps['cpu-native'].firstStepLoss;
const b = steps['tfjs-cpu'].firstStepLoss;
result.sameMath = { lossCpuNative: a, lossTfjsCpu: b, absDiff: Math.abs(a - b), relDiff: Math.abs(a - b) / Math.abs(a), within1e4: Math.abs(a - b) <= 1e-4 * Math.max(1, Math.abs(a)) };
result.stepTimeRatio = round(steps['tfjs-cpu'].stepSeconds / steps['cpu-native'].stepSeconds, 1);

// ---- 2. iterations in the quick preset's training wall time
if (progressFile && existsSync(progressFile)) {
  const pr = JSON.parse(readFileSync(progressFile, 'utf8'));
  const dbg = JSON.parse(readFileSync(join(dirname(progressFile), 'debug.json'), 'utf8'));
  const epochs = pr.epoch_end_timestamps.length;
  const iterations = epochs * dbg.num_iterations_per_epoch;
  const wall = pr.epoch_end_timestamps.at(-1) - pr.epoch_start_timestamps[0];
  const perIteration = wall / iterations;
  // everything else an iteration costs in that run (data loading, augmentation, validation share), which tfjs-cpu
  // would pay too; the step itself is replaced by the tfjs-cpu step
  const overhead = Math.max(0, perIteration - steps['cpu-native'].stepSeconds);
  const tfjsPerIteration = steps['tfjs-cpu'].stepSeconds + overhead;
  const tfjsIterations = Math.floor(wall / tfjsPerIteration);
  const tfjsIterationsStepOnly = Math.floor(wall / steps['tfjs-cpu'].stepSeconds);
  result.quickRun = {
    progress: progressFile, epochs, iterationsPerEpoch: dbg.num_iterations_per_epoch, iterations, backend: dbg.backend,
    trainingWallSeconds: round(wall, 1), secondsPerIteration: round(perIteration, 2), otherCostPerIteration: round(overhead, 2),
  };
  result.tfjsCpuInSameWall = {
    secondsPerIteration: round(tfjsPerIteration, 1), iterations: tfjsIterations, iterationsIgnoringOtherCosts: tfjsIterationsStepOnly,
    // ratio of iterations in the same wall time; with 0 tfjs iterations it is unbounded
    ratio: tfjsIterations ? round(iterations / tfjsIterations, 1) : null, ratioIgnoringOtherCosts: tfjsIterationsStepOnly ? round(iterations / tfjsIterationsStepOnly, 1) : null,
  };
  if (summaryFile && existsSync(summaryFile)) {
    const s = JSON.parse(readFileSync(summaryFile, 'utf8'));
    result.quickRun.summary = summaryFile;
    result.quickRun.testDice = { foregroundMean: round(s.foreground_mean.Dice, 4), perClass: Object.fromEntries(Object.entries(s.mean).map(([k, v]) => [k, round(v.Dice, 4)])) };
  }
  log(`quick run: ${iterations} iterations in ${round(wall, 0)} s; tfjs-cpu: ${tfjsIterations} iterations (${tfjsIterationsStepOnly} ignoring the other costs)`);
} else {
  log(`no progress.json of a quick run (${progressFile}); pass --progress`);
}

// ---- 3. the Dice tfjs-cpu would reach in that time
if (args.includes('--train') && result.tfjsCpuInSameWall) {
  // give tfjs-cpu the benefit of the doubt: the larger count (other per-iteration costs ignored), at least 1
  const n = Math.max(1, result.tfjsCpuInSameWall.iterationsIgnoringOtherCosts);
  const out = opt('--train-out', '/tmp/tfjs-equivalent');
  const cmd = ['packages/cli/dist/bin.js', 'decathlon', EXAMPLE, '--out', out, '--preset', 'quick', '--epochs', '1', '--iterations-per-epoch', String(n), '--backend', 'cpu-native'];
  log(`training the tfjs-cpu-equivalent budget on cpu-native: node ${cmd.join(' ')}`);
  const t = performance.now();
  const r = spawnSync(process.execPath, cmd, { cwd: join(here, '..'), encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 1 << 28 });
  const text = `${r.stdout}\n${r.stderr}`;
  writeFileSync(join(os.tmpdir(), 'tfjs-equivalent.log'), text);
  const s = existsSync(join(out, 'summary.json')) ? JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) : null;
  result.tfjsEquivalentRun = {
    command: `npx nnunet-ts ${cmd.slice(1).join(' ')}`, exitCode: r.status, wallSeconds: round((performance.now() - t) / 1000, 0), iterations: n,
    printed: text.split('\n').filter((l) => /dice/i.test(l)).slice(-6),
    testDice: s ? { foregroundMean: round(s.foreground_mean.Dice, 4), perClass: Object.fromEntries(Object.entries(s.mean).map(([k, v]) => [k, round(v.Dice, 4)])) } : null,
  };
  log(`tfjs-equivalent run: exit ${r.status}, test Dice ${JSON.stringify(result.tfjsEquivalentRun.testDice)}`);
}
result.machine.loadavgAtEnd = os.loadavg().map((v) => +v.toFixed(2));
writeFileSync(outFile, JSON.stringify(result, null, 2) + '\n');
process.stdout.write(JSON.stringify(result, null, 2) + '\n');
