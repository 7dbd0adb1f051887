/**
 * Interruptions (docs/FAULTS.md, "Interruptions and output folders"): each stage of the CLI (planning,
 * preprocessing, training with its validation export, prediction with its export, export-nnunet) is SIGKILLed at random moments
 * of an uninterrupted run's duration; after every kill nothing partial is visible under a final name, and the same
 * command run again finishes with outputs bitwise equal to the uninterrupted run's (files holding wall-clock times
 * excepted, see NONDETERMINISTIC; training weights, which differ between two uninterrupted runs on the threaded
 * default backend, are checked for presence and by `trainingProblems`: every epoch run exactly once). KILL_POINTS sets the kill rounds per stage (default 2: three kills, the second round kills twice in a row); KILL_SEED the moments.
 */
import { cpSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runLayout } from '@nnunet-ts/core';
import { createDefaultRegistry } from '@nnunet-ts/cli';
import { makeSphereTask } from '../fixtures/synthetic.js';
import { diffSnapshots, partialFiles, runCliProcess, snapshot, trainingProblems, TRAINING_WEIGHTS } from './kill-harness.js';

const KILLS = Number(process.env.KILL_POINTS ?? 2);
let seed = Number(process.env.KILL_SEED ?? 14);
const rnd = () => {
  seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
  return seed / 2 ** 32;
};

const parent = mkdtempSync(join(tmpdir(), 'nnunet-kill-'));
afterAll(() => rmSync(parent, { recursive: true, force: true }));
let dataset = '';
const stages: { name: string; args: (run: string) => string[]; presenceOnly?: RegExp[] }[] = [
  { name: 'plan (fingerprint + plans)', args: (run) => ['plan', dataset, '-o', run] },
  { name: 'preprocess', args: (run) => ['preprocess', dataset, '-o', run, '--preset', 'tiny'] },
  { name: 'train (checkpoints, validation export)', args: (run) => ['train', dataset, '-o', run, '--preset', 'tiny', '--epochs', '2', '--iterations-per-epoch', '2'], presenceOnly: TRAINING_WEIGHTS },
  { name: 'predict (export)', args: (run) => ['predict', '-i', join(dataset, 'imagesTs'), '-o', join(run, 'pred'), '-m', runLayout(run).modelDir('3d_fullres'), '--disable-tta'] },
  { name: 'export-nnunet (checkpoint_final.pth)', args: (run) => ['export-nnunet', '-m', runLayout(run).modelDir('3d_fullres'), '-o', join(run, 'nnunet-export')] },
];
/** Reference: the run folder before each stage and after the last, and each stage's duration. */
const before: string[] = [];
const after: Record<string, string>[] = [];
const ms: number[] = [];

beforeAll(async () => {
  const writer = createDefaultRegistry().all('writer').find((w) => w.extensions.includes('.nii.gz'))!;
  dataset = await makeSphereTask(parent, (p, img, isLabel) => writer.write(p, img, { dtype: isLabel ? 'uint8' : 'float32' }), { nTrain: 3, nTest: 2, size: 16 });
  const run = join(parent, 'ref');
  for (const [i, s] of stages.entries()) {
    before.push(join(parent, `ref-before-${i}`));
    mkdirSync(run, { recursive: true });
    cpSync(run, before[i]!, { recursive: true });
    const r = await runCliProcess(s.args(run));
    expect(r.code, `${s.name}: ${r.stderr}`).toBe(0);
    ms.push(r.ms);
    after.push(snapshot(run, s.presenceOnly));
  }
}, 900_000);

describe('SIGKILL at random moments, then the same command again', () => {
  for (const [i, s] of stages.entries()) {
    it(`F-K0${i + 1}: ${s.name}: ${KILLS} kills; nothing partial visible; the rerun's outputs equal an uninterrupted run's`, async () => {
      const report: string[] = [];
      for (let k = 0; k < KILLS; k++) {
        const run = join(parent, `kill-${i}-${k}`);
        cpSync(before[i]!, run, { recursive: true });
        // kill once or twice in a row (a second kill hits the resumed run), then let it finish
        for (let n = 0; n < 1 + (k % 2); n++) {
          const at = Math.round(200 + rnd() * ms[i]!);
          const r = await runCliProcess(s.args(run), at);
          report.push(`kill at ${at} ms: ${r.signal ?? `exit ${r.code}`}`);
          expect(r.signal === 'SIGKILL' || r.code === 0, r.stderr).toBe(true);
          expect(await partialFiles(run)).toEqual([]);
        }
        const done = await runCliProcess(s.args(run));
        expect(done.code, done.stderr).toBe(0);
        expect(diffSnapshots(after[i]!, snapshot(run, s.presenceOnly)), report.join('; ')).toEqual([]);
        if (s.presenceOnly) expect(await trainingProblems(runLayout(run).modelDir('3d_fullres'), 2)).toEqual([]);
        rmSync(run, { recursive: true, force: true });
      }
    }, 1_800_000);
  }
});
