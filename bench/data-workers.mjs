// Data loading in workers against on the training thread, on a real preprocessed run folder (what `nnunet-ts
// decathlon` leaves in <run>/nnUNet_preprocessed): `trainFold` (3d_fullres, fold 0, cpu-native device, nnUNetDefault
// augmentation) for one epoch of `--iterations` iterations per worker count; prints per count the seconds per
// training iteration, CPU seconds per iteration and debug.json's data_wait_fraction (time the loop waited for
// batches). `node bench/data-workers.mjs <run folder> [--workers 0,1] [--iterations 12]` (after npm run build).
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { cpuUsage } from 'node:process';

const args = process.argv.slice(2);
const opt = (k, d) => (args.includes(k) ? args[args.indexOf(k) + 1] : d);
const run = args[0];
if (!run) throw new Error('usage: node bench/data-workers.mjs <run folder> [--workers 0,1] [--iterations 12]');
const pre = join(run, 'nnUNet_preprocessed');
const json = (f) => JSON.parse(readFileSync(join(pre, f), 'utf8'));
const { createDefaultRegistry } = await import('@nnunet-ts/cli');
const core = await import('@nnunet-ts/core');
const { createCpuNativeDevice } = await import('@nnunet-ts/backend-cpu');
const iterations = Number(opt('--iterations', 12));
// nnU-Net's 5-fold split of the preprocessed cases when the run has not trained yet (no splits_final.json)
const splits = existsSync(join(pre, 'splits_final.json')) ? json('splits_final.json') : core.createSplits(await core.listPreprocessedCases(join(pre, '3d_fullres')));
const rows = [];
for (const workers of opt('--workers', '0,1').split(',').map(Number)) {
  const out = mkdtempSync(join(tmpdir(), 'nnunet-ts-dw-'));
  const device = await createCpuNativeDevice();
  const t = [];
  const load0 = loadavg()[0];
  const c0 = cpuUsage();
  try {
    await core.trainFold({
      registry: createDefaultRegistry(), device, plans: json('nnUNetPlans.json'), configuration: '3d_fullres', dataset: json('dataset.json'),
      preprocessedDir: join(pre, '3d_fullres'), splits, fold: 0, outputDir: out, epochs: 1, iterationsPerEpoch: iterations,
      validationIterations: 1, dataWorkers: workers, onProgress: (p) => p.phase === 'train' && t.push(performance.now()),
    });
    const c = cpuUsage(c0);
    const timing = JSON.parse(readFileSync(join(out, 'fold_0', 'debug.json'), 'utf8')).timing[0];
    // the first iteration includes starting the workers and warming the buffers: per-iteration time from the 2nd on
    const perIt = (t[t.length - 1] - t[0]) / 1000 / (t.length - 1);
    rows.push({ workers, iterations, secondsPerIteration: +perIt.toFixed(3), cpuSecondsPerIterationInclStartup: +((c.user + c.system) / 1e6 / iterations).toFixed(3), dataWaitFraction: +timing.data_wait_fraction.toFixed(3), dataSeconds: +timing.data_seconds.toFixed(2), stepSeconds: +timing.step_seconds.toFixed(2), loadavg: [load0, loadavg()[0]] });
    process.stderr.write(`${JSON.stringify(rows[rows.length - 1])}\n`);
  } finally {
    device.destroy?.();
    rmSync(out, { recursive: true, force: true });
  }
}
console.log(JSON.stringify({ run, rows }, null, 1));
