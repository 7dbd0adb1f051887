import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { undertrained } from '../training/deadline.js';
import { foldsForTestPrediction, undertrainedFolds } from './undertrained-folds.js';

describe('folds a time budget stopped barely trained', () => {
  let dir: string;
  const modelDir = (c: string) => join(dir, c);
  const fold = (c: string, f: number, stop?: { iterations: number; plannedIterations: number }) => {
    mkdirSync(join(dir, c, `fold_${f}`), { recursive: true });
    const meta = { current_epoch: 5, ...(stop ? { time_budget_stop: { epochs: 1, lastEpochIterations: stop.iterations, ...stop } } : {}) };
    writeFileSync(join(dir, c, `fold_${f}`, 'checkpoint_final.json'), JSON.stringify(meta));
  };
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'undertrained-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('undertrained: below the floor and below half the plan; never without a stop', () => {
    const s = (iterations: number, plannedIterations: number) => ({ epochs: 1, lastEpochIterations: iterations, iterations, plannedIterations });
    expect(undertrained(undefined)).toBe(false);
    expect(undertrained(s(1, 55))).toBe(true); // the tester's fold_0: 1 of 55
    expect(undertrained(s(27, 55))).toBe(true);
    expect(undertrained(s(28, 55))).toBe(false); // half of a plan below the planner's floor of 50
    expect(undertrained(s(49, 810))).toBe(true);
    expect(undertrained(s(50, 810))).toBe(false);
    expect(undertrained(s(480, 810), 480)).toBe(false); // the quick preset's floor
    expect(undertrained(s(404, 810), 480)).toBe(true); // below both 480 and half of 810
    expect(undertrained(s(405, 810), 480)).toBe(false);
  });

  it('leaves out the stopped folds, warns with fold and iterations, keeps folds without a budget', () => {
    fold('3d_fullres', 0, { iterations: 1, plannedIterations: 55 });
    fold('3d_fullres', 1, { iterations: 1, plannedIterations: 55 });
    fold('3d_fullres', 2, { iterations: 55, plannedIterations: 55 });
    fold('3d_fullres', 3);
    fold('3d_fullres', 4);
    const logs: string[] = [];
    const r = foldsForTestPrediction(['3d_fullres'], modelDir, [0, 1, 2, 3, 4], undefined, (m) => logs.push(m));
    expect(r.folds).toEqual([2, 3, 4]);
    expect(r.leftOut).toEqual([
      { configuration: '3d_fullres', fold: 0, iterations: 1, plannedIterations: 55 },
      { configuration: '3d_fullres', fold: 1, iterations: 1, plannedIterations: 55 },
    ]);
    expect(logs).toEqual([0, 1].map((f) =>
      `warning: 3d_fullres fold_${f} is left out of the test-set prediction and its fold ensemble: the time budget stopped its training after 1 of 55 iterations (a larger --time-budget trains it fully)`));
  });

  it('an ensemble drops a fold either member left undertrained; no budget: every fold', () => {
    for (const f of [0, 1]) fold('2d', f);
    fold('3d_fullres', 0);
    fold('3d_fullres', 1, { iterations: 3, plannedIterations: 100 });
    expect(foldsForTestPrediction(['2d', '3d_fullres'], modelDir, [0, 1], undefined, () => {}).folds).toEqual([0]);
    expect(foldsForTestPrediction(['2d'], modelDir, [0, 1], undefined, () => {}).folds).toEqual([0, 1]);
    expect(undertrainedFolds(['2d'], modelDir, [0, 1])).toEqual([]);
  });

  it('no fold left: every fold is kept, with a warning naming them and asking for a larger budget', () => {
    fold('2d', 0, { iterations: 1, plannedIterations: 55 });
    const logged: string[] = [];
    expect(foldsForTestPrediction(['2d'], modelDir, [0], undefined, (s) => logged.push(s))).toEqual({ folds: [0], leftOut: [] });
    expect(logged).toEqual([
      'warning: every fold was stopped by the time budget before it was trained enough (2d fold_0: 1 of 55 iterations); the test set is predicted with them anyway and its Dice will be low: run again with a larger --time-budget into a new -o folder',
    ]);
  });
});
