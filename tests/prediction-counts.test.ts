/**
 * The decathlon's test-set prediction stage (its predict jobs through the in-process runner and the real job executor,
 * on a run folder holding nnU-Net's 3d_fullres Hippocampus model) says once how many segmentations it wrote and how
 * many it kept, on a first run, a re-run with everything done and a re-run with one output gone. It used to print
 * "predict: 1 of 1 case(s) already predicted ... kept; 0 left" once per kept case, and nothing on a first run.
 */
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { InProcessRunner, convertMsd, createJobExecutor, resolveBudget, runLayout, silentReporter, type JobGraph } from '@nnunet-ts/core';
import { createDefaultRegistry } from '@nnunet-ts/cli';
import { EXAMPLE_TASK, sharedPath } from './helpers/paths.js';

const tmp = mkdtempSync(join(tmpdir(), 'nnunet-predict-counts-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('decathlon test-set prediction: one line for the stage', () => {
  it('written and kept are counted for the stage, not said per case', { timeout: 600_000 }, async () => {
    const model = sharedPath('models', 'Dataset004_Hippocampus', 'nnUNetTrainer_16x30__nnUNetPlans__3d_fullres');
    const ds = await convertMsd(EXAMPLE_TASK, join(tmp, 'Dataset004_Hippocampus'));
    const L = runLayout(join(tmp, 'run'));
    mkdirSync(dirname(L.plans), { recursive: true });
    mkdirSync(L.results, { recursive: true });
    copyFileSync(join(model, 'plans.json'), L.plans);
    const ids = ds.cases.map((c) => c.id);
    writeFileSync(L.splits, JSON.stringify([{ train: ids.slice(8), val: ids.slice(0, 8) }]));
    symlinkSync(model, L.modelDir('3d_fullres'), 'dir');
    writeFileSync(L.bestModel, JSON.stringify({ best: { name: '3d_fullres', members: ['3d_fullres'], foregroundDice: 0.8 }, folds: [0] }));
    writeFileSync(L.runInfo, JSON.stringify({ task: ds.root, dataset: ds.root }));
    const test = ds.testCases.slice(0, 2).map((c) => c.id);
    const graph: JobGraph = {
      runKey: 'k',
      run: { out: L.root, dataset: ds.root, budget: resolveBudget('tiny', { mirror: false }), backend: 'cpu-native', configurations: ['3d_fullres'], folds: [0] },
      waves: [test.map((id) => ({ id: `predict.${id}`, kind: 'predict' as const, caseId: id }))],
    };
    const execute = createJobExecutor({ registry: createDefaultRegistry(), backend: 'cpu-native' });
    const predictLines = async (): Promise<string[]> => {
      const logs: string[] = [];
      await new InProcessRunner(execute, silentReporter((s) => logs.push(s))).run(graph);
      return logs.filter((l) => l.startsWith('predict'));
    };
    const kept = 'predicted earlier by the same model from the same images';

    expect(await predictLines()).toEqual([`predict: wrote 2 segmentation(s) to ${L.predictions}`]);
    expect(readdirSync(L.predictions).filter((n) => !n.startsWith('.')).sort()).toEqual(test.map((id) => `${id}.nii.gz`));
    // everything done: one line (was: "predict: 1 of 1 case(s) already predicted in ..., kept; 0 left" per case)
    expect(await predictLines()).toEqual([`predict: wrote 0 segmentation(s) to ${L.predictions}; kept 2 already there (${kept})`]);
    rmSync(join(L.predictions, `${test[1]}.nii.gz`));
    expect(await predictLines()).toEqual([`predict: wrote 1 segmentation(s) to ${L.predictions}; kept 1 already there (${kept})`]);
  });
});
