// Data loading in worker threads (core BatchQueue, Piscina) makes the same batches as the training thread: every
// batch comes from its own seed (batchSeed), so 0 and 2 workers give identical batches, nnUNetDefault augmentation
// included. Needs the built dist of core and augment (the workers load them).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import * as core from '@nnunet-ts/core';
import { registerDefaults as registerAugment } from '@nnunet-ts/augment';

const dir = mkdtempSync(join(tmpdir(), 'nnunet-ts-workers-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Case i: uniform noise and a ball of label 1 (radius 4) at an offset that depends on i; -1 outside a margin. */
function sphereCase(i: number, [Z, Y, X]: number[]) {
  const rng = core.createRng(100 + i);
  const data = Float32Array.from({ length: Z * Y * X }, () => rng.normal());
  const seg = new Int16Array(Z * Y * X);
  for (let z = 0; z < Z; z++)
    for (let y = 0; y < Y; y++)
      for (let x = 0; x < X; x++) {
        const r2 = (z - Z / 2) ** 2 + (y - Y / 2 - (i % 3)) ** 2 + (x - X / 2 + (i % 2)) ** 2;
        seg[(z * Y + y) * X + x] = r2 < 16 ? 1 : z === 0 ? -1 : 0;
      }
  return { data, seg, shape: [1, Z, Y, X], properties: {} };
}

describe('data-loading workers', () => {
  it('give the same batches as the training thread (0 vs 2 workers), nnUNetDefault augmentation', async () => {
    const ids = ['c0', 'c1', 'c2', 'c3', 'c4'];
    for (const [i, id] of ids.entries()) await core.writePreprocessedCase(dir, id, sphereCase(i, [14, 20, 18]) as never);
    const registry = new core.Registry();
    registerAugment(registry);
    const factory = registry.get('augmentation', 'nnUNetDefault');
    expect(factory.workerModule).toBe('@nnunet-ts/augment');
    const patchSize = [8, 12, 12];
    const da = core.daSettings(patchSize, {});
    const options = { patchSize, dims: 3 as const, mirrorAxes: da.mirrorAxes, doDummy2D: da.doDummy2D };
    const lo = { patchSize, batchSize: 3, oversampleForeground: 0.33 };
    const loaders = { train: { ids: ids.slice(0, 4), loader: { ...lo, initialPatchSize: da.initialPatchSize } }, val: { ids: ['c4'], loader: { ...lo, initialPatchSize: patchSize } } };
    const store = new core.CaseStore(await core.defaultCaseSource(dir));
    const transforms = factory.create(options);
    const env = {
      trainLoader: new core.PatchLoader(store, loaders.train.ids, loaders.train.loader), valLoader: new core.PatchLoader(store, loaders.val.ids, loaders.val.loader),
      transforms, cascade: null, patch3: patchSize, batchSeeds: { train: 11, val: 12 },
    };
    const local = (r: core.BatchRequest) => core.makeBatch(env, r, (s, rng) => core.augmentSample(env, s, rng), (s) => s);
    const setup = { preprocessedDir: dir, cacheBytes: 2 ** 28, ...loaders, augmentation: { module: '@nnunet-ts/augment', name: 'nnUNetDefault', options }, patch3: patchSize, batchSeeds: env.batchSeeds };
    const q0 = new core.BatchQueue(local, 0, null);
    const q2 = new core.BatchQueue(local, 2, setup);
    try {
      const reqs: core.BatchRequest[] = [];
      for (const epoch of [0, 3]) for (const phase of ['train', 'val'] as const) for (let iteration = 0; iteration < 4; iteration++) reqs.push({ phase, epoch, iteration });
      // workers asked in the loop's order with prefetch, the training thread in reverse: order must not matter
      const fromWorkers = [];
      for (const r of reqs) fromWorkers.push(await q2.get(r, core.upcomingBatches(r, 4, 4)));
      const onThread = new Map<string, core.HostBatch>();
      for (const r of [...reqs].reverse()) onThread.set(JSON.stringify(r), await q0.get(r));
      reqs.forEach((r, i) => {
        const a = fromWorkers[i]!;
        const b = onThread.get(JSON.stringify(r))!;
        expect(a.x.shape).toEqual([3, 1, 8, 12, 12]);
        expect(a.segShape).toEqual([3, 1, 8, 12, 12]);
        expect(b.x.shape).toEqual(a.x.shape);
        expect(Buffer.from(a.x.data.buffer, a.x.data.byteOffset, a.x.data.byteLength).equals(Buffer.from(b.x.data.buffer, b.x.data.byteOffset, b.x.data.byteLength)), `image of ${JSON.stringify(r)}`).toBe(true);
        expect(Array.from(a.seg)).toEqual(Array.from(b.seg));
      });
      // the batches really differ from one iteration to the next, and the forced sample holds foreground
      expect(Array.from(fromWorkers[0]!.x.data.subarray(0, 50))).not.toEqual(Array.from(fromWorkers[1]!.x.data.subarray(0, 50)));
      for (const b of fromWorkers) expect(b.seg.subarray(2 * 8 * 12 * 12).some((v) => v === 1)).toBe(true);
      expect(Math.min(...fromWorkers[0]!.seg)).toBe(0); // -1 mapped to 0
    } finally {
      await q2.close();
    }
  }, 120_000);

  it('nnUNet_n_proc_DA picks the number of workers (0 = training thread); bad values are named', () => {
    expect(core.defaultDataWorkers({ nnUNet_n_proc_DA: '0' })).toBe(0);
    expect(core.defaultDataWorkers({ nnUNet_n_proc_DA: '3' })).toBe(3);
    expect(core.defaultDataWorkers({})).toBeGreaterThanOrEqual(1);
    expect(() => core.defaultDataWorkers({ nnUNet_n_proc_DA: 'two' })).toThrow(/nnUNet_n_proc_DA='two'/);
  });
});
