/**
 * A run folder and the dataset it was made from (docs/FAULTS.md F-S01..F-S04; fresh-user findings): a run folder
 * made for one dataset was silently reused for another (its plans, preprocessed cases and trained model reported as
 * the other dataset's), and a dataset edited after preprocessing went on being used in its old form. Every command
 * that reuses a run folder's derived state checks `<run>/dataset_record.json` (`checkRunDataset`).
 */
import { cpSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { runLayout, type DatasetRecord } from '@nnunet-ts/core';
import { createDefaultRegistry, runCli } from '@nnunet-ts/cli';
import { makeSphereTask } from '../fixtures/synthetic.js';

const parent = mkdtempSync(join(tmpdir(), 'nnunet-runds-'));
afterAll(() => rmSync(parent, { recursive: true, force: true }));

/** The CLI in this process: exit code, stdout, the error lines (`err`) and the progress log on stderr (`log`). */
async function cli(...args: string[]): Promise<{ code: number; out: string; err: string; log: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const log: string[] = [];
  const spy = vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => log.push(String(s)) > 0);
  try {
    const code = await runCli(args, { out: (s) => out.push(s) }, (s) => err.push(s));
    return { code, out: out.join('\n'), err: err.join('\n'), log: log.join('') };
  } finally {
    spy.mockRestore();
  }
}

const TINY = ['--preset', 'tiny', '--epochs', '1', '--iterations-per-epoch', '2'];
let A = '';

/** A copy of `src` as another dataset: folder `<dir>/<name>`, dataset.json replaced, `channels` copies of channel 0. */
function otherDataset(src: string, dir: string, name: string, json: Record<string, unknown>, channels = 1): string {
  const root = join(parent, dir, name);
  cpSync(src, root, { recursive: true });
  for (const sub of ['imagesTr', 'imagesTs']) {
    for (const f of readdirSync(join(root, sub))) {
      for (let c = 1; c < channels; c++) cpSync(join(root, sub, f), join(root, sub, f.replace('_0000.', `_${String(c).padStart(4, '0')}.`)));
    }
  }
  writeFileSync(join(root, 'dataset.json'), JSON.stringify({ numTraining: 3, file_ending: '.nii.gz', ...json }));
  return root;
}

beforeAll(async () => {
  const writer = createDefaultRegistry().all('writer').find((w) => w.extensions.includes('.nii.gz'))!;
  A = await makeSphereTask(join(parent, 'a'), (p, img, isLabel) => writer.write(p, img, { dtype: isLabel ? 'uint8' : 'float32' }), { nTrain: 3, nTest: 1, size: 16 });
}, 120_000);

const anotherHint = (B: string) => `hint: use a new --out folder for ${B}: this one holds the fingerprint, plans, preprocessed cases and models of ${A}`;
const changedHint = (run: string) =>
  `hint: use a new --out folder to fingerprint, plan, preprocess and train from the current files (the state in ${run} came from the old ones, its trained folds too); or restore the files named`;

