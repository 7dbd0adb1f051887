/**
 * The estimates printed before a run (`estimateRun`, what `train` and `decathlon` print) on a run folder an earlier,
 * killed run left behind: only the work left is counted (the epochs after each fold's checkpoint_latest, the test
 * cases without a segmentation), and the peak memory is the same whether the calibration was measured in this process
 * or read from the cache.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  RUNTIME_BYTES, costCacheFile, ensureSplits, estimateRun, getConfiguration, loadRunPlans, prepareDataset, readJson, resolveBudget, runLayout, silentReporter, stage, trainingBytes, trainingDataBytes,
  type CostStageInput, type DatasetFingerprint, type StageEstimate,
} from '@nnunet-ts/core';
import { createDefaultRegistry, runCli } from '@nnunet-ts/cli';
import { makeSphereTask } from './fixtures/synthetic.js';

const parent = mkdtempSync(join(tmpdir(), 'estimates-resume-'));
beforeAll(() => {
  process.env.NNUNET_TS_CACHE = join(parent, 'cache');
});
afterAll(() => {
  delete process.env.NNUNET_TS_CACHE;
  rmSync(parent, { recursive: true, force: true });
});

describe('estimates of a restarted run', () => {
  it('count the epochs after the checkpoint and the test cases not written; the peak memory does not depend on the calibration being fresh or cached', { timeout: 600_000 }, async () => {
    const registry = createDefaultRegistry();
    const writer = registry.all('writer').find((w) => w.extensions.includes('.nii.gz'))!;
    const root = await makeSphereTask(parent, (p, img, isLabel) => writer.write(p, img, { dtype: isLabel ? 'uint8' : 'float32' }), { nTrain: 4, nTest: 2 });
    const out = join(parent, 'run');
    const L = runLayout(out);
    const errs: string[] = [];
    const cli = (...args: string[]) => runCli([...args, '-q'], { out: () => {} }, (s) => errs.push(s));
    expect(await cli('plan', root, '-o', out), errs.join('\n')).toBe(0);
    const logs: string[] = [];
    const rep = silentReporter((s) => logs.push(s));
    const ds = await prepareDataset(root, L.raw, registry, rep);
    const splits = await ensureSplits(L.splits, ds.cases.map((c) => c.id), 5, registry);
    const plans = loadRunPlans(L.plans);
    const backend = await stage(registry, 'selectDevice')(registry, 'auto', () => {});
    const c: CostStageInput = {
      ds, fingerprint: readJson<DatasetFingerprint>(L.fingerprint), plans, splits, folds: [0, 1], L, registry, backend, rep, predictsTest: true,
      budget: resolveBudget('tiny', { folds: [0, 1], epochs: 16 }),
    };
    const train = (est: StageEstimate[]) => est.find((e) => e.stage === 'train 3d_fullres')!;
    const test = (est: StageEstimate[]) => est.find((e) => e.stage === 'predict test 3d_fullres')!;

    // first start: the calibration is measured in this process
    const fresh = await estimateRun(c, ['3d_fullres']);
    expect(train(fresh).detail).toMatch(/^2 fold\(s\) x 16 x \(10 iterations at /);
    expect(test(fresh).detail).toMatch(/^2 case\(s\) at /);

    // killed after fold 0's 6th epoch and the first test case: the same command again
    mkdirSync(join(L.modelDir('3d_fullres'), 'fold_0'), { recursive: true });
    writeFileSync(join(L.modelDir('3d_fullres'), 'fold_0', 'checkpoint_latest.json'), JSON.stringify({ current_epoch: 6, num_epochs: 16 }));
    mkdirSync(L.predictions, { recursive: true });
    writeFileSync(join(L.predictions, `${ds.testCases[0]!.id}.nii.gz`), '');
    logs.length = 0;
    const resumed = await estimateRun(c, ['3d_fullres']);
    // 10 + 16 of 2 x 16 epochs, at the cached calibration's rate
    expect(train(resumed).seconds).toBeCloseTo((train(fresh).seconds * 26) / 32, 6);
    expect(train(resumed).detail).toMatch(/^resuming fold 0 at epoch 7\/16: 10 epochs left; 26 epoch\(s\) x \(10 iterations at /);
    expect(test(resumed).detail).toMatch(/^1 of 2 \(1 already written\) case\(s\) at /);
    expect(test(resumed).seconds).toBeLessThan(test(fresh).seconds);
    expect(logs.join('\n')).toContain('resuming fold 0 at epoch 7/16: 10 epochs left');
    // the total printed is that of the work left
    const total = (est: StageEstimate[]) => est.reduce((a, e) => a + e.seconds, 0);
    expect(total(resumed)).toBeLessThan(total(fresh));

    // peak memory: the plan's model, whatever the process holds (a fresh calibration left memory behind, a cached one none)
    const cfg = getConfiguration(plans, '3d_fullres');
    const model = RUNTIME_BYTES + trainingBytes(cfg.architecture!, cfg.patch_size!, cfg.batch_size!, 1, 2) +
      trainingDataBytes({ plans, fingerprint: c.fingerprint, channels: 1, batchSize: cfg.batch_size! }, cfg);
    expect(train(fresh).peakBytes).toBe(model);
    expect(train(resumed).peakBytes).toBe(model);
    // a third calibration measured again in a process whose heap has grown: the same
    rmSync(costCacheFile());
    const again = await estimateRun(c, ['3d_fullres']);
    expect(train(again).peakBytes).toBe(model);
    expect(test(again).peakBytes).toBe(test(fresh).peakBytes);
  });
});
