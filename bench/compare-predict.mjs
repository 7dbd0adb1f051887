#!/usr/bin/env node
// `nnunet-ts predict` with a trained model on two compute backends (issue 10: webgpu vs cpu-native), the same flags
// (--save-probabilities; --disable-tta unless --tta), compared case by case: segmentation voxels that differ, the
// largest absolute difference of the saved probabilities, and at every differing voxel the winning margin (top-1
// minus top-2 probability) on side a, which tells a float tie from a real disagreement. Each backend runs in a child
// process of its own (so CPU seconds are that backend's: Dawn's SwiftShader threads included) with `--continue`,
// so a killed comparison resumes where it stopped when run again with the same --work folder.
// Usage: node bench/compare-predict.mjs -m <model folder> [-i examples/Task04_Hippocampus_subset/imagesTs]
//          [--cases 10 | --case-list hippocampus_008,hippocampus_020] [--a cpu-native] [--b webgpu] [--tta]
//          [--work <folder>] [--out result.json] [--compare-only]
// Exits 1 when a segmentation voxel differs or a probability differs by --tol (default 1e-4) or more.
import os from 'node:os';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, statSync, symlinkSync, existsSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { round } from './lib.mjs';

const args = process.argv.slice(2);
const opt = (k, d) => {
  const i = args.indexOf(k);
  return i >= 0 ? args[i + 1] : d;
};
const log = (s) => process.stderr.write(`[compare-predict] ${s}\n`);
const load = () => os.loadavg().map((v) => round(v, 2));

// Child mode: one `predict` in this process; prints {backend, seconds, cpuSeconds, load} as the last stdout line.
if (args[0] === '--one') {
  const { runCli } = await import('@nnunet-ts/cli');
  const cli = args.slice(1);
  const loadStart = load();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const code = await runCli(cli, { out: (s) => process.stderr.write(s + '\n') });
  const cpu = process.cpuUsage(cpu0);
  const res = { code, seconds: round((performance.now() - t0) / 1000, 1), cpuSeconds: round((cpu.user + cpu.system) / 1e6, 1), loadStart, loadEnd: load() };
  process.stdout.write(JSON.stringify(res) + '\n');
  process.exit(code);
}

const model = opt('-m');
if (!model) throw new Error('usage: node bench/compare-predict.mjs -m <model folder> [-i <images>] [--cases n] [--tta] [--work dir] [--out f.json]');
const input = resolve(opt('-i', 'examples/Task04_Hippocampus_subset/imagesTs'));
const names = [opt('--a', 'cpu-native'), opt('--b', 'webgpu')];
const tta = args.includes('--tta');
const tol = Number(opt('--tol', 1e-4));
const work = resolve(opt('--work') ?? mkdtempSync(join(os.tmpdir(), 'compare-predict-')));
const all = readdirSync(input).filter((f) => /\.nii(\.gz)?$/.test(f)).sort();
const list = opt('--case-list');
const files = list ? list.split(',').map((id) => all.find((f) => f.startsWith(id + '.') || f.startsWith(id + '_0000.'))) : all.slice(0, Number(opt('--cases', all.length)));
if (!files.length || files.some((f) => !f)) throw new Error(`cases not found in ${input}: ${list ?? '(none)'}`);

// The chosen cases as a folder of links (predict -i takes a folder; plain names are fine for a 1-channel model).
const inDir = join(work, 'images');
mkdirSync(inDir, { recursive: true });
for (const f of files) if (!existsSync(join(inDir, f))) symlinkSync(join(input, f), join(inDir, f));

// No calibration before predicting (it runs 3 tile forwards: minutes on a software GPU).
const noEstimate = join(work, 'no-estimate.json');
writeFileSync(noEstimate, JSON.stringify({ estimate: false }));

