/**
 * `npm run fuzz`: the long fuzz run (docs/FAULTS.md, "Fuzzing"). Every target runs FUZZ_RUNS inputs (default
 * 100,000) in this one process (no process per input), findings are collected instead of stopping at the first,
 * and the report goes to stdout and to tests/fuzz/report.json; the bytes of one example per finding go to
 * tests/fuzz/findings/ (turn them into fixtures under tests/fuzz/fixtures/). FUZZ_TARGETS=nifti,nrrd,... picks
 * targets; FUZZ_SEED sets the seed; FUZZ_RUNS_<TARGET> overrides the count of one target; FUZZ_REPORT the report path.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
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
const out = join(import.meta.dirname, 'findings');

it('fuzz every reader and validate', async () => {
  const all: Target<unknown>[] = [
    niftiTarget(join(work, 'nifti')), nrrdTarget(join(work, 'nrrd')), mhaTarget(join(work, 'mha')), dicomTarget(join(work, 'dicom')),
    datasetTarget(join(work, 'dataset')), ...jsonTargets(join(work, 'json')),
    mhdTarget(join(work, 'mhd')), dicomSeriesTarget(join(work, 'dicomseries')), fingerprintTarget(join(work, 'fingerprint')), configTarget(join(work, 'config')),
    nnunetCheckpointTarget(join(work, 'nnunetpth')), modelFolderTarget(join(work, 'modelfolder')),
  ] as Target<unknown>[];
  const pick = process.env.FUZZ_TARGETS?.split(',');
  const reports: FuzzReport[] = [];
  for (const t of all.filter((t) => !pick || pick.includes(t.name))) {
    const n = Number(process.env[`FUZZ_RUNS_${t.name.toUpperCase()}`] ?? RUNS);
    const r = await fuzz(t, n, SEED, false, (d) => {
      if (d % 10000 === 0) console.log(`${t.name}: ${d} inputs, ${new Date().toISOString()}`);
    });
    reports.push(r);
    console.log(JSON.stringify({ target: r.target, runs: r.runs, seconds: Math.round(r.seconds), counts: r.counts, findings: r.findings.map((f) => `${f.kind} x${f.count}: ${f.detail}`) }));
    r.findings.forEach((f, i) => {
      mkdirSync(out, { recursive: true });
      const b = t.bytesOf?.(f.example);
      if (b) writeFileSync(join(out, `${t.name}-${i}-${b.name}`), b.bytes);
      writeFileSync(join(out, `${t.name}-${i}.json`), JSON.stringify({ kind: f.kind, detail: f.detail, input: f.example }, null, 1));
    });
    writeFileSync(process.env.FUZZ_REPORT ?? join(import.meta.dirname, 'report.json'), JSON.stringify({ seed: SEED, date: new Date().toISOString(), reports }, null, 1) + '\n');
  }
  rmSync(work, { recursive: true, force: true });
});
