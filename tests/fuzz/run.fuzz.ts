/**
 * `npm run fuzz`: the long fuzz run (docs/FAULTS.md, "Fuzzing"). Every target runs FUZZ_RUNS inputs (default
 * 100,000) in this one process (no process per input), findings are collected instead of stopping at the first,
 * and the report goes to stdout and to tests/fuzz/report.json; the bytes of one example per finding go to
 * tests/fuzz/findings/ (turn them into fixtures under tests/fuzz/fixtures/). FUZZ_TARGETS=nifti,nrrd,... picks
 * targets; FUZZ_SEED sets the seed; FUZZ_RUNS_<TARGET> overrides the count of one target; FUZZ_REPORT the report path;
 * FUZZ_PROGRESS how often a progress line prints (default every 10,000 inputs; it gives the findings so far);
 * FUZZ_FINDINGS the findings folder; FUZZ_UNTIL (an ISO date) ends every target at that time, with the report of the inputs run so far.
 * Each target's report holds its wall and CPU seconds, the 1-minute load average at its start and end, and the commit.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { it } from 'vitest';
import { fuzz, type FuzzReport, type Target } from './engine.js';
import { niftiTarget } from './nifti-target.js';
import { dicomTarget, mhaTarget, nrrdTarget } from './itk-targets.js';
import { datasetTarget, jsonTargets } from './data-targets.js';
import { configTarget, dicomSeriesTarget, fingerprintTarget, mhdTarget, modelFolderTarget, nnunetCheckpointTarget } from './more-targets.js';

const RUNS = Number(process.env.FUZZ_RUNS ?? 100_000);
const SEED = Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31);
const work = join('/dev/shm', `nnunet-fuzz-${process.pid}`);
const out = process.env.FUZZ_FINDINGS ?? join(import.meta.dirname, 'findings');
const PROGRESS = Number(process.env.FUZZ_PROGRESS ?? 10_000);
const UNTIL = process.env.FUZZ_UNTIL ? Date.parse(process.env.FUZZ_UNTIL) : undefined;
const load = () => Math.round(loadavg()[0]! * 10) / 10;
let commit = 'unknown';
try {
  commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: import.meta.dirname, encoding: 'utf8' }).trim();
} catch {
  /* not a git checkout */
}

/** Write one finding's input bytes (when the target can give them) and its JSON (kind, detail, input) to findings/. */
function saveFinding(t: Target<unknown>, f: { kind: string; detail: string; example: unknown }, i: number): void {
  mkdirSync(out, { recursive: true });
  const b = t.bytesOf?.(f.example);
  if (b) writeFileSync(join(out, `${t.name}-${i}-${b.name}`), b.bytes);
  writeFileSync(join(out, `${t.name}-${i}.json`), JSON.stringify({ kind: f.kind, detail: f.detail, input: f.example }, null, 1));
}

it('fuzz every reader and validate', async () => {
  const all: Target<unknown>[] = [
    niftiTarget(join(work, 'nifti')), nrrdTarget(join(work, 'nrrd')), mhaTarget(join(work, 'mha')), dicomTarget(join(work, 'dicom')),
    datasetTarget(join(work, 'dataset')), ...jsonTargets(join(work, 'json')),
    mhdTarget(join(work, 'mhd')), dicomSeriesTarget(join(work, 'dicomseries')), fingerprintTarget(join(work, 'fingerprint')), configTarget(join(work, 'config')),
    nnunetCheckpointTarget(join(work, 'nnunetpth')), modelFolderTarget(join(work, 'modelfolder')),
  ] as Target<unknown>[];
  const pick = process.env.FUZZ_TARGETS?.split(',');
  const reports: (FuzzReport & { seed: number; commit: string; load: [number, number]; cpuMsPerInput: number })[] = [];
  for (const t of all.filter((t) => !pick || pick.includes(t.name))) {
    const n = Number(process.env[`FUZZ_RUNS_${t.name.toUpperCase()}`] ?? RUNS);
    const load0 = load();
    const cpu0 = process.cpuUsage();
    const r = await fuzz(t, n, SEED, false, (d, found) => {
      if (d % PROGRESS !== 0) return;
      const c = process.cpuUsage(cpu0);
      console.log(`${t.name}: ${d} inputs, ${found} finding(s) so far, ${((c.user + c.system) / 1000 / d).toFixed(2)} CPU ms/input, load ${load()}, ${new Date().toISOString()}`);
    }, UNTIL === undefined ? undefined : UNTIL - Date.now(), (f, i, d) => {
      // saved at once, so a run stopped before its report still keeps the finding and the input number
      console.log(`${t.name}: finding ${i} at input ${d}: ${f.kind}: ${f.detail.slice(0, 200)}`);
      saveFinding(t, f, i);
    });
    const rep = { ...r, seed: SEED, commit, load: [load0, load()] as [number, number], cpuMsPerInput: Math.round((r.cpuSeconds * 1e5) / Math.max(1, r.runs)) / 100 };
    reports.push(rep);
    console.log(JSON.stringify({ target: r.target, runs: r.runs, seconds: Math.round(r.seconds), cpuSeconds: Math.round(r.cpuSeconds), cpuMsPerInput: rep.cpuMsPerInput, load: rep.load, counts: r.counts, findings: r.findings.map((f) => `${f.kind} x${f.count}: ${f.detail}`) }));
    r.findings.forEach((f, i) => saveFinding(t, f, i));
    writeFileSync(process.env.FUZZ_REPORT ?? join(import.meta.dirname, 'report.json'), JSON.stringify({ seed: SEED, date: new Date().toISOString(), reports }, null, 1) + '\n');
  }
  rmSync(work, { recursive: true, force: true });
});
