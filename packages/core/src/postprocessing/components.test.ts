import { describe, expect, it } from 'vitest';
import { Registry } from '../registry/registry.js';
import { connectedComponents, keepLargestComponent } from './components.js';
import { determinePostprocessing } from './determine.js';
import { corePostprocessors, KEEP_LARGEST } from './plugins.js';
import { findBestConfiguration } from './best.js';

const idx = (z: number, y: number, x: number, S = 5) => (z * S + y) * S + x;

describe('connectedComponents', () => {
  it('separates blobs and counts sizes; diagonal neighbours join only with 26-connectivity', () => {
    const m = new Uint8Array(125);
    m[idx(0, 0, 0)] = 1;
    m[idx(1, 1, 1)] = 1; // diagonal to the first
    for (let x = 0; x < 5; x++) m[idx(4, 4, x)] = 1; // a line of 5
    const c26 = connectedComponents(m, [5, 5, 5], 26);
    expect(c26.count).toBe(2);
    expect(c26.sizes.slice(1).sort()).toEqual([2, 5]);
    const c6 = connectedComponents(m, [5, 5, 5], 6);
    expect(c6.count).toBe(3);
  });
  it('handles a volume with every voxel set as one component (linear time, no recursion)', () => {
    const n = 64;
    const m = new Uint8Array(n * n * n).fill(1);
    const c = connectedComponents(m, [n, n, n], 26);
    expect(c.count).toBe(1);
    expect(c.sizes[1]).toBe(n ** 3);
  });
  it('keepLargestComponent removes the smaller blob of a label only', () => {
    const s = new Int16Array(125);
    for (let x = 0; x < 4; x++) s[idx(0, 0, x)] = 1;
    s[idx(4, 4, 4)] = 1;
    s[idx(2, 2, 2)] = 2;
    const out = keepLargestComponent(s, [5, 5, 5], [1]);
    expect(out[idx(4, 4, 4)]).toBe(0);
    expect(out[idx(0, 0, 3)]).toBe(1);
    expect(out[idx(2, 2, 2)]).toBe(2);
    expect(s[idx(4, 4, 4)]).toBe(1); // input untouched
  });
});

describe('determinePostprocessing (RULES.md §19)', () => {
  it('accepts keep-largest when a spurious blob lowers Dice', () => {
    const reg = new Registry();
    for (const p of corePostprocessors()) reg.register('postprocessor', p);
    const ref = new Int16Array(125);
    for (let x = 0; x < 4; x++) ref[idx(1, 1, x)] = 1;
    const pred = ref.slice();
    pred[idx(4, 4, 4)] = 1; // false positive island
    const plan = determinePostprocessing([{ pred, ref, shape: [5, 5, 5] }], [1], reg);
    expect(plan.postprocessing_fns).toEqual([{ name: KEEP_LARGEST, kwargs: { labels_or_regions: [1] } }]);
    expect(plan.foreground_dice_before).toBeCloseTo(8 / 9, 12);
    expect(plan.foreground_dice_after).toBe(1);
  });
  it('rejects it when it removes true positives', () => {
    const reg = new Registry();
    for (const p of corePostprocessors()) reg.register('postprocessor', p);
    const ref = new Int16Array(125);
    ref[idx(0, 0, 0)] = 1;
    ref[idx(4, 4, 4)] = 1;
    const plan = determinePostprocessing([{ pred: ref.slice(), ref, shape: [5, 5, 5] }], [1], reg);
    expect(plan.postprocessing_fns).toEqual([]);
  });
});

describe('findBestConfiguration (RULES.md §20)', () => {
  it('picks the highest CV Dice; a single model wins a tie against an ensemble', () => {
    const r = findBestConfiguration(
      [{ name: '2d', members: ['2d'], foregroundDice: 0.8 }, { name: '3d_fullres', members: ['3d_fullres'], foregroundDice: 0.85 }],
      [{ name: 'ensemble', members: ['2d', '3d_fullres'], foregroundDice: 0.85 }],
    );
    expect(r.best.name).toBe('3d_fullres');
    expect(r.ranking.map((c) => c.name)).toEqual(['3d_fullres', 'ensemble', '2d']);
  });
});
