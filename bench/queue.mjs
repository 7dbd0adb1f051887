#!/usr/bin/env node
// Job-queue benchmark: preprocessing (40 training cases) and prediction (10 test cases, mirroring TTA) of the
// embedded example (examples/Task04_Hippocampus_subset, quick preset) through `nnunet-ts decathlon --queue` with 1
// and with 2 `nnunet-ts worker` processes on a private redis-server (127.0.0.1, free port, persistence off).
//
// Setup (not timed as queue runs): one in-process decathlon with the quick preset cut to 1 epoch x 2 iterations
// (the cost of prediction does not depend on how well the model is trained); its own preprocessing and prediction
// times are reported as `inProcess`. Then per worker count (in the order of --workers, the whole list --repeat
// times): the preprocessed cases and predictions are deleted, the workers are started (and ready), the run is
// submitted again: training and validation are skipped (their outputs are there), preprocessing and prediction run
// as jobs. Phase wall times come from the submitter's per-job lines (first `active` to last `completed` of the
// phase's jobs); CPU-seconds of the workers (their job processes included), of redis-server and of the submitter
// are read from /proc at those same lines. The workers choose their compute threads themselves (`--threads auto`:
// the machine's cores shared by the workers on it) unless --threads is given. The predictions of every queued run
// are compared byte for byte with the first one's.
//
// Usage: npm run build && nice -n 10 node bench/queue.mjs [--workers 1,2] [--repeat 1] [--threads n|auto] [--keep]
// Progress and a one-line summary on stderr, one JSON object on stdout. Needs redis-server on the PATH and Linux
// (/proc) for the CPU-seconds.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const BIN = join(root, 'packages', 'cli', 'dist', 'bin.js');
const TASK = join(root, 'examples', 'Task04_Hippocampus_subset');
const BUDGET = ['--preset', 'quick', '--epochs', '1', '--iterations-per-epoch', '2'];
const args = process.argv.slice(2);
const arg = (name, d) => (args.includes(name) ? args[args.indexOf(name) + 1] : d);
const workerCounts = arg('--workers', '1,2').split(',').map(Number);
const repeat = Number(arg('--repeat', '1'));
const threads = arg('--threads', undefined);
const log = (s) => process.stderr.write(`[bench:queue] ${s}\n`);
const round = (v, d = 1) => (v == null || Number.isNaN(v) ? null : +v.toFixed(d));
const TICK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout) || 100;

/** utime + stime of a process (all its threads) in seconds, or 0 once it is gone. */
function cpuSeconds(pid) {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / TICK;
  } catch {
    return 0;
  }
}

/** Child process ids of `pid` (from /proc). */
function childrenOf(pid) {
  const out = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const s = readFileSync(`/proc/${d}/stat`, 'utf8');
      if (Number(s.slice(s.lastIndexOf(')') + 2).split(' ')[1]) === pid) out.push(Number(d));
    } catch {
      // gone
    }
  }
  return out;
}

/**
 * Spawn a process; lines of stdout+stderr are kept with the time (ms) they arrived and, for lines `watch` accepts,
 * a CPU snapshot (`snap()`) taken at once.
 */