describe('a run folder made from one dataset, used with another', () => {
  it('F-S01: decathlon, train, preprocess and plan of another dataset (other name, labels, channel count) on a decathlon run folder are refused before any work', { timeout: 600_000 }, async () => {
    const run = join(parent, 'run-a');
    const L = runLayout(run);
    const first = await cli('decathlon', A, '-o', run, ...TINY, '-q');
    expect(first.code, first.err).toBe(0);
    const record = JSON.parse(readFileSync(L.datasetRecord, 'utf8')) as DatasetRecord;
    expect(record.dataset).toBe(A);
    expect(record.json).toEqual({ name: 'Spheres', channel_names: { '0': 'MRI' }, labels: { background: 0, sphere: 1 }, file_ending: '.nii.gz', numTraining: 3 });
    expect(record.files.map((f) => f.path)).toEqual(['imagesTr/sphere_000_0000.nii.gz', 'imagesTr/sphere_001_0000.nii.gz', 'imagesTr/sphere_002_0000.nii.gz', 'labelsTr/sphere_000.nii.gz', 'labelsTr/sphere_001.nii.gz', 'labelsTr/sphere_002.nii.gz']);
    expect(record.files[0]!.sha256).toMatch(/^[0-9a-f]{64}$/);
    const runJson = readFileSync(L.runInfo, 'utf8');
    const plans = readFileSync(L.plans, 'utf8');

    const B = otherDataset(A, 'b', 'Dataset901_Organs', { name: 'Organs', channel_names: { '0': 'CT' }, labels: { background: 0, liver: 1 } });
    const expectB = `the run folder ${run} was made from another dataset: ${A} (name 'Spheres', channels {"0":"MRI"}, labels {"background":0,"sphere":1}); ${B} is name 'Organs', channels {"0":"CT"}, labels {"background":0,"liver":1}\n${anotherHint(B)}`;
    for (const args of [['decathlon', B, '-o', run, ...TINY], ['train', B, '-o', run, ...TINY], ['preprocess', B, '-o', run, '--preset', 'tiny'], ['plan', B, '-o', run], ['fingerprint', B, '-o', run]]) {
      const r = await cli(...args, '-q');
      expect(r.code, args[0]).toBe(1);
      expect(r.err, args[0]).toBe(`error: ${expectB}`);
    }
    const B2 = otherDataset(A, 'b2', 'Dataset902_Spheres2', { name: 'Spheres2', channel_names: { '0': 'T1', '1': 'T2' }, labels: { background: 0, sphere: 1 } }, 2);
    const r2 = await cli('decathlon', B2, '-o', run, ...TINY, '-q');
    expect(r2.code).toBe(1);
    expect(r2.err).toBe(`error: the run folder ${run} was made from another dataset: ${A} (name 'Spheres', channels {"0":"MRI"}, labels {"background":0,"sphere":1}); ${B2} is name 'Spheres2', channels {"0":"T1","1":"T2"}, labels {"background":0,"sphere":1}\n${anotherHint(B2)}`);
    // nothing of the run folder was rewritten for B
    expect(readFileSync(L.runInfo, 'utf8')).toBe(runJson);
    expect(readFileSync(L.plans, 'utf8')).toBe(plans);
    expect((JSON.parse(readFileSync(L.datasetRecord, 'utf8')) as DatasetRecord).dataset).toBe(A);

    // the same dataset again resumes (the decathlon's outputs reused), the record unchanged byte for byte
    const recordText = readFileSync(L.datasetRecord, 'utf8');
    const again = await cli('decathlon', A, '-o', run, ...TINY);
    expect(again.code, again.err).toBe(0);
    expect(again.log).toContain('train 3d_fullres fold 0: checkpoint_final present, skipped');
    expect(readFileSync(L.datasetRecord, 'utf8')).toBe(recordText);
  });

  it('F-S02: a run folder of an older version (no dataset_record.json) resumes with a note and is recorded; another dataset is refused by its dataset.json', { timeout: 300_000 }, async () => {
    const run = join(parent, 'run-legacy');
    const L = runLayout(run);
    expect((await cli('plan', A, '-o', run, '-q')).code).toBe(0);
    const recordText = readFileSync(L.datasetRecord, 'utf8');
    rmSync(L.datasetRecord);
    const B = otherDataset(A, 'c', 'Dataset903_Organs', { name: 'Organs', channel_names: { '0': 'CT' }, labels: { background: 0, liver: 1 } });
    const r = await cli('preprocess', B, '-o', run, '--preset', 'tiny', '-q');
    expect(r.code).toBe(1);
    expect(r.err).toBe(`error: the run folder ${run} was made from another dataset: the dataset of ${L.datasetJson} (name 'Spheres', channels {"0":"MRI"}, labels {"background":0,"sphere":1}); ${B} is name 'Organs', channels {"0":"CT"}, labels {"background":0,"liver":1}\nhint: use a new --out folder for ${B}: this one holds the fingerprint, plans, preprocessed cases and models of the dataset of ${L.datasetJson}`);
    const ok = await cli('preprocess', A, '-o', run, '--preset', 'tiny');
    expect(ok.code, ok.err).toBe(0);
    expect(ok.log).toContain(`note: ${run} has no record of the dataset it was made from (an older version made it); recorded ${A} now in ${L.datasetRecord}: later changes to its files are noticed, earlier ones cannot be`);
    expect(readFileSync(L.datasetRecord, 'utf8')).toBe(recordText);
  });
});

