import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { referenceBackend } from '../nn/index.js';
import { Registry } from '../registry/registry.js';
import { sphereCases, stubLoss, stubNetwork, stubPlans } from '../training/__fixtures__/stubs.js';
import { memoryCaseSource } from '../training/case-source.js';
import { createSplits } from '../training/splits.js';
import { trainFold } from '../training/train-fold.js';
import { availableFolds, loadTrainedModel } from './model.js';
import { predictValidation } from './predict-validation.js';

describe('loadTrainedModel', () => {
  it('loads every trained fold and predicts the validation cases', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'model-'));
    const registry = new Registry();
    registry.register('network', stubNetwork).register('loss', stubLoss).register('augmentation', { name: 'nnUNetNoDA', create: () => [] });
    const cases = sphereCases(5, [8, 12, 12], 3);
    const splits = createSplits(Object.keys(cases));
    const base = {
      registry, backend: referenceBackend(), plans: stubPlans([4, 8, 8], 2), configuration: '3d_fullres',
      dataset: { channel_names: { '0': 'MRI' }, labels: { background: 0, ball: 1 }, numTraining: 5, file_ending: '.nii.gz' },
      preprocessedDir: dir, splits, outputDir: dir, epochs: 1, iterationsPerEpoch: 2, validationIterations: 1,
      augmentation: 'nnUNetNoDA', cases: memoryCaseSource(cases), excludedMirrorAxes: [2],
    };
    const r0 = await trainFold({ ...base, fold: 0 });
    await trainFold({ ...base, fold: 1 });
    expect(await availableFolds(dir)).toEqual([0, 1]);
    const model = await loadTrainedModel(dir, undefined, registry, referenceBackend());
    expect(model.folds).toEqual([0, 1]);
    expect(model.networks.length).toBe(2);
    expect(model.mirrorAxes).toEqual([0, 1]);
    expect(model.networks[0]!.parameters[0]!.value).toEqual(r0.network.parameters[0]!.value);
    const seen: string[] = [];
    await predictValidation({
      model, ids: splits[0]!.val, cases: memoryCaseSource(cases),
      onCase: (id, logits, shape) => {
        seen.push(id);
        expect(shape).toEqual([2, 8, 12, 12]);
        expect(logits.length).toBe(2 * 8 * 12 * 12);
      },
    });
    expect(seen).toEqual(splits[0]!.val);
    await expect(loadTrainedModel(join(dir, 'nope'), [0], registry, referenceBackend())).rejects.toThrow(/nope: model folder does not exist/);
  });
});
