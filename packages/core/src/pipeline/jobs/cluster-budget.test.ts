/**
 * A time budget on a SLURM cluster: the array's tasks train the folds side by side after queue waits, so each gets
 * its share of the budget's training time from its own start (`trainingSecondsPerTask`), carried by the job graph in
 * place of the wall-clock `trainingEndsAt` of a run on one machine, and written into the training scripts.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { RunSpec } from '../../contracts/jobs.js';
import type { Plans } from '../../contracts/plans.js';
import type { Dataset } from '../../dataset/types.js';
import { trainingDeadline, trainingSecondsPerTask } from '../budget-stage.js';
import { resolveBudget } from '../presets.js';
import { jobTrainingDeadline } from './execute.js';
import { decathlonJobGraph } from './graph.js';
import { clusterJobGraph, readJobGraph, writeSlurmScripts } from './slurm.js';

const tmp = mkdtempSync(join(tmpdir(), 'cluster-budget-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** A `time_budget` record of a 1h budget: 100 s before the stages, 300 s preprocessing, 200 s validation, 100 s test prediction. */
const RECORD = {
  budget_seconds: 3600, seconds_before_stages: 100, configuration: '3d_fullres', epochs: 20, iterations_per_epoch: 30,
  estimates: [{ stage: 'preprocess', seconds: 300 }, { stage: 'train 3d_fullres', seconds: 2400 }, { stage: 'validation', seconds: 200 }, { stage: 'predict test', seconds: 100 }],
};

describe("a training task's share of a time budget", () => {
  it('is the training time of the one-machine plan less what comes before training, per fold', () => {
    // 3600 x 0.96 - 1.5 x (200 + 100) - 100 - 300 = 2606 s of training, for 1 or 2 folds
    expect(trainingSecondsPerTask(RECORD, 1)).toBeCloseTo(2606, 9);
    expect(trainingSecondsPerTask(RECORD, 2)).toBeCloseTo(1303, 9);
    // the one-machine deadline keeps the same reserve after training (the time before it counts from the run's start)
    expect((trainingDeadline(RECORD, 0)! / 1000) - 100 - 300).toBeCloseTo(2606, 9);
    // nothing left: 0 (the trainer's minIterations floor still applies); no record: null
    expect(trainingSecondsPerTask({ ...RECORD, seconds_before_stages: 4000 }, 1)).toBe(0);
    expect(trainingSecondsPerTask(undefined, 1)).toBeNull();
  });

  it('a training job counts it from its own start; a run on one machine keeps its shared deadline', () => {
    const base: RunSpec = { out: '/r', dataset: '/d', budget: resolveBudget('tiny'), backend: 'auto', configurations: ['3d_fullres'], folds: [0, 1] };
    expect(jobTrainingDeadline({ ...base, trainingSecondsPerTask: 1303 }, 1, 1_000_000)).toEqual({ trainingEndsAt: 1_000_000 + 1_303_000, runFolds: [1] });
    expect(jobTrainingDeadline({ ...base, trainingEndsAt: 5_000_000 }, 1, 1_000_000)).toEqual({ trainingEndsAt: 5_000_000, runFolds: [0, 1] });
    expect(jobTrainingDeadline(base, 1)).toEqual({});
  });
});

describe('the job graph and scripts of a cluster run', () => {
  const plans = { configurations: { '3d_fullres': { data_identifier: 'x' } } } as unknown as Plans;
  const ds = { root: '/d', json: {}, cases: ['a', 'b'].map((id) => ({ id, images: [], label: 'l' })), testCases: [] } as unknown as Dataset;

  it('with a time budget: the wall-clock deadline becomes a per-task share, in jobs.json and in the training script', () => {
    const out = join(tmp, 'budget');
    const budget = { ...resolveBudget('quick'), configurations: ['3d_fullres'], epochs: 20, iterationsPerEpoch: 30 };
    const graph = decathlonJobGraph({ out, dataset: '/d', budget, backend: 'auto', configurations: ['3d_fullres'], folds: [0, 1], trainingEndsAt: 123 }, ds, plans);
    const cluster = clusterJobGraph(graph, RECORD);
    expect(cluster.run.trainingEndsAt).toBeUndefined();
    expect(cluster.run.trainingSecondsPerTask).toBe(1303);
    expect(cluster.waves).toEqual(graph.waves);
    const s = writeSlurmScripts(cluster, 'nnunet-ts');
    expect(readJobGraph(out).run).toEqual(cluster.run);
    const train = readFileSync(s.scripts[1]!, 'utf8');
    expect(train).toContain(`# each task trains its fold 20 epochs x 30 iterations (the run's budget, in ${join(out, 'jobs.json')})\n`);
    expect(train).toContain("# time budget 30m 00s for the whole run: each task trains at most 21m 43s from its own start (the budget's training time per fold)\n");
  });

  it('without a time budget: unchanged, and the script says the epochs', () => {
    const out = join(tmp, 'plain');
    const graph = decathlonJobGraph({ out, dataset: '/d', budget: resolveBudget('tiny'), backend: 'auto', configurations: ['3d_fullres'], folds: [0] }, ds, plans);
    expect(clusterJobGraph(graph, undefined)).toBe(graph);
    const train = readFileSync(writeSlurmScripts(graph, 'nnunet-ts').scripts[1]!, 'utf8');
    expect(train).toContain('# each task trains its fold 4 epochs x 10 iterations');
    expect(train).not.toContain('time budget');
  });
});
