#!/usr/bin/env node
// Job-queue benchmark: preprocessing (40 training cases) and prediction (10 test cases, mirroring TTA) of the
// embedded example (examples/Task04_Hippocampus_subset, quick preset) through `nnunet-ts decathlon --queue` with 1
// and with 2 `nnunet-ts worker` processes on a private redis-server (127.0.0.1, free port, persistence off).
//
// Setup (not timed as queue runs): one in-process decathlon with the quick preset cut to 1 epoch x 2 iterations
// (the cost of prediction does not depend on how well the model is trained); its own preprocessing and prediction
// times are reported as `inProcess`. Then per worker count: the preprocessed cases and predictions are deleted, the
// workers are started (and ready), the run is submitted again: training and validation are skipped (their outputs
// are there), preprocessing and prediction run as jobs. Phase wall times come from the submitter's per-job lines
// (first `active` to last `completed` of the phase's jobs).
//
// Usage: npm run build && node bench/queue.mjs [--workers 1,2] [--keep]. Progress on stderr, one JSON object on
// stdout. Needs redis-server on the PATH.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
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
const log = (s) => process.stderr.write(`[bench:queue] ${s}\n`);
const round = (v, d = 1) => (v == null ? v : +v.toFixed(d));

/** Spawn a process; lines of stdout+stderr are kept with the time (ms) they arrived. */
function proc(cmd, argv) {
  const child = spawn(cmd, argv, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines = [];
  let buf = '';
  const onData = (d) => {
    buf += d;
    const parts = buf.split('\n');
    buf = parts.pop();
    for (const l of parts) lines.push({ t: Date.now(), l });
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

/** First `active` .. last `completed` of the jobs whose id starts with `prefix` (`pp.`, `predict.`), from the submitter's `[i/n] <state> <job id>` lines. */
function phase(lines, prefix) {
  const at = (state) => lines.filter((x) => x.l.includes(` ${state} ${prefix}`)).map((x) => x.t);
  const act = at('active');
  const done = at('completed');
  return act.length && done.length ? (Math.max(...done) - Math.min(...act)) / 1000 : null;
}

/** `<label>: done in <s> s` from the in-process reporter's lines. */
const doneIn = (text, label) => Number(new RegExp(`^${label}: done in ([\\d.]+) s`, 'm').exec(text)?.[1] ?? NaN);

async function queued(n, out, url) {
  rmSync(join(out, 'nnUNet_preprocessed', '3d_fullres'), { recursive: true, force: true });
  rmSync(join(out, 'predictions'), { recursive: true, force: true });
  const workers = Array.from({ length: n }, () => proc(process.execPath, [BIN, 'worker', '--queue', url]));
  await Promise.all(workers.map((w) => waitLine(w, /serving queue/, 120_000)));
  const load = os.loadavg();
  const t0 = Date.now();
  const sub = proc(process.execPath, [BIN, 'decathlon', TASK, '-o', out, ...BUDGET, '--queue', url]);
  const code = await sub.exited;
  const total = (Date.now() - t0) / 1000;
  for (const w of workers) w.child.kill('SIGTERM');
  await Promise.all(workers.map((w) => w.exited));
  if (code !== 0) throw new Error(`queued run with ${n} worker(s) failed:\n${sub.text().slice(-3000)}`);
  const r = { workers: n, preprocessSeconds: round(phase(sub.lines, 'pp.')), predictSeconds: round(phase(sub.lines, 'predict.')), submitSeconds: round(total), loadavgAtStart: load.map((v) => round(v, 2)), loadavgAtEnd: os.loadavg().map((v) => round(v, 2)) };
  log(JSON.stringify(r));
  return r;
}

async function main() {
  if (spawnSync('redis-server', ['--version']).status !== 0) throw new Error('redis-server not found on the PATH');
  const port = await freePort();
  const redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  const url = `redis://127.0.0.1:${port}`;
  const dir = mkdtempSync(join(os.tmpdir(), 'nnunet-bench-queue-'));
  const out = join(dir, 'run');
  const loadavgAtStart = os.loadavg();
  try {
    log(`setup: in-process decathlon ${BUDGET.join(' ')} -> ${out}`);
    const setup = proc(process.execPath, [BIN, 'decathlon', TASK, '-o', out, ...BUDGET]);
    if ((await setup.exited) !== 0) throw new Error(`setup failed:\n${setup.text().slice(-3000)}`);
    const inProcess = { preprocessSeconds: doneIn(setup.text(), 'preprocess 3d_fullres'), predictSeconds: doneIn(setup.text(), 'predict') };
    log(`in-process: ${JSON.stringify(inProcess)}`);
    const runs = [];
    for (const n of workerCounts) runs.push(await queued(n, out, url));
    const a = runs.find((r) => r.workers === 1);
    const b = runs.find((r) => r.workers === 2);
    const ratio = (k) => (a && b && a[k] && b[k] ? round(a[k] / b[k], 2) : null);
    const result = {
      bench: 'queue', task: 'Task04_Hippocampus_subset', budget: BUDGET.join(' '), cases: { preprocess: 40, predict: 10 },
      machine: { cores: os.cpus().length, cpuModel: os.cpus()[0]?.model, node: process.version, loadavgAtStart: loadavgAtStart.map((v) => round(v, 2)), loadavgAtEnd: os.loadavg().map((v) => round(v, 2)) },
      inProcess, runs,
      speedup2vs1: { preprocess: ratio('preprocessSeconds'), predict: ratio('predictSeconds'), submit: ratio('submitSeconds') },
    };
    process.stdout.write(JSON.stringify(result, null, 2) + '\n');
  } finally {
    redis.kill('SIGKILL');
    if (!args.includes('--keep')) rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  process.stderr.write(`${e.stack ?? e}\n`);
  process.exit(1);
});
