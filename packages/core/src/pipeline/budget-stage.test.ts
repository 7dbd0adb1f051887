import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Plans } from '../contracts/plans.js';
import { budgetOverrunLine, checkPreprocessedSpacing, estimatesFile, validationImages } from './budget-stage.js';
import { runLayout } from './layout.js';

const dir = mkdtempSync(join(tmpdir(), 'budget-stage-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const plansAt = (spacing: number[]): Plans => ({ configurations: { '3d_fullres': { spacing, patch_size: [24, 128, 128] } } }) as unknown as Plans;

describe('a time-budget plan against data already preprocessed in the run folder', () => {
  it('is refused when it changes the spacing of preprocessed cases, naming the folder and both spacings', () => {
    const L = runLayout(join(dir, 'run'));
    const nnunet = plansAt([6.5, 0.43, 0.43]);
    const budget = plansAt([6.5, 0.86, 0.86]);
    // nothing preprocessed yet (or an empty folder): any spacing
    expect(() => checkPreprocessedSpacing(L, nnunet, budget, '3d_fullres')).not.toThrow();
    mkdirSync(L.configurationData('3d_fullres'), { recursive: true });
    expect(() => checkPreprocessedSpacing(L, nnunet, budget, '3d_fullres')).not.toThrow();
    writeFileSync(join(L.configurationData('3d_fullres'), 'case_000.json'), '{}');
    expect(() => checkPreprocessedSpacing(L, nnunet, budget, '3d_fullres')).toThrow(
      `the time budget plans 3d_fullres at spacing [6.5, 0.86, 0.86], but ${L.configurationData('3d_fullres')} holds cases preprocessed at [6.5, 0.43, 0.43]`,
    );
    // the same spacing (a smaller patch or batch only) keeps the data
    expect(() => checkPreprocessedSpacing(L, nnunet, plansAt([6.5, 0.43, 0.43]), '3d_fullres')).not.toThrow();
  });
});

describe('the validation estimate counts the tiles of the validation cases', () => {
  it("takes the fingerprint's entries of each run fold's validation cases, in the dataset's case order", () => {
    const ds = { cases: ['a', 'b', 'c', 'd'].map((id) => ({ id, images: [] })) } as never;
    const fingerprint = { spacings: [[1, 1, 1], [2, 1, 1], [3, 1, 1], [4, 1, 1]], shapes_after_crop: [[10, 1, 1], [20, 1, 1], [30, 1, 1], [40, 1, 1]] } as never;
    const splits = [{ train: ['a', 'b'], val: ['c', 'd'] }, { train: ['c', 'd'], val: ['a', 'b'] }];
    expect(validationImages({ ds, fingerprint, splits, folds: [0] })).toEqual([{ shape: [30, 1, 1], spacing: [3, 1, 1] }, { shape: [40, 1, 1], spacing: [4, 1, 1] }]);
    expect(validationImages({ ds, fingerprint, splits, folds: [0, 1] })!.map((g) => g.shape[0])).toEqual([30, 40, 10, 20]);
    // a fingerprint of other cases: unknown
    expect(validationImages({ ds, fingerprint: { spacings: [[1, 1, 1]], shapes_after_crop: [[1, 1, 1]] } as never, splits, folds: [0] })).toBeUndefined();
    expect(validationImages({ ds, fingerprint, splits: [{ train: [], val: ['zz'] }], folds: [0] })).toBeUndefined();
  });
});

describe('a run that exceeded its time budget (fresh-user finding: 35m39s of 30m, no message)', () => {
  it('says by how much and which stage ran past its estimate; nothing when the budget was kept', () => {
    const L = runLayout(join(dir, 'overrun'));
    mkdirSync(L.root, { recursive: true });
    expect(budgetOverrunLine(L, 1800, 1790, 480)).toBeNull();
    // no estimates.json: the overrun alone
    expect(budgetOverrunLine(L, 1800, 2139, 480)).toBe('time budget exceeded: the run took 35m 39s of its 30m 00s, 5m 39s over');
    writeFileSync(estimatesFile(L), JSON.stringify({
      estimated: [{ stage: 'train 3d_fullres', seconds: 1080 }, { stage: 'predict test 3d_fullres', seconds: 120 }],
      measured: { 'train 3d_fullres': 1452, 'predict test': 130 },
    }));
    expect(budgetOverrunLine(L, 1800, 2139, 480)).toBe(
      'time budget exceeded: the run took 35m 39s of its 30m 00s, 5m 39s over: train 3d_fullres took 24m 12s against 18m 00s estimated: ' +
        "this machine ran slower than calibrated (a fold stops at its deadline only after the budget's floor of 480 training iterations, minIterations)",
    );
  });
});
