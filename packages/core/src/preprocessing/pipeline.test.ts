import { mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Registry } from '../registry/registry.js';
import { DataError } from '../util/errors.js';
import { listPreprocessedCases, preprocessedCasePath, readPreprocessedCase, writePreprocessedCase } from './cache.js';
import { exportPrediction } from './export-prediction.js';
import { preprocessCase } from './preprocess-case.js';
import { registerPreprocessingDefaults } from './register.js';
import { makeCase, makePlans } from './__fixtures__/small-case.js';

const registry = new Registry();
registerPreprocessingDefaults(registry);
const dirs: string[] = [];
afterAll(async () => { for (const d of dirs) await rm(d, { recursive: true, force: true }); });

describe('preprocessCase (RULES.md §14)', () => {
  it('crops, z-scores inside the mask, keeps the grid at equal spacing, samples class locations', () => {
    const c = makeCase();
    const r = preprocessCase(c, makePlans(), '3d_fullres', registry);
    expect(r.properties.bbox_used_for_cropping).toEqual([[0, 8], [2, 10], [1, 9]]);
    expect(r.shape).toEqual([1, 8, 8, 8]);
    expect(r.properties.shape_before_cropping).toEqual([8, 12, 10]);
    expect(r.properties.shape_after_cropping_and_before_resampling).toEqual([8, 8, 8]);
    let s = 0;
    for (const v of r.data) s += v;
    expect(Math.abs(s / r.data.length)).toBeLessThan(1e-5);
    expect(Object.keys(r.properties.class_locations!)).toEqual(['1', '2']);
    expect(r.properties.class_locations!['1']!.length).toBe(32); // all 32 voxels (< 10000)
    for (const [z, y, x] of r.properties.class_locations!['2']!) expect(r.seg![(z! * 8 + y!) * 8 + x!]).toBe(2);
    expect(c.image[(3 * 12 + 5) * 10 + 4]).toBe(20 + ((3 * 7 + 5 * 3 + 4) % 13) + 40); // input untouched
  });
  it('resamples to the configuration spacing (3D and 2D keeps axis 0), labels only from the input', () => {
    const c = makeCase();
    const r3 = preprocessCase(c, makePlans({}, [1, 0.5, 0.5]), '3d_fullres', registry);
    expect(r3.shape).toEqual([1, 16, 16, 16]);
    expect(new Set(r3.seg)).toEqual(new Set([0, 1, 2]));
    const r2 = preprocessCase(c, makePlans({}, [1, 0.5, 0.5]), '2d', registry);
    expect(r2.shape).toEqual([1, 8, 16, 16]);
  });
  it('applies transpose_forward and replaces NaN with a warning', () => {
    const c = makeCase();
    c.image[0] = NaN;
    const warnings: string[] = [];
    const r = preprocessCase(c, makePlans({ transpose_forward: [2, 0, 1], transpose_backward: [1, 2, 0] }, [1, 2, 1]),
      '3d_fullres', registry, { onWarning: (m) => warnings.push(m), caseId: 'c1' });
    expect(r.properties.shape_before_cropping).toEqual([10, 8, 12]);
    expect(warnings.some((w) => w.includes('1 NaN/Inf'))).toBe(true);
    expect(r.data.every(Number.isFinite)).toBe(true);
  });
});

describe('preprocessCase edge shapes', () => {
  it('a 2D image (z = 1) with a 2d configuration resamples in-plane only', () => {
    const Y = 12, X = 10;
    const image = Float32Array.from({ length: Y * X }, (_, i) => 1 + (i % 7));
    const seg = Int16Array.from({ length: Y * X }, (_, i) => (i % X > 5 ? 1 : 0));
    const r = preprocessCase({ image, shape: [1, 1, Y, X], spacing: [999, 1, 1], seg }, makePlans({}, [1, 1, 1]), '2d', registry);
    expect(r.shape).toEqual([1, 1, 24, 20]);
    expect(new Set(r.seg)).toEqual(new Set([0, 1]));
    expect(r.data.every(Number.isFinite)).toBe(true);
  });
  it('a single-slice 3D image can be upsampled along z', () => {
    const image = Float32Array.from({ length: 20 }, (_, i) => 1 + i);
    const r = preprocessCase({ image, shape: [1, 1, 4, 5], spacing: [3, 1, 1], seg: null }, makePlans({}, [1, 1, 1]), '3d_fullres', registry);
    expect(r.shape).toEqual([1, 3, 4, 5]);
    expect(r.seg).toBeNull();
    for (let z = 1; z < 3; z++) for (let i = 0; i < 20; i++) expect(r.data[z * 20 + i]).toBeCloseTo(r.data[i]!, 5);
  });
});

