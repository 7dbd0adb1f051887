/**
 * The time-budget planner's promise (issue 16), with injected measurements (no timing): the plan it returns fits what
 * is left of the budget with the estimates it prints, when the host work measured at the pick's own spacing changes
 * the picture, and a floor that cannot fit is refused before any work.
 */
import { describe, expect, it } from 'vitest';
import {
  RUNTIME_BYTES, networkCost, overBudget, planForTimeBudget, trainingBytes, trainingDataBytes, trainingUnits,
  type Calibration, type ComputeBackend, type DatasetFingerprint, type DatasetJson, type HostCalibration, type HostRates, type Plans,
} from '@nnunet-ts/core';
import { createDefaultRegistry } from '@nnunet-ts/cli';
import { ANISO_GRIDS } from './fixtures/anisotropic.js';

const dataset: DatasetJson = { channel_names: { 0: 'T1c', 1: 'FLAIR' }, labels: { background: 0, oedema: 1, tumour: 2 }, numTraining: 7, file_ending: '.nii.gz', name: 'Dataset901_Aniso' };
// the anisotropic set of tests/fixtures/anisotropic.ts: 7 training cases alternating the two grids, no crop
const fingerprint: DatasetFingerprint = {
  foreground_intensity_properties_per_channel: Object.fromEntries([0, 1].map((c) => [String(c), { max: 1000, mean: 500, median: 500, min: 0, percentile_00_5: 100, percentile_99_5: 900, std: 100 }])),
  median_relative_size_after_cropping: 1,
  shapes_after_crop: [0, 1, 2, 3, 4, 5, 6].map((i) => [...ANISO_GRIDS[i % 2]!.shape]),
  spacings: [0, 1, 2, 3, 4, 5, 6].map((i) => [...ANISO_GRIDS[i % 2]!.spacing]),
};
const backend = { info: { name: 'fake-cpu', description: 'injected measurements', gpu: false } } as unknown as ComputeBackend;

/** A calibration of a candidate: `fixed + perUnit x` its training units per iteration, of it `data` s loading. */
function fakeNetwork(fixed: number, perUnit: number, data = 0) {
  return async (plans: Plans, configuration: string): Promise<Calibration> => {
    const cfg = { ...plans.configurations[plans.configurations[configuration]!.inherits_from ?? configuration], ...plans.configurations[configuration] };
    const patch = cfg.patch_size!;
    const batch = cfg.batch_size ?? 2;
    const units = trainingUnits(cfg.architecture!, patch, batch, 2, 3);
    const tileFlops = networkCost(cfg.architecture!, patch, 2, 3, false).forwardFlops;
    return {
      key: JSON.stringify([configuration, patch, batch]), backend: 'fake-cpu', patchSize: [...patch], batchSize: batch, secondsPerIteration: fixed + perUnit * units, dataSecondsPerIteration: data,
      secondsPerTile: fixed / 4 + (perUnit * units * tileFlops) / units / batch / 3, tileWarmupSeconds: 0, trainingBytes: 0, trainingUnits: units, tileFlops, activationElements: 1, measuredAt: new Date().toISOString(), loadAverage: 0,
    };
  };
}

const ZERO: HostRates = { read: 0, preprocess: 0, resampleData: 0, export: 0, resampleProbabilities: 0, write: 0, preprocessCase: 0, resampleCase: 0 };

/** Host work per configuration: `rates[configuration]` (missing: none); each call recorded with the plan's spacing. */
function fakeHost(rates: Record<string, Partial<HostRates>>, calls: string[]) {
  return async (plans: Plans, configuration: string): Promise<HostCalibration> => {
    calls.push(`${configuration} [${plans.configurations[configuration]!.spacing!.map((v) => v.toFixed(3)).join(', ')}]`);
    return { key: configuration, sampleShape: [1, 1, 1], sampleShapeAtConfiguration: [1, 1, 1], rates: { ...ZERO, ...rates[configuration] }, predictWarmupSeconds: 0, parts: {}, measuredAt: '', loadAverage: 0 };
  };
}

/** planForTimeBudget for the quick preset (30 minutes, 480-810 iterations in epochs of 30, fold 0, 2 validation and 2 test cases). */
function plan(host: ReturnType<typeof fakeHost>, log: string[]) {
  return planForTimeBudget({
    registry: createDefaultRegistry(), backend, fingerprint, dataset, budgetSeconds: 1800, folds: 1, iterationsPerEpoch: 30, validationIterations: 6, maxIterations: 810, minIterations: 480,
    mirror: true, stepSize: 0.5, validationCases: 2, testCases: 2, memoryBytes: 64 * 2 ** 30,
    // 0.3 s per iteration plus 2e-11 s per training unit: 3.25 s for 2d 224x224 batch 2, 122.6 s for nnU-Net's 3d_fullres
    measure: { network: fakeNetwork(0.3, 2e-11), host },
    log: (s) => log.push(s),
    now: () => 0, // planning takes no time: the results do not depend on this machine's speed
  });
}
const total = (d: { estimates: { seconds: number }[] }) => d.estimates.reduce((a, e) => a + e.seconds, 0);

