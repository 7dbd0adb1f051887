/**
 * InProcessRunner: a failed job does not stop its wave; failed test predictions do not stop the evaluation after
 * them (it evaluates the cases predicted), and the run fails afterwards naming each failed case with its fix.
 */
import { describe, expect, it } from 'vitest';
import type { JobGraph, JobSpec } from '../../contracts/jobs.js';
import { DataError } from '../../util/errors.js';
import { resolveBudget } from '../presets.js';
import { silentReporter } from '../progress.js';
import { InProcessRunner, JobsFailedError } from './in-process.js';

const run = { out: '/runs/r', dataset: '/data/Dataset900_X', budget: resolveBudget('tiny'), backend: 'auto', configurations: ['3d_fullres'], folds: [0] };
const predict = (id: string): JobSpec => ({ id: `predict.${id}`, kind: 'predict', caseId: id });

/** Runs `graph` with an executor that fails the jobs in `bad` with a DataError; returns the jobs run and the error. */
async function runWith(graph: JobGraph, bad: Set<string>): Promise<{ ran: string[]; error: unknown }> {
  const ran: string[] = [];
  const runner = new InProcessRunner(async (job) => {
    ran.push(job.id);
    if (bad.has(job.id)) throw new DataError('truncated gzip stream', { file: `/data/imagesTs/${job.caseId ?? job.id}.nii.gz`, hint: 'copy the file again' });
  }, silentReporter());
  const error = await runner.run(graph).then(() => undefined, (e: unknown) => e);
  return { ran, error };
}

describe('InProcessRunner', () => {
  it('failed test predictions: the other cases are predicted, the evaluation runs, then the run fails naming each case with its fix', async () => {
    const graph: JobGraph = { runKey: 'k', run, waves: [[{ id: 'find-best', kind: 'find-best' }], ['a', 'b', 'c'].map(predict), [{ id: 'evaluate', kind: 'evaluate' }]] };
    const { ran, error } = await runWith(graph, new Set(['predict.b']));
    expect(ran).toEqual(['find-best', 'predict.a', 'predict.b', 'predict.c', 'evaluate']);
    expect(error).toBeInstanceOf(JobsFailedError);
    const e = error as JobsFailedError;
    expect(e.message).toBe('1 of 3 test case(s) could not be predicted:\n  b: /data/imagesTs/b.nii.gz: truncated gzip stream\n      fix: copy the file again');
    expect(e.failed.map((f) => f.job.id)).toEqual(['predict.b']);
  });

  it('a failed evaluation after failed predictions reports both; a failed preprocessing stops before the next wave', async () => {
    const graph: JobGraph = { runKey: 'k', run, waves: [['a', 'b'].map(predict), [{ id: 'evaluate', kind: 'evaluate' }]] };
    const both = await runWith(graph, new Set(['predict.a', 'evaluate']));
    expect(both.ran).toEqual(['predict.a', 'predict.b', 'evaluate']);
    expect((both.error as JobsFailedError).failed.map((f) => f.job.id)).toEqual(['predict.a', 'evaluate']);
    expect((both.error as Error).message).toContain('1 of 2 test case(s) could not be predicted:\n  a: ');
    expect((both.error as Error).message).toContain('\n1 evaluate job(s) failed:\n  evaluate: ');

    const pp: JobGraph = { runKey: 'k', run, waves: [[{ id: 'pp.x.a', kind: 'preprocess', configuration: 'x', caseId: 'a' }, { id: 'pp.x.b', kind: 'preprocess', configuration: 'x', caseId: 'b' }], [{ id: 'train.x.0', kind: 'train', configuration: 'x', fold: 0 }]] };
    const stopped = await runWith(pp, new Set(['pp.x.a']));
    expect(stopped.ran).toEqual(['pp.x.a', 'pp.x.b']);
    expect((stopped.error as Error).message).toMatch(/^preprocessing failed for 1 case\(s\):\n {2}a: /);
  });
});
