/**
 * Ensembling in find-best (RULES.md §20) without training: two fake configurations with stored validation
 * probabilities; the pair's averaged probabilities are scored, and findBestConfiguration ranks it.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  argmaxProbabilities, findBestConfiguration, loadDataset, runLayout, scoreEnsembles, silentReporter, summarize, computeMetrics,
  writeJson, writeProbabilities, readProbabilities, type MedicalImage,
} from '@nnunet-ts/core';
import { createDefaultRegistry } from '@nnunet-ts/cli';
import { makeSphereTask } from './fixtures/synthetic.js';

const tmp: string[] = [];
afterAll(() => tmp.forEach((d) => rmSync(d, { recursive: true, force: true })));

describe('ensembles of configuration pairs', () => {
  it('averages stored validation probabilities per case and beats both members when their errors differ', async () => {
    const parent = mkdtempSync(join(tmpdir(), 'nnunet-ens-'));
    tmp.push(parent);
    const reg = createDefaultRegistry();
    const writer = reg.all('writer').find((w) => w.extensions.includes('.nii.gz'))!;
    const root = await makeSphereTask(parent, (p, img, isLabel) => writer.write(p, img, { dtype: isLabel ? 'uint8' : 'float32' }), { nTrain: 2, nTest: 0, size: 12 });
    const ds = await loadDataset(root);
    const L = runLayout(join(parent, 'run'));
    const dice: Record<string, number> = {};
    for (const [k, config] of ['2d', '3d_fullres'].entries()) {
      const dir = join(L.modelDir(config), 'fold_0', 'validation');
      mkdirSync(dir, { recursive: true });
      const per = [];
      for (const c of ds.cases) {
        const ref = (await reg.get('reader', 'nifti').read(c.label!)) as MedicalImage;
        const n = ref.data.length;
        // member k is right on the voxels where (i % 2 == k) and unsure (0.4 wrong) elsewhere: the mean is right everywhere
        const probs = new Float32Array(2 * n);
        for (let i = 0; i < n; i++) {
          const truth = ref.data[i]!;
          const p = i % 2 === k ? 0.9 : 0.45;
          probs[truth * n + i] = p;
          probs[(1 - truth) * n + i] = 1 - p;
        }
        writeProbabilities(join(dir, c.id), probs, [2, ...ref.shape.slice(1)]);
        expect(readProbabilities(join(dir, c.id))!.probabilities).toEqual(probs);
        const seg = argmaxProbabilities(probs, [2, ...ref.shape.slice(1)]);
        const file = join(dir, `${c.id}.nii.gz`);
        await writer.write(file, { ...ref, data: seg }, { dtype: 'uint8' });
        per.push({ metrics: computeMetrics(seg, ref.data, [1]), prediction_file: file, reference_file: c.label! });
      }
      const s = summarize(per, [1]);
      writeJson(join(dir, 'summary.json'), s);
      dice[config] = s.foreground_mean.Dice!;
    }
    expect(dice['2d']).toBeLessThan(1);
    const ens = await scoreEnsembles(ds, ['2d', '3d_fullres'], [0], L, reg, silentReporter());
    expect(ens).toHaveLength(1);
    expect(ens[0]!.name).toBe('ensemble(2d, 3d_fullres)');
    expect(ens[0]!.foregroundDice).toBe(1);
    const best = findBestConfiguration(
      [{ name: '2d', members: ['2d'], foregroundDice: dice['2d']! }, { name: '3d_fullres', members: ['3d_fullres'], foregroundDice: dice['3d_fullres']! }],
      ens,
    );
    expect(best.best.members).toEqual(['2d', '3d_fullres']);
  });
});