describe('the time-budget plan fits the budget left with the estimates it prints (anisotropic two-channel set, quick preset)', () => {
  it('host work as cheap at every spacing: the 2d plan at twice nnU-Net\'s in-plane spacing, host measured at nnU-Net\'s spacing and the pick\'s', async () => {
    const calls: string[] = [];
    const log: string[] = [];
    const d = await plan(fakeHost({}, calls), log);
    expect([d.configuration, d.spacingFactor, d.patchSize, d.batchSize, d.mirror]).toEqual(['2d', 2, [224, 224], 2, false]);
    expect(d.epochs * d.iterationsPerEpoch).toBe(480);
    expect(calls).toEqual(['3d_fullres [6.500, 0.430, 0.430]', '2d [0.860, 0.860]']);
    expect(total(d)).toBeLessThanOrEqual(d.budgetSeconds - d.secondsBeforeStages);
    // a calibration in this process needed more memory than training the pick: said, with the model's figure
    expect(log.join('\n')).toContain('time budget: calibrating 3d_fullres patch 14x128x128, batch 2 needed about 3.6 GiB (modelled), more than training the plan chosen');
  });

  it('host work dearer at the pick\'s spacing than at nnU-Net\'s: picked again with those rates, a coarser 2d plan that fits', async () => {
    // resampling at 1e-7 s per voxel pass for 2d (preprocessing, and around each prediction), none for 3d_fullres
    const calls: string[] = [];
    const log: string[] = [];
    const d = await plan(fakeHost({ '2d': { resampleData: 1e-7, resampleProbabilities: 1e-7, resampleCase: 1e-7 } }, calls), log);
    // with the rates measured at nnU-Net's spacing the pick was 2d at x2 (the test above); at its own rates it does not
    // fit, so the rates of x2 stand in for the other spacings and x4 is picked and measured
    expect(calls).toEqual(['3d_fullres [6.500, 0.430, 0.430]', '2d [0.860, 0.860]', '2d [1.720, 1.720]']);
    expect([d.configuration, d.spacingFactor, d.patchSize, d.batchSize]).toEqual(['2d', 4, [128, 128], 6]);
    expect(d.epochs * d.iterationsPerEpoch).toBeGreaterThanOrEqual(480);
    expect(d.estimates.find((e) => e.stage === 'preprocess')!.detail).toBe('7 cases (host work measured on this machine)');
    expect(total(d)).toBeLessThanOrEqual(d.budgetSeconds - d.secondsBeforeStages);
    expect(log.join('\n')).toMatch(/2d, spacing \[1\.720, 1\.720\] \(nnU-Net's fine axes x4\), patch 128x128, batch 6/);
  });

  it('no plan fits the 480-iteration floor with the host work measured at its spacing: refused before any work, with the budget that fits', async () => {
    const calls: string[] = [];
    const err = await plan(fakeHost({ '2d': { resampleData: 4e-7, resampleProbabilities: 4e-7, resampleCase: 4e-7 } }, calls), []).then(() => null, (e: Error) => e);
    expect(err?.name).toBe('DataError');
    expect(err!.message).toMatch(/^the time budget of 30m 00s is too small for this dataset on this machine: the cheapest plan needs a budget of about (3\dm \d\ds)/);
    expect(err!.message).toContain('(480 training iterations per fold, 1 fold(s), preprocessing and 4 predictions');
    expect(calls.length).toBeLessThanOrEqual(4);
  });
});

describe('the estimates printed before a run under a time budget', () => {
  it('warn when they total more than what is left of it (a measurement taken again, a resumed run)', () => {
    const c = { budget: { timeBudgetSeconds: 1800, minIterations: 480 } as never, startedAt: 0 };
    const est = [{ stage: 'train 2d', seconds: 1500, detail: '' }, { stage: 'validation', seconds: 146, detail: '' }];
    // 200 s after the start: 1600 s left, 1646 s estimated
    expect(overBudget(c, est, 200_000)).toBe(
      'warning: these estimates total 27m 26s, more than the 26m 40s left of the 30m 00s time budget: expect the run to end about 46s late ' +
        '(training never stops before 480 iterations per fold); give a larger --time-budget, train fewer folds (-f 0) or predict fewer test cases',
    );
    expect(overBudget(c, est, 100_000)).toBeNull();
    expect(overBudget({ budget: {} as never, startedAt: 0 }, est, 1e9)).toBeNull();
  });
});

describe('the peak memory of training counts the data the trainer holds', () => {
  it('2d at 0.43 mm, patch 224x224, batch 2, one data-loading worker: the network, every case once (the worker\'s copy), 3 batches', async () => {
    const plans = createDefaultRegistry().get('planner', 'nnUNetPlanner').plan(fingerprint, dataset, { gpuMemoryTargetGb: 0.25, datasetName: dataset.name });
    const cfg = plans.configurations['2d']!;
    expect([cfg.patch_size, cfg.batch_size, cfg.spacing]).toEqual([[224, 224], 2, [0.43, 0.43]]);
    // 4 cases of 24x512x512 at 0.43 mm, 3 of 25x320x260 at 0.69 mm resampled to 25x513x417; 2 float32 channels + int16 labels
    const voxels = 4 * 24 * 512 * 512 + 3 * 25 * 513 * 417;
    const batch = 2 * 224 * 224 * 10;
    const r = { plans, fingerprint, channels: 2, batchSize: 2 };
    // with workers the training thread's store is emptied after its first pass: the workers' copies count
    expect(trainingDataBytes(r, cfg, 1)).toBe(10 * voxels + 3 * batch);
    expect(trainingDataBytes(r, cfg, 0)).toBe(10 * voxels + batch);
    // the cache budget bounds what the stores keep (each of the 4 workers a quarter of it)
    expect(trainingDataBytes(r, cfg, 4, 2 ** 28)).toBe(4 * 2 ** 26 + 9 * batch);
    // 1.57 GiB in all: the runtime, the network's training memory, the worker's cases and 3 batches
    const peak = RUNTIME_BYTES + trainingBytes(cfg.architecture!, [224, 224], 2, 2, 3) + trainingDataBytes(r, cfg, 1);
    expect(peak).toBeGreaterThan(1.55 * 2 ** 30);
    expect(peak).toBeLessThan(1.6 * 2 ** 30);
  });
});