function proc(cmd, argv, watch = () => false, snap = () => null) {
  const child = spawn(cmd, argv, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines = [];
  let buf = '';
  const onData = (d) => {
    buf += d;
    const parts = buf.split('\n');
    buf = parts.pop();
    for (const l of parts) lines.push({ t: Date.now(), l, cpu: watch(l) ? snap() : null });
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const exited = new Promise((res) => child.on('exit', (c) => res(c ?? -1)));
  return { child, lines, exited, text: () => lines.map((x) => x.l).join('\n') };
}

async function waitLine(p, re, ms) {
  const t0 = Date.now();
  while (!p.lines.some((x) => re.test(x.l))) {
    if (Date.now() - t0 > ms) throw new Error(`timeout waiting for ${re}:\n${p.text().slice(-2000)}`);
    await sleep(100);
  }
}

async function freePort() {
  return new Promise((res) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });
}

/** CPU-seconds between two snapshots, per part and in all. */
function cpuBetween(a, b) {
  if (!a || !b) return null;
  const parts = Object.fromEntries(Object.keys(b).map((k) => [k, round(b[k] - (a[k] ?? 0), 2)]));
  return { ...parts, all: round(Object.values(parts).reduce((s, v) => s + v, 0), 2) };
}

/**
 * Wall seconds and CPU-seconds of a phase: first `active` .. last `completed` of the jobs whose id starts with
 * `prefix` (`pp.`, `predict.`), from the submitter's `[i/n] <state> <job id>` lines.
 */
function phase(lines, prefix) {
  const act = lines.filter((x) => x.l.includes(` active ${prefix}`));
  const done = lines.filter((x) => x.l.includes(` completed ${prefix}`));
  if (!act.length || !done.length) return { seconds: null, cpuSeconds: null };
  const a = act[0];
  const b = done[done.length - 1];
  const seconds = (b.t - a.t) / 1000;
  const cpu = cpuBetween(a.cpu, b.cpu);
  return { jobs: done.length, seconds: round(seconds, 2), cpuSeconds: cpu, cpuPerWall: cpu ? round(cpu.all / seconds, 2) : null };
}

/** In-process phase from the reporter's `<label>: started` .. `<label>: done in <s> s` lines (the last pair). */
function inProcessPhase(lines, label) {
  const start = lines.filter((x) => x.l.startsWith(`${label}: started`)).pop();
  const end = lines.filter((x) => x.l.startsWith(`${label}: done in`)).pop();
  const seconds = Number(/done in ([\d.]+) s/.exec(end?.l ?? '')?.[1] ?? NaN);
  const cpu = cpuBetween(start?.cpu, end?.cpu);
  return { seconds: round(seconds, 2), cpuSeconds: cpu, cpuPerWall: cpu && seconds ? round(cpu.all / seconds, 2) : null };
}

/** Contents of the predictions folder (segmentation files), for comparing runs. */
function predictionFiles(out) {
  const dir = join(out, 'predictions');
  if (!existsSync(dir)) return new Map();
  return new Map(readdirSync(dir).filter((f) => f.endsWith('.nii.gz')).sort().map((f) => [f, readFileSync(join(dir, f))]));
}

function sameFiles(a, b) {
  if (a.size !== b.size) return false;
  for (const [f, buf] of a) if (!b.get(f)?.equals(buf)) return false;
  return true;
}

async function queued(n, out, url, redisPid) {
  rmSync(join(out, 'nnUNet_preprocessed', '3d_fullres'), { recursive: true, force: true });
  rmSync(join(out, 'predictions'), { recursive: true, force: true });
  const flags = threads ? ['--threads', threads] : [];
  const workers = Array.from({ length: n }, () => proc(process.execPath, [BIN, 'worker', '--queue', url, ...flags]));
  await Promise.all(workers.map((w) => waitLine(w, /serving queue/, 180_000)));
  const pids = workers.flatMap((w) => [w.child.pid, ...childrenOf(w.child.pid)]);
  const threadsLine = workers.map((w) => /ready; (\d+) compute thread/.exec(w.text())?.[1]).map(Number);
  const load = os.loadavg();
  const t0 = Date.now();
  let sub;
  const snap = () => ({ workers: pids.reduce((s, p) => s + cpuSeconds(p), 0), redis: cpuSeconds(redisPid), submitter: cpuSeconds(sub.child.pid) });
  sub = proc(process.execPath, [BIN, 'decathlon', TASK, '-o', out, ...BUDGET, '--queue', url], (l) => / (active|completed) (pp|predict)\./.test(l), snap);
  const code = await sub.exited;
  const total = (Date.now() - t0) / 1000;
  for (const w of workers) w.child.kill('SIGTERM');
  await Promise.all(workers.map((w) => w.exited));
  if (code !== 0) throw new Error(`queued run with ${n} worker(s) failed:\n${sub.text().slice(-3000)}`);
  const perJob = workers.flatMap((w) => [...w.text().matchAll(/\.(pp|predict)\.\S+\] done in ([\d.]+) s/g)].map((m) => [m[1], Number(m[2])]));
  const mean = (k) => round(perJob.filter((x) => x[0] === k).reduce((s, x) => s + x[1], 0) / Math.max(1, perJob.filter((x) => x[0] === k).length), 3);
  const r = {
    workers: n,
    threadsPerWorker: threadsLine,
    preprocess: phase(sub.lines, 'pp.'),
    predict: phase(sub.lines, 'predict.'),
    meanJobSecondsInWorker: { preprocess: mean('pp'), predict: mean('predict') },
    submitSeconds: round(total),
    loadavgAtStart: load.map((v) => round(v, 2)),
    loadavgAtEnd: os.loadavg().map((v) => round(v, 2)),
  };
  log(JSON.stringify(r));
  return { r, predictions: predictionFiles(out) };
}

