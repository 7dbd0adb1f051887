/**
 * Seeded short fuzz runs for CI (docs/FAULTS.md, "Fuzzing"): every reader and `validate` on mutated inputs must
 * read correctly or fail with an error naming the file: no crash, no silently different numbers, no hang.
 * `npm run fuzz` runs the same targets with 100,000 inputs each (tests/fuzz/run.ts).
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import { fuzz, type Target } from './engine.js';
import { niftiTarget } from './nifti-target.js';
import { dicomTarget, mhaTarget, nrrdTarget } from './itk-targets.js';
import { datasetTarget, jsonTargets } from './data-targets.js';
import { configTarget, dicomSeriesTarget, fingerprintTarget, mhdTarget, modelFolderTarget, nnunetCheckpointTarget } from './more-targets.js';

const RUNS = Number(process.env.FUZZ_RUNS ?? 300);
const SEED = Number(process.env.FUZZ_SEED ?? 20261206);
const dir = join(tmpdir(), `nnunet-fuzz-ci-${process.pid}`);

describe('fuzz (seeded, short)', () => {
  it(`F-Z01: readNifti on ${RUNS} valid and mutated NIfTI-1/2 files: reads what the bytes say or names the file`, async () => {
    const r = await fuzz(niftiTarget(join(dir, 'nifti')), RUNS, SEED, false);
    expect(r.findings.map((f) => `${f.kind}: ${f.detail} x${f.count}\n${JSON.stringify(f.example)}`)).toEqual([]);
    expect(r.counts.ok).toBeGreaterThan(RUNS * 0.2);
    expect(r.counts['user-error']).toBeGreaterThan(RUNS * 0.1);
  });

  for (const [id, make] of [['F-Z02', nrrdTarget], ['F-Z03', mhaTarget], ['F-Z04', dicomTarget]] as const) {
    const name = make('/tmp').name;
    it(`${id}: readItk on ${RUNS} valid and mutated ${name} files: reads a sane image (valid ones exactly) or names the file`, async () => {
      // GDCM reads are ~20x slower than NRRD/MetaImage ones: a third of the inputs keeps CI short
      const r = await fuzz(make(join(dir, name)) as never, name === 'dicom' ? Math.ceil(RUNS / 3) : RUNS, SEED, false);
      expect(r.findings.map((f) => `${f.kind}: ${f.detail} x${f.count}\n${JSON.stringify(f.example)}`)).toEqual([]);
      expect(r.counts.ok).toBeGreaterThan(RUNS * 0.1);
    });
  }

  it(`F-Z05: loadDataset + validateDataset on ${RUNS} mutated dataset.json files: a report or an error naming the file`, async () => {
    const r = await fuzz(datasetTarget(join(dir, 'dataset')), RUNS, SEED, false);
    expect(r.findings.map((f) => `${f.kind}: ${f.detail} x${f.count}\n${JSON.stringify(f.example)}`)).toEqual([]);
  });

  it(`F-Z06: plans, splits, checkpoint and preprocessed-case readers on ${RUNS} mutated files each: no crash`, async () => {
    const found: string[] = [];
    for (const t of jsonTargets(join(dir, 'json'))) {
      const r = await fuzz(t, RUNS, SEED, false);
      found.push(...r.findings.map((f) => `${t.name} ${f.kind}: ${f.detail} x${f.count}\n${JSON.stringify(f.example)}`));
    }
    expect(found).toEqual([]);
  });
});

describe('fuzz (seeded, short): the second set of readers', () => {
  const cases: [string, string, () => Target<unknown>, number][] = [
    ['F-Z08', 'readItk on .mhd headers with a detached .raw (header mutated, .raw cut short)', () => mhdTarget(join(dir, 'mhd')) as Target<unknown>, RUNS],
    ['F-Z09', 'readDicomSeries on folders of 1-4 slices (an odd orientation, size, gap or duplicate position; a mutated slice)', () => dicomSeriesTarget(join(dir, 'dicomseries')) as Target<unknown>, Math.ceil(RUNS / 3)],
    ['F-Z10', 'checkFingerprintFile + planning on mutated dataset_fingerprint.json', () => fingerprintTarget(join(dir, 'fingerprint')) as Target<unknown>, RUNS],
    ['F-Z11', 'checkRunConfig + resolveRunOptions on mutated --config files', () => configTarget(join(dir, 'config')) as Target<unknown>, RUNS],
    ['F-Z12', "readNnunetCheckpoint on mutated nnU-Net checkpoint_final.pth (zip and pickle bytes)", () => nnunetCheckpointTarget(join(dir, 'nnunetpth')) as Target<unknown>, RUNS],
    ['F-Z13', 'readModelFolder (+ labels, postprocessing) on model folders with a mutated plans.json, dataset.json or postprocessing.json', () => modelFolderTarget(join(dir, 'modelfolder')) as Target<unknown>, RUNS],
  ];
  for (const [id, what, make, n] of cases) {
    it(`${id}: ${what}: ${n} inputs, no crash, no silent result, every error names the file`, async () => {
      const r = await fuzz(make(), n, SEED, false);
      expect(r.findings.map((f) => `${f.kind}: ${f.detail} x${f.count}\n${JSON.stringify(f.example)}`)).toEqual([]);
      expect(r.counts.ok).toBeGreaterThan(n * 0.05);
      expect(r.counts['user-error']).toBeGreaterThan(n * 0.05);
    });
  }
});

describe('fuzz findings kept as fixtures', () => {
  it('F-Z07: every input a long run found (tests/fuzz/fixtures) now reads correctly or fails naming the file', async () => {
    const fixtures = join(import.meta.dirname, 'fixtures');
    const targets: Record<string, Target<unknown>> = {
      nifti: niftiTarget(join(dir, 'fx-nifti')) as Target<unknown>, nrrd: nrrdTarget(join(dir, 'fx-nrrd')) as Target<unknown>, mha: mhaTarget(join(dir, 'fx-mha')) as Target<unknown>,
      dicom: dicomTarget(join(dir, 'fx-dicom')) as Target<unknown>, dataset: datasetTarget(join(dir, 'fx-dataset')) as Target<unknown>,
      ...Object.fromEntries(jsonTargets(join(dir, 'fx-json')).map((t) => [t.name, t as Target<unknown>])),
      modelfolder: modelFolderTarget(join(dir, 'fx-modelfolder')) as Target<unknown>, nnunetpth: nnunetCheckpointTarget(join(dir, 'fx-nnunetpth')) as Target<unknown>,
    };
    const names = readdirSync(fixtures).filter((n) => n.endsWith('.json'));
    expect(names.length).toBeGreaterThan(0);
    const bad: string[] = [];
    for (const n of names) {
      const f = JSON.parse(readFileSync(join(fixtures, n), 'utf8')) as { input: unknown };
      const target = targets[/^(?:first-run-|second-set-)?([a-z]+)-/.exec(n)![1]!]!;
      const o = await target.run(f.input);
      if (o.kind !== 'ok' && o.kind !== 'user-error') bad.push(`${n}: ${o.kind} ${o.detail}`);
    }
    expect(bad).toEqual([]);
  });
});
