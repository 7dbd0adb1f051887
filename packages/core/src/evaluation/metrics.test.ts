import { describe, expect, it } from 'vitest';
import { computeMetrics, nanmean } from './metrics.js';
import { summarize, summaryToJson, parseJsonWithNaN } from './summary.js';

describe('computeMetrics', () => {
  it('gives Dice and IoU per class from known arrays', () => {
    const ref = [0, 1, 1, 1, 2, 2, 0, 0];
    const pred = [0, 1, 1, 0, 2, 0, 2, 0];
    const m = computeMetrics(pred, ref, [1, 2, [1, 2]]);
    expect(m['1']!.Dice).toBeCloseTo(0.8, 12); // tp 2, fp 0, fn 1
    expect(m['1']!.IoU).toBeCloseTo(2 / 3, 12);
    expect(m['2']!).toMatchObject({ TP: 1, FP: 1, FN: 1, TN: 5, n_pred: 2, n_ref: 2 });
    expect(m['2']!.Dice).toBeCloseTo(0.5, 12);
    expect(m['(1, 2)']!.Dice).toBeCloseTo(6 / 9, 12); // tp 3, fp 1, fn 2
  });
  it('is NaN for a class absent from both, and nanmean skips it', () => {
    const m = computeMetrics([0, 0], [0, 0], [3]);
    expect(Number.isNaN(m['3']!.Dice)).toBe(true);
    expect(nanmean([NaN, 0.5, 1])).toBe(0.75);
    expect(Number.isNaN(nanmean([NaN]))).toBe(true);
  });
  it('excludes the ignore label', () => {
    const m = computeMetrics([1, 1, 0], [1, 9, 0], [1], 9);
    expect(m['1']!.Dice).toBe(1);
  });
  it('summarizes like nnU-Net (mean per class, foreground_mean over classes) and writes NaN', () => {
    const a = computeMetrics([1, 0], [1, 0], [1, 2]);
    const b = computeMetrics([0, 0], [1, 0], [1, 2]);
    const s = summarize([{ metrics: a, prediction_file: 'a', reference_file: 'a' }, { metrics: b, prediction_file: 'b', reference_file: 'b' }], [1, 2]);
    expect(s.mean['1']!.Dice).toBe(0.5);
    expect(Number.isNaN(s.mean['2']!.Dice)).toBe(true);
    expect(s.foreground_mean.Dice).toBe(0.5);
    const text = summaryToJson(s);
    expect(text).toContain('"Dice": NaN');
    expect((parseJsonWithNaN(text) as typeof s).foreground_mean.Dice).toBe(0.5);
  });
});
