import { describe, expect, it } from 'vitest';
import { ctNormalization } from './ct.js';
import { normalizationSchemeForChannel } from './scheme.js';
import { noNormalization, rescaleTo01Normalization, rgbTo01Normalization } from './simple.js';
import { zScoreNormalization } from './zscore.js';

describe('normalizers (RULES.md §12)', () => {
  it('ZScore without mask: zero mean, unit std (float64 stats)', () => {
    const d = Float32Array.from([1, 2, 3, 4, 10]);
    zScoreNormalization().normalize({ data: d, useMaskForNorm: false });
    const mean = 4, std = Math.sqrt((9 + 4 + 1 + 0 + 36) / 5);
    expect(d[0]).toBeCloseTo((1 - mean) / std, 6);
    expect(d[4]).toBeCloseTo((10 - mean) / std, 6);
  });
  it('ZScore with mask: stats and changes only where seg >= 0', () => {
    const d = Float32Array.from([0, 2, 4, 0]);
    const seg = Int16Array.from([-1, 0, 1, -1]);
    zScoreNormalization().normalize({ data: d, seg, useMaskForNorm: true });
    expect([...d]).toEqual([0, -1, 1, 0]);
  });
  it('constant channels give finite output (B15)', () => {
    for (const v of [0, 5]) {
      const d = new Float32Array(512).fill(v);
      zScoreNormalization().normalize({ data: d, useMaskForNorm: false });
      expect([...d].every((x) => x === 0)).toBe(true);
      const r = new Float32Array(8).fill(v);
      rescaleTo01Normalization().normalize({ data: r, useMaskForNorm: false });
      expect([...r].every((x) => x === 0)).toBe(true);
    }
  });
  it('CT clips to fingerprint percentiles and uses global mean/std (B48 outliers)', () => {
    const d = Float32Array.from([-10000, -100, 0, 100, 30000]);
    const p = { mean: 0, std: 50, median: 0, min: -200, max: 200, percentile_00_5: -150, percentile_99_5: 150 };
    ctNormalization().normalize({ data: d, useMaskForNorm: true, intensityProperties: p });
    expect([...d]).toEqual([-3, -2, 0, 2, 3]);
    expect(() => ctNormalization().normalize({ data: d, useMaskForNorm: false })).toThrow(/intensity properties/);
  });
  it('NoNorm, RescaleTo01 and RGBTo0_1', () => {
    const d = Float32Array.from([2, 4, 6]);
    expect([...noNormalization().normalize({ data: d.slice(), useMaskForNorm: false })]).toEqual([2, 4, 6]);
    expect([...rescaleTo01Normalization().normalize({ data: d.slice(), useMaskForNorm: false })]).toEqual([0, 0.5, 1]);
    expect(rgbTo01Normalization().normalize({ data: Float32Array.from([0, 255]), useMaskForNorm: false })[1]).toBe(1);
    expect(() => rgbTo01Normalization().normalize({ data: Float32Array.from([300]), useMaskForNorm: false })).toThrow(/\[0, 255\]/);
  });
  it('scheme from channel name', () => {
    expect(normalizationSchemeForChannel('CT')).toBe('CTNormalization');
    expect(normalizationSchemeForChannel('noNorm')).toBe('NoNormalization');
    expect(normalizationSchemeForChannel('rescale_to_0_1')).toBe('RescaleTo01Normalization');
    expect(normalizationSchemeForChannel('RGB_to_0_1')).toBe('RGBTo0_1Normalization');
    expect(normalizationSchemeForChannel('T2')).toBe('ZScoreNormalization');
    expect(zScoreNormalization().leavesOutsideMaskAtZero).toBe(true);
    expect(ctNormalization().leavesOutsideMaskAtZero).toBe(false);
  });
});