describe('preprocessCase guards', () => {
  it('warns when a CT channel is not in Hounsfield units (B16)', () => {
    const c = makeCase();
    for (let i = 0; i < c.image.length; i++) c.image[i] = c.image[i]! / 100; // values in [0, 1]
    const warnings: string[] = [];
    preprocessCase(c, makePlans({}, [2, 1, 1], ['CTNormalization']), '3d_fullres', registry,
      { onWarning: (m) => warnings.push(m) });
    expect(warnings.some((w) => /declared CT.*Hounsfield/.test(w))).toBe(true);
  });
  it('refuses a case above the memory limit before allocating, naming it (B26)', () => {
    const c = makeCase();
    expect(() => preprocessCase(c, makePlans({}, [0.1, 0.1, 0.1]), '3d_fullres', registry,
      { caseId: 'big_case', memoryLimitBytes: 1e6 })).toThrow(/big_case needs ~[\d.]+ (KiB|MiB|GiB) to preprocess; limit 976\.56 KiB/);
  });
  it('keeps only declared labels plus -1 after preprocessing (B28)', () => {
    const r = preprocessCase(makeCase(), makePlans({}, [1.3, 0.7, 0.9]), '3d_fullres', registry);
    for (const v of new Set(r.seg)) expect([-1, 0, 1, 2]).toContain(v);
  });
});

describe('exportPrediction (RULES.md §14)', () => {
  it('walks back to the original grid: resample, argmax, bbox paste, transpose_backward', () => {
    const c = makeCase();
    const plans = makePlans({ transpose_forward: [2, 0, 1], transpose_backward: [1, 2, 0] }, [1, 2, 1]);
    const r = preprocessCase(c, plans, '3d_fullres', registry);
    // perfect logits from the preprocessed seg
    const n = r.seg!.length;
    const logits = new Float32Array(3 * n);
    for (let i = 0; i < n; i++) logits[Math.max(0, r.seg![i]!) * n + i] = 10;
    const out = exportPrediction(logits, [3, ...r.shape.slice(1)], r.properties, plans, '3d_fullres', registry);
    expect(out.seg.length).toBe(c.seg.length);
    let diff = 0;
    for (let i = 0; i < c.seg.length; i++) if (out.seg[i] !== c.seg[i]) diff++;
    expect(diff).toBe(0);
    const withP = exportPrediction(logits, [3, ...r.shape.slice(1)], r.properties, plans, '3d_fullres', registry,
      { returnProbabilities: true });
    expect(withP.probabilities!.length).toBe(3 * c.seg.length);
    expect(withP.probabilities![0]).toBeCloseTo(1, 6); // outside the bbox: background
  });
});

describe('preprocessed-case cache (B45)', () => {
  it('round-trips and detects truncation and modification', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'nnts-cache-'));
    dirs.push(dir);
    const r = preprocessCase(makeCase(), makePlans(), '3d_fullres', registry);
    await writePreprocessedCase(dir, 'case_001', r);
    await writePreprocessedCase(dir, 'case_000', { ...r, seg: null });
    expect(await listPreprocessedCases(dir)).toEqual(['case_000', 'case_001']);
    const back = await readPreprocessedCase(dir, 'case_001');
    expect(back.shape).toEqual(r.shape);
    expect([...back.data]).toEqual([...r.data]);
    expect([...back.seg!]).toEqual([...r.seg!]);
    expect(back.properties).toEqual(JSON.parse(JSON.stringify(r.properties)));
    expect((await readPreprocessedCase(dir, 'case_000')).seg).toBeNull();
    const file = preprocessedCasePath(dir, 'case_001');
    const bytes = await readFile(file);
    const mod = Buffer.from(bytes);
    for (let i = 0; i < 16; i++) mod[(bytes.length >> 1) + i] ^= 0xff;
    await writeFile(file, mod);
    await expect(readPreprocessedCase(dir, 'case_001')).rejects.toThrow(/case_001\.nntscase.*delete it and rerun preprocess/);
    await writeFile(file, bytes);
    await truncate(file, bytes.length - 100);
    await expect(readPreprocessedCase(dir, 'case_001')).rejects.toBeInstanceOf(DataError);
  });
});