/** Ratio 1 worker / 2 workers of a run's phase value (`seconds`, or `cpuSeconds.all`). */
function ratios(runs, key, get) {
  const one = runs.filter((r) => r.workers === 1).map((r) => get(r[key]));
  const two = runs.filter((r) => r.workers === 2).map((r) => get(r[key]));
  const med = (v) => (v.length ? [...v].sort((x, y) => x - y)[Math.floor((v.length - 1) / 2)] : null);
  const a = med(one.filter((v) => v != null));
  const b = med(two.filter((v) => v != null));
  return a && b ? round(a / b, 2) : null;
}

async function setupRun(out) {
  log(`setup: in-process decathlon ${BUDGET.join(' ')} -> ${out}`);
  let setup;
  setup = proc(process.execPath, [BIN, 'decathlon', TASK, '-o', out, ...BUDGET], (l) => /^(preprocess 3d_fullres|predict): (started|done in)/.test(l), () => ({ process: cpuSeconds(setup.child.pid) }));
  if ((await setup.exited) !== 0) throw new Error(`setup failed:\n${setup.text().slice(-3000)}`);
  const inProcess = { preprocess: inProcessPhase(setup.lines, 'preprocess 3d_fullres'), predict: inProcessPhase(setup.lines, 'predict') };
  log(`in-process: ${JSON.stringify(inProcess)}`);
  return inProcess;
}

async function main() {
  if (spawnSync('redis-server', ['--version']).status !== 0) throw new Error('redis-server not found on the PATH');
  if (!existsSync(BIN)) throw new Error(`${BIN} not found: build first (npm run build)`);
  const port = await freePort();
  const redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  const url = `redis://127.0.0.1:${port}`;
  const dir = mkdtempSync(join(os.tmpdir(), 'nnunet-bench-queue-'));
  const out = join(dir, 'run');
  const loadavgAtStart = os.loadavg();
  const t0 = Date.now();
  try {
    const inProcess = await setupRun(out);
    const runs = [];
    let first;
    const identical = [];
    for (let i = 0; i < repeat; i++) {
      for (const n of workerCounts) {
        const { r, predictions } = await queued(n, out, url, redis.pid);
        if (!first) first = predictions;
        else identical.push(sameFiles(first, predictions));
        runs.push(r);
      }
    }
    const speedup2vs1 = {
      preprocessWall: ratios(runs, 'preprocess', (p) => p.seconds),
      predictWall: ratios(runs, 'predict', (p) => p.seconds),
      preprocessCpuSeconds: ratios(runs, 'preprocess', (p) => p.cpuSeconds?.all),
      predictCpuSeconds: ratios(runs, 'predict', (p) => p.cpuSeconds?.all),
      submitWall: ratios(runs, 'submitSeconds', (v) => v),
    };
    const result = {
      bench: 'queue', task: 'Task04_Hippocampus_subset', budget: BUDGET.join(' '), cases: { preprocess: 40, predict: 10 }, threadsFlag: threads ?? 'auto (default)', repeat,
      machine: { cores: os.cpus().length, cpuModel: os.cpus()[0]?.model, node: process.version, loadavgAtStart: loadavgAtStart.map((v) => round(v, 2)), loadavgAtEnd: os.loadavg().map((v) => round(v, 2)) },
      benchSeconds: round((Date.now() - t0) / 1000),
      inProcess, runs,
      predictionsIdenticalAcrossRuns: identical.every(Boolean),
      // wall: > 1 means 2 workers finished sooner; CPU-seconds: > 1 means 2 workers used fewer CPU-seconds in all
      speedup2vs1,
    };
    process.stdout.write(JSON.stringify(result, null, 2) + '\n');
    log(`2 workers vs 1 (median of ${repeat}): preprocessing ${speedup2vs1.preprocessWall}x, prediction ${speedup2vs1.predictWall}x faster (wall); CPU-seconds ratio 1/2: preprocessing ${speedup2vs1.preprocessCpuSeconds}, prediction ${speedup2vs1.predictCpuSeconds}; predictions identical: ${result.predictionsIdenticalAcrossRuns}; load ${result.machine.loadavgAtStart[0]} -> ${result.machine.loadavgAtEnd[0]}; ${result.benchSeconds} s`);
  } finally {
    redis.kill('SIGKILL');
    if (!args.includes('--keep')) rmSync(dir, { recursive: true, force: true });
    else log(`kept ${dir}`);
  }
}

main().catch((e) => {
  process.stderr.write(`${e.stack ?? e}\n`);
  process.exit(1);
});