describe('a dataset changed after its run folder was made', () => {
  it('F-S03: an edited label, an added and a removed case are refused naming the files; the preprocessed case is not rewritten', { timeout: 300_000 }, async () => {
    const D = join(parent, 'edit', 'Dataset900_Spheres');
    cpSync(A, D, { recursive: true });
    const run = join(parent, 'run-edit');
    const L = runLayout(run);
    expect((await cli('plan', D, '-o', run, '-q')).code).toBe(0);
    expect((await cli('preprocess', D, '-o', run, '--preset', 'tiny', '-q')).code).toBe(0);
    const cached = join(L.configurationData('3d_fullres'), 'sphere_001.nntscase');
    const before = readFileSync(cached);
    const fingerprint = readFileSync(L.fingerprint, 'utf8');

    // another label in place of sphere_001's
    cpSync(join(D, 'labelsTr', 'sphere_002.nii.gz'), join(D, 'labelsTr', 'sphere_001.nii.gz'));
    const r = await cli('preprocess', D, '-o', run, '--preset', 'tiny', '-q');
    expect(r.code).toBe(1);
    expect(r.err).toBe(`error: the dataset ${D} changed since the fingerprint, plans and preprocessed cases of the run folder ${run} were made from it (recorded in ${L.datasetRecord}): labelsTr/sphere_001.nii.gz changed\n${changedHint(run)}`);
    expect(readFileSync(cached).equals(before)).toBe(true);
    const t = await cli('train', D, '-o', run, ...TINY, '-q');
    expect(t.code).toBe(1);
    expect(t.err).toContain('labelsTr/sphere_001.nii.gz changed');
    cpSync(join(A, 'labelsTr', 'sphere_001.nii.gz'), join(D, 'labelsTr', 'sphere_001.nii.gz'));

    // a 4th case (numTraining 4) added, then sphere_000 removed (numTraining 2)
    const json = JSON.parse(readFileSync(join(D, 'dataset.json'), 'utf8')) as Record<string, unknown>;
    cpSync(join(A, 'imagesTs', 'sphere_003_0000.nii.gz'), join(D, 'imagesTr', 'sphere_003_0000.nii.gz'));
    cpSync(join(A, 'labelsTs', 'sphere_003.nii.gz'), join(D, 'labelsTr', 'sphere_003.nii.gz'));
    writeFileSync(join(D, 'dataset.json'), JSON.stringify({ ...json, numTraining: 4 }));
    const added = await cli('plan', D, '-o', run, '-q');
    expect(added.code).toBe(1);
    expect(added.err).toBe(`error: the dataset ${D} changed since the fingerprint, plans and preprocessed cases of the run folder ${run} were made from it (recorded in ${L.datasetRecord}): dataset.json numTraining 3 -> 4; imagesTr/sphere_003_0000.nii.gz added; labelsTr/sphere_003.nii.gz added\n${changedHint(run)}`);
    expect(readFileSync(L.fingerprint, 'utf8')).toBe(fingerprint);
    for (const f of ['imagesTr/sphere_003_0000.nii.gz', 'labelsTr/sphere_003.nii.gz', 'imagesTr/sphere_000_0000.nii.gz', 'labelsTr/sphere_000.nii.gz']) rmSync(join(D, f));
    writeFileSync(join(D, 'dataset.json'), JSON.stringify({ ...json, numTraining: 2 }));
    const removed = await cli('decathlon', D, '-o', run, ...TINY, '-q');
    expect(removed.code).toBe(1);
    expect(removed.err).toContain(`: dataset.json numTraining 3 -> 2; imagesTr/sphere_000_0000.nii.gz removed; labelsTr/sphere_000.nii.gz removed\n`);

    // a training image that is a dangling link: validation names it (the record's check does not crash on it)
    cpSync(A, D, { recursive: true });
    rmSync(join(D, 'imagesTr', 'sphere_001_0000.nii.gz'));
    symlinkSync(join(parent, 'nowhere.nii.gz'), join(D, 'imagesTr', 'sphere_001_0000.nii.gz'));
    const dangling = await cli('preprocess', D, '-o', run, '--preset', 'tiny', '-q');
    expect(dangling.code).toBe(1);
    expect(dangling.err).toMatch(/^error: dataset validation failed:\n/);
    expect(dangling.err).toContain('sphere_001_0000.nii.gz');
    rmSync(join(D, 'imagesTr', 'sphere_001_0000.nii.gz'));

    // the files restored: the run resumes
    cpSync(A, D, { recursive: true });
    const back = await cli('preprocess', D, '-o', run, '--preset', 'tiny');
    expect(back.code, back.err).toBe(0);
    expect(back.log).toContain(`preprocess 3d_fullres: all 3 cases present in ${L.configurationData('3d_fullres')}`);
  });

  it('F-S04: an unchanged dataset, a touched file and a copy (new mtimes, same bytes) resume; only the mtimes are recorded anew', { timeout: 300_000 }, async () => {
    const run = join(parent, 'run-copy');
    const L = runLayout(run);
    expect((await cli('plan', A, '-o', run, '-q')).code).toBe(0);
    expect((await cli('preprocess', A, '-o', run, '--preset', 'tiny', '-q')).code).toBe(0);
    const recordText = readFileSync(L.datasetRecord, 'utf8');
    const old = JSON.parse(recordText) as DatasetRecord;
    const rerun = await cli('preprocess', A, '-o', run, '--preset', 'tiny');
    expect(rerun.code, rerun.err).toBe(0);
    expect(readFileSync(L.datasetRecord, 'utf8')).toBe(recordText);

    const copy = join(parent, 'copy', 'Dataset900_Spheres');
    cpSync(A, copy, { recursive: true });
    const later = new Date(Date.now() + 60_000);
    utimesSync(join(copy, 'labelsTr', 'sphere_001.nii.gz'), later, later);
    const r = await cli('preprocess', copy, '-o', run, '--preset', 'tiny');
    expect(r.code, r.err).toBe(0);
    expect(r.log).toContain(`preprocess 3d_fullres: all 3 cases present in ${L.configurationData('3d_fullres')}`);
    const now = JSON.parse(readFileSync(L.datasetRecord, 'utf8')) as DatasetRecord;
    expect(now.dataset).toBe(copy);
    expect(now.files.map((f) => [f.path, f.size, f.sha256])).toEqual(old.files.map((f) => [f.path, f.size, f.sha256]));
    expect(now.files.find((f) => f.path === 'labelsTr/sphere_001.nii.gz')!.mtimeMs).toBe(statSync(join(copy, 'labelsTr', 'sphere_001.nii.gz')).mtimeMs);
  });
});
