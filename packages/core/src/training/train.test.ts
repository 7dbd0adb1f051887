import { mkdtempSync, readFileSync, readdirSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { referenceBackend } from '../nn/index.js';
import { Registry } from '../registry/registry.js';
import { sphereCases, stubLoss, stubNetwork, stubPlans } from './__fixtures__/stubs.js';
import { memoryCaseSource } from './case-source.js';
import { loadCheckpoint } from './checkpoint.js';
import { PatchLoader, assembleBatch } from './data-loader.js';
import { forceForeground } from './patch-sampler.js';
import { createRng } from './rng.js';
import { createSplits } from './splits.js';
import { confusionCounts, downsampleSegTo, pseudoDice } from './targets.js';
import { trainFold } from './train-fold.js';
import type { TrainFoldOptions } from './trainer-setup.js';

describe('foreground oversampling (RULES.md §15)', () => {
  it('forces samples j >= round(bs * 0.67)', () => {
    const forced = (bs: number) => Array.from({ length: bs }, (_, j) => forceForeground(j, bs)).filter(Boolean).length;
    expect([1, 2, 3, 4, 5, 9, 12].map(forced)).toEqual([0, 1, 1, 1, 2, 3, 4]);
    expect(forceForeground(1, 2)).toBe(true);
    expect(forceForeground(0, 2)).toBe(false);
  });

  it('forced windows contain foreground; windows are padded with data 0 / seg -1', async () => {
    const cases = sphereCases(3, [6, 20, 20], 2);
    const loader = new PatchLoader(new Map(Object.entries(cases)), Object.keys(cases), { patchSize: [8, 8, 8], initialPatchSize: [8, 8, 8], batchSize: 3 });
    const rng = createRng(1);
    for (let k = 0; k < 20; k++) {
      const { samples, forced } = await loader.nextBatch(rng);
      expect(forced).toEqual([false, false, true]);
      const s = samples[2]!;
      expect(s.shape).toEqual([1, 8, 8, 8]);
      expect(s.seg!.some((v) => v === 1)).toBe(true); // window around a foreground voxel
      expect(s.seg!.some((v) => v === -1)).toBe(true); // z: 6 < 8 -> padded
    }
    const b = assembleBatch((await loader.nextBatch(rng)).samples);
    expect(b.shape).toEqual([3, 1, 8, 8, 8]);
    expect(b.segShape).toEqual([3, 1, 8, 8, 8]);
    expect(Math.min(...b.seg)).toBe(0);
  });

  it('2D: picks a slice of axis 0 containing the forced label', async () => {
    const cases = sphereCases(2, [10, 16, 16], 2);
    const loader = new PatchLoader(new Map(Object.entries(cases)), Object.keys(cases), { patchSize: [8, 8], initialPatchSize: [8, 8], batchSize: 2 });
    const rng = createRng(2);
    for (let k = 0; k < 10; k++) {
      const s = (await loader.nextBatch(rng)).samples[1]!;
      expect(s.shape).toEqual([1, 1, 8, 8]);
      expect(s.seg!.includes(1), 'the forced slice window holds the label').toBe(true);
    }
  });
});

describe('targets and pseudo Dice', () => {
  it('downsamples seg nearest-exact and counts tp/fp/fn', () => {
    const seg = Int16Array.from({ length: 16 }, (_, i) => i);
    const d = downsampleSegTo(seg, [1, 1, 1, 4, 4], [1, 2, 2]);
    expect(Array.from(d.data)).toEqual([5, 7, 13, 15]);
    // logits for K=2 over 4 voxels: argmax = [1, 1, 0, 0]; target [1, 0, 1, 0]
    const logits = Float32Array.from([0, 0, 1, 1, 1, 1, 0, 0]);
    const c = confusionCounts(logits, [1, 2, 1, 1, 4], Int16Array.from([1, 0, 1, 0]));
    expect(c).toEqual({ tp: [1], fp: [1], fn: [1] });
    expect(pseudoDice(c).mean).toBeCloseTo(0.5);
    // batch of 2 (layout [n, K, ...]): sample 0 predicts [1, 0], sample 1 predicts [0, 0]; targets [1, 0] and [1, 1]
    const two = Float32Array.from([0, 1, 1, 0, /* b1 */ 1, 1, 0, 0]);
    expect(confusionCounts(two, [2, 2, 1, 1, 2], Int16Array.from([1, 0, 1, 1]))).toEqual({ tp: [1], fp: [0], fn: [2] });
  });
});

const progress0 = (dir: string) => JSON.parse(readFileSync(join(dir, 'fold_0', 'progress.json'), 'utf8')) as { train_losses: number[] };

function options(dir: string, extra: Partial<TrainFoldOptions> = {}): TrainFoldOptions {
  const registry = new Registry();
  registry.register('network', stubNetwork).register('loss', stubLoss).register('augmentation', { name: 'nnUNetNoDA', create: () => [] });
  const cases = sphereCases(6, [8, 12, 12], 3);
  return {
    registry, backend: referenceBackend(), plans: stubPlans([4, 8, 8], 2), configuration: '3d_fullres',
    dataset: { channel_names: { '0': 'MRI' }, labels: { background: 0, ball: 1 }, numTraining: 6, file_ending: '.nii.gz' },
    preprocessedDir: dir, splits: createSplits(Object.keys(cases)), fold: 0, outputDir: dir, epochs: 3, iterationsPerEpoch: 4,
    validationIterations: 2, augmentation: 'nnUNetNoDA', cases: memoryCaseSource(cases), settings: { seed: 3 }, ...extra,
  };
}

describe('trainFold with stub network and loss', () => {
  it('writes checkpoints and logs; resume gives the same weights as an uninterrupted run', async () => {
    const a = mkdtempSync(join(tmpdir(), 'train-a-'));
    const resA = await trainFold(options(a));
    expect(resA.epochsCompleted).toBe(3);
    for (const f of ['checkpoint_final.json', 'checkpoint_final.bin', 'checkpoint_latest.json', 'checkpoint_best.json', 'progress.json', 'progress.png', 'debug.json'])
      expect(existsSync(join(a, 'fold_0', f))).toBe(true);
    // nnU-Net's progress.png (a PNG of three panels) and training log (one block per epoch, 'Training done.')
    const png = readFileSync(join(a, 'fold_0', 'progress.png'));
    expect(png.subarray(1, 4).toString()).toBe('PNG');
    expect(png.readUInt32BE(16)).toBeGreaterThan(1400); // IHDR width
    expect(png.readUInt32BE(20)).toBeGreaterThan(3 * 600); // three panels stacked
    const logs = readdirSync(join(a, 'fold_0')).filter((f) => /^training_log_\d{4}_\d{1,2}_\d{1,2}_\d{2}_\d{2}_\d{2}\.txt$/.test(f));
    expect(logs.length).toBe(1);
    const text = readFileSync(join(a, 'fold_0', logs[0]!), 'utf8');
    const body = text.split('\n').filter((l) => /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{6}: /.test(l)).map((l) => l.slice(28));
    const split = options(a).splits[0]!;
    expect(body.slice(0, 3)).toEqual(['do_dummy_2d_data_aug: False ', 'Desired fold for training: 0 ', `This split has ${split.train.length} training and ${split.val.length} validation cases. `]);
    expect(text).toContain("\nThis is the configuration used by this training:\nConfiguration name: 3d_fullres\n {'");
    expect(body.filter((l) => l.startsWith('Epoch ') && !l.startsWith('Epoch time'))).toEqual(['Epoch 0 ', 'Epoch 1 ', 'Epoch 2 ']);
    expect(body).toContain('Current learning rate: 0.01 ');
    expect(body).toContain(`train_loss ${Math.round(1e4 * progress0(a).train_losses[2]) / 1e4} `);
    expect(body[body.length - 1]).toBe('Training done. ');
    expect(existsSync(join(a, 'plans.json'))).toBe(true);
    const progress = JSON.parse(readFileSync(join(a, 'fold_0', 'progress.json'), 'utf8'));
    expect(progress.train_losses.length).toBe(3);
    expect(progress.lrs[0]).toBe(0.01);
    expect(progress.lrs[1]).toBeCloseTo(0.01 * Math.pow(2 / 3, 0.9), 10);
    expect(progress.train_losses[2]).toBeLessThan(progress.train_losses[0]);
    const timing = JSON.parse(readFileSync(join(a, 'fold_0', 'debug.json'), 'utf8')).timing as { epoch: number; data_seconds: number; step_seconds: number; data_wait_fraction: number }[];
    expect(timing.map((t) => t.epoch)).toEqual([0, 1, 2]);
    for (const t of timing) {
      expect(t.data_seconds).toBeGreaterThan(0);
      expect(t.data_wait_fraction).toBeCloseTo(t.data_seconds / (t.data_seconds + t.step_seconds), 10);
    }

    const b = mkdtempSync(join(tmpdir(), 'train-b-'));
    await expect(
      trainFold(options(b, { onProgress: (p) => { if (p.phase === 'epoch' && p.epoch === 0) throw new Error('interrupted'); } })),
    ).rejects.toThrow('interrupted');
    const resumeLines: string[] = [];
    const resB = await trainFold(options(b, { resume: true, log: (s) => resumeLines.push(s) }));
    expect(resB.logs.train_losses).toEqual(resA.logs.train_losses);
    // 1-based, the same numbers as the estimate printed before ('resuming fold 0 at epoch 2/3: 2 epochs left')
    expect(resumeLines.find((l) => l.startsWith('resuming'))).toBe('resuming fold_0 at epoch 2/3: 1 of 3 epochs done (checkpoint_latest)');
    const fa = await loadCheckpoint(join(a, 'fold_0'), 'final');
    const fb = await loadCheckpoint(join(b, 'fold_0'), 'final');
    expect(fb.parameters).toEqual(fa.parameters);
    expect(fb.optimizer).toEqual(fa.optimizer);
    expect(fa.meta.inference_allowed_mirroring_axes).toEqual([0, 1, 2]);
  });

  it('a time budget deadline already passed stops the fold after minIterations, in a short last epoch, and says so', async () => {
    const d = mkdtempSync(join(tmpdir(), 'train-deadline-'));
    const lines: string[] = [];
    const res = await trainFold(options(d, { epochs: 4, iterationsPerEpoch: 5, deadline: { endsAt: Date.now() - 1000, minIterations: 3 }, log: (s) => lines.push(s) }));
    expect(res.epochsCompleted).toBe(1);
    expect(res.logs.train_losses).toHaveLength(1);
    const final = await loadCheckpoint(join(d, 'fold_0'), 'final');
    // the plans' schedule stays in num_epochs (a rerun with the same budget is not refused); the cut is recorded
    expect(final.meta.num_epochs).toBe(4);
    expect(final.meta.time_budget_stop).toEqual({ epochs: 1, lastEpochIterations: 3, iterations: 3, plannedIterations: 20 });
    expect(lines.join('\n')).toMatch(/time budget: fold_0 stops after 3 of 20 training iterations \(epoch 0 ran 3 of 5\) to keep the budget/);
    // a second call finds checkpoint_latest at the end of the shortened schedule: nothing more is trained
    const again = await trainFold(options(d, { epochs: 4, iterationsPerEpoch: 5, resume: true, deadline: { endsAt: Date.now() + 3_600_000, minIterations: 3 } }));
    expect(again.epochsCompleted).toBe(1);
  });

  it('when the floor of minIterations keeps a fold training past the deadline, the schedule line says so and by how much (fresh-user finding)', async () => {
    const d = mkdtempSync(join(tmpdir(), 'train-floor-'));
    const lines: string[] = [];
    const res = await trainFold(options(d, { epochs: 4, iterationsPerEpoch: 5, deadline: { endsAt: Date.now() - 1000, minIterations: 10 }, log: (s) => lines.push(s) }));
    expect(res.epochsCompleted).toBe(2);
    const line = lines.find((l) => l.startsWith('time budget: fold_0 runs'));
    expect(line).toMatch(new RegExp('^time budget: fold_0 runs 2 of the 4 epochs left in its schedule \\(4 planned\\), to end by \\d\\d:\\d\\d:\\d\\d UTC: ' +
      "this machine runs slower than calibrated, and the budget's floor of 10 training iterations \\(minIterations\\) keeps it training past that deadline, " +
      'to about \\d\\d:\\d\\d:\\d\\d UTC: the time budget will be exceeded by about 1 min; the poly learning rate decays over the shorter schedule$'));
  });

  it('a deadline far away changes nothing: same weights as a run without one', async () => {
    const a = mkdtempSync(join(tmpdir(), 'train-nodl-'));
    const b = mkdtempSync(join(tmpdir(), 'train-farDl-'));
    await trainFold(options(a, { epochs: 2, iterationsPerEpoch: 2, validationIterations: 1 }));
    await trainFold(options(b, { epochs: 2, iterationsPerEpoch: 2, validationIterations: 1, deadline: { endsAt: Date.now() + 3_600_000, minIterations: 1 } }));
    const fa = await loadCheckpoint(join(a, 'fold_0'), 'final');
    const fb = await loadCheckpoint(join(b, 'fold_0'), 'final');
    expect(fb.parameters).toEqual(fa.parameters);
    expect(fb.meta.time_budget_stop).toBeUndefined();
  });

  it('reports a corrupt checkpoint by file name (B45)', async () => {
    const d = mkdtempSync(join(tmpdir(), 'train-c-'));
    await trainFold(options(d, { epochs: 1, iterationsPerEpoch: 1, validationIterations: 1 }));
    const bin = join(d, 'fold_0', 'checkpoint_latest.bin');
    const bytes = readFileSync(bin);
    bytes[bytes.length - 3] ^= 0xff;
    writeFileSync(bin, bytes);
    await expect(trainFold(options(d, { resume: true }))).rejects.toThrow(/checkpoint_latest\.bin.*corrupt/);
  });
});

describe('trainFold on a 2d configuration', () => {
  it('trains slice-wise (dims 2 network, z = 1 batches) and records 2D mirror axes', async () => {
    const d = mkdtempSync(join(tmpdir(), 'train-2d-'));
    const o = options(d, { epochs: 2, iterationsPerEpoch: 3, validationIterations: 1 });
    const shapes: number[][] = [];
    const net2d = { ...stubNetwork, dims: 2 as const, create: (i: Parameters<typeof stubNetwork.create>[0]) => {
      const n = stubNetwork.create(i);
      const fwd = n.forward.bind(n);
      n.forward = (x, t) => (shapes.push([...x.shape]), fwd(x, t));
      return n;
    } };
    o.registry.register('network', net2d);
    const plans = stubPlans([8, 8], 3);
    plans.configurations['2d'] = { ...plans.configurations['3d_fullres']!, patch_size: [8, 8] };
    const res = await trainFold({ ...o, plans, configuration: '2d' });
    expect(res.epochsCompleted).toBe(2);
    expect(shapes[0]).toEqual([3, 1, 1, 8, 8]);
    expect(res.mirrorAxes).toEqual([0, 1]);
    const ck = await loadCheckpoint(join(d, 'fold_0'), 'final');
    expect(ck.meta.dims).toBe(2);
    expect(ck.meta.patch_size).toEqual([8, 8]);
  });
});

describe('nextEma', () => {
  it('is 0.9 old + 0.1 new, starts at the first value, skips NaN', async () => {
    const { nextEma } = await import('./train-fold.js');
    expect(nextEma([], 0.5)).toBe(0.5);
    expect(nextEma([0.5], 1)).toBeCloseTo(0.55, 12);
    expect(nextEma([0.5, NaN], NaN)).toBe(0.5);
    expect(nextEma([], NaN)).toBeNaN();
  });
});

describe('CaseStore', () => {
  it('keeps cases up to the byte budget, evicting the least recently used, and re-reads on demand', async () => {
    const { CaseStore } = await import('./case-store.js');
    const cases = sphereCases(3, [4, 4, 4], 1);
    const reads: string[] = [];
    const per = 64 * 4 + 64 * 2;
    const store = new CaseStore({ load: async (id) => (reads.push(id), cases[id]!) }, 2 * per);
    const ids = Object.keys(cases);
    for (const id of ids) await store.get(id);
    expect(store.cachedBytes).toBe(2 * per);
    await store.get(ids[2]!);
    await store.get(ids[0]!);
    expect(reads).toEqual([ids[0], ids[1], ids[2], ids[0]]);
    const bad = new CaseStore({ load: async () => cases[ids[0]!]! }, 0, () => { throw new Error('checked'); });
    await expect(bad.get('x')).rejects.toThrow('checked');
    // clear (the fold's store once data-loading workers make the batches): nothing held, the next get reads again
    store.clear();
    expect(store.cachedBytes).toBe(0);
    const again = await store.get(ids[0]!);
    expect(again.data).toEqual(cases[ids[0]!]!.data);
    expect(reads).toEqual([ids[0], ids[1], ids[2], ids[0], ids[0]]);
    expect(store.cachedBytes).toBe(per);
  });
});