/** `predict` on `backend` in a child process; seconds per case from the outputs' modification times. */
async function predictOn(backend) {
  const outDir = join(work, `pred-${backend}`);
  const cli = ['predict', '-i', inDir, '-o', outDir, '-m', resolve(model), '--save-probabilities', '--continue', '--backend', backend, '--config', noEstimate, ...(tta ? [] : ['--disable-tta'])];
  log(`${backend}: nnunet-ts ${cli.join(' ')}`);
  const started = Date.now();
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), '--one', ...cli], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let description = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => {
    const s = String(d);
    description ||= /compute backend: (.*)/.exec(s)?.[1] ?? '';
    process.stderr.write(s);
  });
  const code = await new Promise((r) => child.on('close', r));
  if (code !== 0) throw new Error(`predict --backend ${backend} failed (exit ${code})`);
  const res = JSON.parse(out.trim().split('\n').at(-1));
  const done = readdirSync(outDir).filter((f) => f.endsWith('.nii.gz')).map((f) => ({ f, t: statSync(join(outDir, f)).mtimeMs })).sort((a, b) => a.t - b.t);
  const perCase = done.filter((d) => d.t >= started).map((d, i, a) => ({ case: d.f.replace(/\.nii\.gz$/, ''), seconds: round((d.t - (i ? a[i - 1].t : started)) / 1000, 1) }));
  return { backend, description, outDir, ...res, casesPredictedNow: perCase.length, perCaseSeconds: perCase };
}

// --compare-only: no prediction, compare the cases both output folders already hold (e.g. of a run stopped midway).
const compareOnly = args.includes('--compare-only');
const runs = [];
for (const b of names) runs.push(compareOnly ? { backend: b, outDir: join(work, `pred-${b}`) } : await predictOn(b));
const have = (r, id) => existsSync(join(r.outDir, `${id}.nii.gz`)) && existsSync(join(r.outDir, `${id}.npz`));

const core = await import('@nnunet-ts/core');
const { createDefaultRegistry } = await import('@nnunet-ts/cli');
const registry = createDefaultRegistry();
const cases = [];
for (const f of files) {
  const id = f.replace(/(_0000)?\.nii(\.gz)?$/, '');
  if (compareOnly && !runs.every((r) => have(r, id))) continue;
  const [sa, sb] = await Promise.all(runs.map((r) => core.readImage(registry, join(r.outDir, `${id}.nii.gz`))));
  const [pa, pb] = runs.map((r) => core.readNpz(join(r.outDir, `${id}.npz`), 'probabilities'));
  const K = pa.shape[0];
  const n = pa.data.length / K;
  let maxProbDiff = 0;
  for (let i = 0; i < pa.data.length; i++) maxProbDiff = Math.max(maxProbDiff, Math.abs(pa.data[i] - pb.data[i]));
  let differ = 0;
  let maxMarginAtDiffer = 0;
  for (let i = 0; i < sa.data.length; i++) {
    if (sa.data[i] === sb.data[i]) continue;
    differ++;
    if (sa.data.length !== n) continue; // probabilities on another grid: no margin
    const p = Array.from({ length: K }, (_, k) => pa.data[k * n + i]).sort((x, y) => y - x);
    maxMarginAtDiffer = Math.max(maxMarginAtDiffer, p[0] - p[1]);
  }
  cases.push({ case: id, voxels: sa.data.length, differ, maxProbDiff: +maxProbDiff.toExponential(2), maxMarginAtDiffer: differ ? +maxMarginAtDiffer.toExponential(2) : null });
}

if (!cases.length) throw new Error(`no case predicted on both ${names.join(' and ')} in ${work}`);

const result = {
  model: resolve(model), input, tta, flags: `--save-probabilities${tta ? '' : ' --disable-tta'}`, work,
  runs: runs.map(({ outDir: _outDir, ...r }) => r),
  cases,
  totals: { cases: cases.length, voxels: cases.reduce((s, c) => s + c.voxels, 0), differ: cases.reduce((s, c) => s + c.differ, 0), maxProbDiff: Math.max(...cases.map((c) => c.maxProbDiff)) },
  machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, loadavgEnd: load() },
};
result.pass = result.totals.differ === 0 && result.totals.maxProbDiff < tol;
const json = JSON.stringify(result, null, 2);
const out = opt('--out');
if (out) writeFileSync(out, json + '\n');
process.stdout.write(json + '\n');
log(`${result.totals.cases} case(s): ${result.totals.differ} voxel(s) differ, max probability difference ${result.totals.maxProbDiff} (tolerance ${tol}): ${result.pass ? 'PASS' : 'FAIL'}`);
process.exit(result.pass ? 0 : 1);
