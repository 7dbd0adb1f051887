/**
 * Bad-input rows exercised through fingerprinting, planning, preprocessing (crop, normalize, resample), the
 * preprocessed cache and prediction export: `extractFingerprint`, the `nnUNetPlanner` plugin, `cropToNonzero`,
 * normalizer and resampler plugins, `computeNewShape`, `preprocessCase`, `exportPrediction`,
 * `writePreprocessedCase`/`readPreprocessedCase`.
 */
import { readdirSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { DatasetFingerprint, DatasetJson, MedicalImage, Normalizer, Plans, Registry, Resampler } from '@nnunet-ts/core';
import { addCase, cleanupTemp, datasetJsonV2, makeDatasetV2, rng, tempDir, vol, writeNiftiFile } from './generate.js';
import { core, errorText, isUserError, makeRegistry, need, niftiReader, thrown } from './harness.js';

afterAll(cleanupTemp);

type AnyFn = (...args: any[]) => any;
const fn = (name: string) => need<AnyFn>(core as never, name);

/** In-memory image `[c, z, y, x]` with spacing `[sz, sy, sx]`. */
function image(data: ArrayLike<number>, shape: number[], spacing: number[] = [1, 1, 1], Arr: typeof Float32Array | typeof Int16Array = Float32Array): MedicalImage {
  return {
    data: Arr.from(data as ArrayLike<number>),
    shape: shape as [number, number, number, number],
    spacing: spacing as [number, number, number],
    origin: [0, 0, 0],
    direction: [1, 0, 0, 0, 1, 0, 0, 0, 1],
  };
}

/** `f(z, y, x)` over a `[Z, Y, X]` grid, x fastest. */
function grid(Z: number, Y: number, X: number, f: (z: number, y: number, x: number) => number): Float32Array {
  const out = new Float32Array(Z * Y * X);
  let n = 0;
  for (let z = 0; z < Z; z++) for (let y = 0; y < Y; y++) for (let x = 0; x < X; x++) out[n++] = f(z, y, x);
  return out;
}

function registry(): Registry {
  const reg = makeRegistry();
  if (!reg.has('planner', 'nnUNetPlanner') && typeof (core as Record<string, unknown>)['registerPlanners'] === 'function') fn('registerPlanners')(reg, { override: true });
  return reg;
}

function planner(reg: Registry) {
  return reg.get('planner', 'nnUNetPlanner');
}

function resampler(reg: Registry): Resampler {
  if (reg.has('resampler', 'default')) return reg.get('resampler', 'default');
  return fn('defaultResampler')();
}

function normalizer(reg: Registry, name: string): Normalizer {
  if (reg.has('normalizer', name)) return reg.get('normalizer', name);
  const factory: Record<string, string> = {
    ZScoreNormalization: 'zScoreNormalization',
    CTNormalization: 'ctNormalization',
  };
  return fn(factory[name]!)();
}

function dsJson(channel: string, labels: Record<string, number>, n: number): DatasetJson {
  return { channel_names: { '0': channel }, labels, numTraining: n, file_ending: '.nii.gz', name: 'bad' };
}

/** A fingerprint where every case has the same shape and spacing (`[z, y, x]`). */
function syntheticFingerprint(shape: number[], spacing: number[], n: number, props = { mean: 0, median: 0, std: 1, min: -3, max: 3, percentile_99_5: 2.5, percentile_00_5: -2.5 }): DatasetFingerprint {
  return {
    foreground_intensity_properties_per_channel: { '0': props },
    median_relative_size_after_cropping: 1,
    shapes_after_crop: new Array(n).fill(shape),
    spacings: new Array(n).fill(spacing),
  };
}

/** `extractFingerprint` with a small sample budget (nnU-Net draws 1e8 samples; 1e5 keep the statistics close). */
async function fingerprint(cases: unknown[], warnings: string[] = []): Promise<DatasetFingerprint> {
  return fn('extractFingerprint')(cases, { totalForegroundSamples: 100_000, onWarning: (m: string) => warnings.push(m) });
}

const allFinite = (a: ArrayLike<number>) => {
  for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i]!)) return false;
  return true;
};

describe('preprocess rows', () => {
  it('B08: resampling a {2,4} label to 0.7 mm (and by other non-integer factors) yields only {2,4}', () => {
    const reg = registry();
    const res = resampler(reg);
    const seg = new Int16Array(12 * 12 * 12);
    for (let i = 0; i < seg.length; i++) seg[i] = i % 12 < 6 ? 2 : 4; // left half 2, right half 4 (x)
    const newShape = fn('computeNewShape')([12, 12, 12], [1, 1, 1], [0.7, 0.7, 0.7]);
    expect(newShape).toEqual([17, 17, 17]);
    for (const order of [0, 1, 3]) {
      for (const target of [newShape, [9, 13, 7]]) {
        const out = res.resampleSeg(seg, [12, 12, 12], target, { order, orderZ: 0, separateZAxis: null });
        expect(out.length).toBe(target[0]! * target[1]! * target[2]!);
        expect([...new Set(out)].sort(), `order ${order} -> ${target}`).toEqual([2, 4]);
      }
    }
    // separate-z path as used for anisotropic data
    const out = res.resampleSeg(seg, [12, 12, 12], [5, 17, 17], { order: 1, orderZ: 0, separateZAxis: 0 });
    expect([...new Set(out)].sort()).toEqual([2, 4]);
  });

  it('B13 (fingerprint): CT statistics of uint16 + scl_inter -1024 data are in HU', async () => {
    const dir = tempDir();
    const stored = Array.from({ length: 256 }, (_, i) => Math.round((i * 4095) / 255));
    const path = writeNiftiFile(join(dir, 'ct_0000.nii.gz'), { dims: [8, 8, 4], dtype: 'uint16', data: stored, sclSlope: 1, sclInter: -1024 });
    const img = await niftiReader().read(path);
    const seg = image(new Array(256).fill(1), [1, 4, 8, 8], [1, 1, 1], Int16Array);
    const fp: DatasetFingerprint = await fingerprint([{ id: 'ct', image: img, seg }]);
    const p = fp.foreground_intensity_properties_per_channel['0']!;
    expect(p.min).toBeGreaterThanOrEqual(-1024);
    expect(p.max).toBeLessThanOrEqual(3071);
    expect(p.percentile_00_5).toBeLessThan(-1000);
    expect(p.percentile_99_5).toBeGreaterThan(3000);
    expect(Math.abs(p.mean - 1023.5)).toBeLessThan(120); // mean of the -1024..3071 ramp, sampled
  });

  it('B15: a constant channel (all 0, all 5) normalizes to finite values; preprocessing an all-zero case gives no NaN', async () => {
    const reg = registry();
    const z = normalizer(reg, 'ZScoreNormalization');
    for (const c of [0, 5]) {
      const out = z.normalize({ data: new Float32Array(512).fill(c), useMaskForNorm: false });
      expect(allFinite(out)).toBe(true);
      expect(Math.max(...out.map(Math.abs))).toBe(0);
      const seg = new Int16Array(512);
      const outMasked = z.normalize({ data: new Float32Array(512).fill(c), seg, useMaskForNorm: true });
      expect(allFinite(outMasked)).toBe(true);
    }
    const ct = normalizer(reg, 'CTNormalization');
    const props = { mean: 5, median: 5, std: 0, min: 5, max: 5, percentile_99_5: 5, percentile_00_5: 5 };
    const outCt = ct.normalize({ data: new Float32Array(512).fill(5), useMaskForNorm: false, intensityProperties: props });
    expect(allFinite(outCt)).toBe(true);

    // case B (normal) plans the dataset; case A (all zeros, label all 0) is preprocessed without NaN
    const r = rng(15);
    const imgB = grid(8, 8, 8, () => r() * 100);
    const segB = grid(8, 8, 8, (zz, y, x) => (zz > 2 && zz < 6 && y > 2 && y < 6 && x > 2 && x < 6 ? 1 : 0));
    const caseB = { id: 'B', image: image(imgB, [1, 8, 8, 8]), seg: image(segB, [1, 8, 8, 8], [1, 1, 1], Int16Array) };
    const caseA = { id: 'A', image: image(new Float32Array(512), [1, 8, 8, 8]), seg: image(new Int16Array(512), [1, 8, 8, 8], [1, 1, 1], Int16Array) };
    const fp: DatasetFingerprint = await fingerprint([caseA, caseB]);
    const plans: Plans = planner(reg).plan(fp, dsJson('MRI', { background: 0, lesion: 1 }, 2));
    for (const c of [new Float32Array(512), new Float32Array(512).fill(5)]) {
      const warnings: string[] = [];
      const out = await fn('preprocessCase')({ image: c, shape: [1, 8, 8, 8], spacing: [1, 1, 1], seg: new Int16Array(512) }, plans, '3d_fullres', reg, {
        caseId: 'A',
        onWarning: (m: string) => warnings.push(m),
      });
      expect(out.data.length).toBeGreaterThan(0);
      expect(allFinite(out.data)).toBe(true);
      expect(out.shape.slice(1).every((s: number) => s >= 1)).toBe(true);
      // "channel X of case Y is constant"
      expect(warnings.join('\n')).toMatch(/case A[^\n]*channel 0[^\n]*constant/);
    }
  });

  it('B17: all-empty labels with a CT channel give a clear "no foreground" error or a finite whole-image fallback, never an IndexError', async () => {
    const reg = registry();
    const r = rng(17);
    const cases = ['a', 'b'].map((id) => ({
      id,
      image: image(grid(16, 16, 16, () => r() * 1000 - 500), [1, 16, 16, 16]),
      seg: image(new Int16Array(16 ** 3), [1, 16, 16, 16], [1, 1, 1], Int16Array),
    }));
    let fp: DatasetFingerprint;
    try {
      fp = await fingerprint(cases);
    } catch (e) {
      expect(isUserError(e), errorText(e)).toBe(true);
      expect(errorText(e)).toMatch(/no foreground/i);
      expect(errorText(e)).toMatch(/CT/);
      return;
    }
    const p = fp.foreground_intensity_properties_per_channel['0']!;
    for (const v of Object.values(p)) expect(Number.isFinite(v), JSON.stringify(p)).toBe(true);
    expect(p.min).toBeGreaterThanOrEqual(-500);
    expect(p.max).toBeLessThanOrEqual(500);
    expect(Math.abs(p.mean)).toBeLessThan(50);
    const plans: Plans = planner(reg).plan(fp, dsJson('CT', { background: 0, tumour: 1 }, 2));
    const out = await fn('preprocessCase')({ image: cases[0]!.image.data, shape: [1, 16, 16, 16], spacing: [1, 1, 1], seg: null }, plans, '3d_fullres', reg);
    expect(allFinite(out.data)).toBe(true);
  });

  for (const variant of [
    { name: '64x48x1 at (0.5,0.5,1.0)', shape: [1, 48, 64], spacing: [1.0, 0.5, 0.5] },
    { name: '64x48x1 at (1.0,1.0,0.5): the singleton axis has the finest spacing', shape: [1, 48, 64], spacing: [0.5, 1.0, 1.0] },
    { name: '64x1x48 (singleton j) at (0.5,0.5,0.5)', shape: [48, 1, 64], spacing: [0.5, 0.5, 0.5] },
  ]) {
    it(`B22: 2D data stored as 3D (${variant.name}) plans a 2D patch over the two real axes, never extent 1`, () => {
      const reg = registry();
      const fp = syntheticFingerprint(variant.shape, variant.spacing, 5);
      const plans: Plans = planner(reg).plan(fp, dsJson('MRI', { background: 0, organ: 1 }, 5));
      const cfg = plans.configurations['2d'];
      expect(cfg, `configurations: ${Object.keys(plans.configurations)}`).toBeTruthy();
      const patch = cfg!.patch_size!;
      expect(patch.length).toBe(2);
      expect([...patch].sort((a, b) => a - b)).toEqual([48, 64]);
    });
  }

  it('B24: with the opt-in linear order_z, logits exported from 3 mm to 2 mm slices are interpolated out-of-plane: no duplicated adjacent slices where the truth differs (the default is nnU-Net\'s nearest, which duplicates)', async () => {
    const reg = registry();
    const [Z, Y, X] = [30, 24, 24];
    const spacing = [2.0, 0.98, 0.98];
    const plans: Plans = planner(reg).plan(syntheticFingerprint([20, 24, 24], [3.0, 0.98, 0.98], 10), dsJson('MRI', { background: 0, cone: 1 }, 10));
    expect(plans.configurations['3d_fullres']!.spacing).toEqual([3.0, 0.98, 0.98]);
    const radius = (zmm: number) => 2 + 0.15 * zmm; // voxels in-plane, changes every slice
    const dist = (y: number, x: number) => Math.hypot(y - 11.5, x - 11.5);
    const img = grid(Z, Y, X, (z, y, x) => 10 + (dist(y, x) <= radius(2 * z) ? 50 : 0));
    const pre = await fn('preprocessCase')({ image: img, shape: [1, Z, Y, X], spacing, seg: null }, plans, '3d_fullres', reg);
    const [, Zp, Yp, Xp] = pre.shape as number[];
    expect([Zp, Yp, Xp]).toEqual([20, 24, 24]);
    // logits in preprocessed space: class 1 = radius(z) - distance, with z the physical position each preprocessed
    // slice stands for under the resize convention (centre-aligned): z_mm = 2 * ((z' + 0.5) * 30/20 - 0.5)
    const logits = new Float32Array(2 * Zp! * Yp! * Xp!);
    const N = Zp! * Yp! * Xp!;
    let n = 0;
    for (let z = 0; z < Zp!; z++) {
      const zmm = 2 * ((z + 0.5) * (Z / Zp!) - 0.5);
      for (let y = 0; y < Yp!; y++) for (let x = 0; x < Xp!; x++) logits[N + n++] = radius(zmm) - dist(y, x);
    }
    const { seg } = await fn('exportPrediction')(logits, [2, Zp, Yp, Xp], pre.properties, plans, '3d_fullres', reg, { orderZ: 1 });
    expect(seg.length).toBe(Z * Y * X);
    // nnU-Net's default (order_z 0): each preprocessed slice is copied to the nearest original slices
    const nearest = (await fn('exportPrediction')(logits, [2, Zp, Yp, Xp], pre.properties, plans, '3d_fullres', reg)).seg;
    const sliceOf = (a: ArrayLike<number>, z: number) => Array.from({ length: Y * X }, (_, i) => a[z * Y * X + i]!).join();
    const copies = Array.from({ length: Z - 1 }, (_, z) => sliceOf(nearest, z + 1) === sliceOf(nearest, z)).filter(Boolean).length;
    expect(copies, 'nearest order_z repeats preprocessed slices (20 -> 30)').toBeGreaterThanOrEqual(10);
    const slice = (a: ArrayLike<number>, z: number) => Array.from({ length: Y * X }, (_, i) => (a[z * Y * X + i]! > 0 ? 1 : 0));
    const truth = grid(Z, Y, X, (z, y, x) => (dist(y, x) <= radius(2 * z) ? 1 : 0));
    let duplicated = 0;
    for (let z = 1; z < Z - 1; z++) {
      const truthDiffers = slice(truth, z).join() !== slice(truth, z - 1).join();
      const predSame = slice(seg, z).join() === slice(seg, z - 1).join();
      if (truthDiffers && predSame) duplicated++;
    }
    expect(duplicated, 'adjacent predicted slices identical although the truth differs').toBe(0);
    const dice = (a: number[], b: number[]) => {
      let tp = 0, s = 0;
      for (let i = 0; i < a.length; i++) { tp += a[i]! & b[i]!; s += a[i]! + b[i]!; }
      return s ? (2 * tp) / s : 1;
    };
    const perSlice = Array.from({ length: Z }, (_, z) => dice(slice(seg, z), slice(truth, z)));
    expect(Math.min(...perSlice.slice(1, -1))).toBeGreaterThan(0.85);
  });

  it('B25: float32 spacing 0.44999998 vs 0.45 never adds a ghost slice (shape stays 3x3x3, all ones)', async () => {
    const f32 = Math.fround(0.45);
    expect(f32).not.toBe(0.45);
    const computeNewShape = fn('computeNewShape');
    expect(computeNewShape([3, 3, 3], [f32, 1, 1], [0.45, 1, 1])).toEqual([3, 3, 3]);
    expect(computeNewShape([3, 3, 3], [0.45, 1, 1], [f32, 1, 1])).toEqual([3, 3, 3]);
    expect(computeNewShape([3, 3, 3], [0.45, 0.45, 0.45], [f32, f32, f32])).toEqual([3, 3, 3]);
    // spacing read back from a header, resampled to 0.45 given as float64
    const dir = tempDir();
    const path = writeNiftiFile(join(dir, 'ones.nii.gz'), vol([3, 3, 3], 'float32', () => 1, { spacing: [1, 1, 0.45] }));
    const img = await niftiReader().read(path);
    expect(img.spacing[0]).toBe(f32);
    const newShape = computeNewShape([3, 3, 3], img.spacing, [0.45, 1, 1]);
    expect(newShape).toEqual([3, 3, 3]);
    const out = resampler(registry()).resampleData(new Float32Array(27).fill(1), [1, 3, 3, 3], newShape, { order: 3, orderZ: 0, separateZAxis: null });
    expect(out.length).toBe(27);
    for (const v of out) expect(v).toBeCloseTo(1, 5);
  });

  it('B26: preprocessing a case that needs more memory than the limit fails fast naming the case and both sizes', async () => {
    const reg = registry();
    const plans: Plans = planner(reg).plan(syntheticFingerprint([64, 32, 32], [0.5, 0.5, 0.5], 5), dsJson('CT', { background: 0, organ: 1 }, 5));
    // a 64x32x32 int16 CT at (0.976, 0.625, 0.976) resampled to 0.5 mm: the resampled arrays far exceed a 1 MiB cap
    const [Z, Y, X] = [32, 32, 32];
    const imgData = grid(Z, Y, X, (z, y, x) => (z + y + x) % 100);
    const err = await thrown(() =>
      fn('preprocessCase')({ image: imgData, shape: [1, Z, Y, X], spacing: [0.976, 0.625, 0.976], seg: null }, plans, '3d_fullres', reg, {
        caseId: 'huge_case_007',
        memoryLimitBytes: 256 * 1024,
      }),
    );
    const text = errorText(err);
    expect(isUserError(err), text).toBe(true);
    expect(text).toContain('huge_case_007');
    // "needs ~N <unit>; limit M <unit>", with the printed need above the printed limit (units that show the sizes)
    const bytesOf = (m: RegExpMatchArray | null) =>
      m ? Number(m[1]) * ({ B: 1, bytes: 1, KiB: 2 ** 10, MiB: 2 ** 20, GiB: 2 ** 30, KB: 1e3, MB: 1e6, GB: 1e9 } as Record<string, number>)[m[2]!]! : NaN;
    const need = bytesOf(text.match(/needs ~?\s*([\d.]+)\s*(bytes|B|KiB|MiB|GiB|KB|MB|GB)\b/));
    const limit = bytesOf(text.match(/limit:?\s*~?\s*([\d.]+)\s*(bytes|B|KiB|MiB|GiB|KB|MB|GB)\b/));
    expect(need, text).toBeGreaterThan(limit);
    expect(limit, text).toBeCloseTo(256 * 1024, -4);
  });

  it('B26 (pipeline): an oversized case fails by name while the other cases are still preprocessed, and the run resumes', async () => {
    const reg = registry();
    const parent = tempDir();
    const root = makeDatasetV2(parent, datasetJsonV2(['MRI'], { background: 0, lesion: 1 }, 2));
    const r = rng(126);
    const lab = (n: number) => vol([n, n, n], 'uint8', (i, j, k) => (i > 2 && j > 2 && k > 2 && i < 6 ? 1 : 0));
    addCase(root, 'small_001', [vol([8, 8, 8], 'float32', () => 1 + r(), { spacing: [1, 1, 1] })], lab(8));
    addCase(root, 'huge_002', [vol([24, 24, 24], 'float32', () => 1 + r(), { spacing: [1, 1, 1] })], lab(24));
    const ds = await fn('loadDataset')(root);
    // target spacing 0.5 mm: huge_002 grows to 48^3 and needs ~0.8 MiB, small_001 (16^3) stays far below the 256 KiB limit
    const plans: Plans = planner(reg).plan(syntheticFingerprint([16, 16, 16], [0.5, 0.5, 0.5], 2), dsJson('MRI', { background: 0, lesion: 1 }, 2));
    const dir = join(parent, 'pp');
    const logs: string[] = [];
    const rep = fn('silentReporter')((s: string) => logs.push(s));
    const before = process.env.NNUNET_MAX_MEMORY_BYTES;
    process.env.NNUNET_MAX_MEMORY_BYTES = String(256 * 1024);
    let err: unknown;
    try {
      await fn('runPreprocess')(ds, plans, '3d_fullres', reg, dir, rep);
    } catch (e) {
      err = e;
    } finally {
      if (before === undefined) delete process.env.NNUNET_MAX_MEMORY_BYTES;
      else process.env.NNUNET_MAX_MEMORY_BYTES = before;
    }
    expect(err, 'the oversized case must be reported').toBeTruthy();
    expect(isUserError(err), errorText(err)).toBe(true);
    expect(errorText(err)).toContain('huge_002');
    expect(errorText(err)).toMatch(/limit/i);
    expect(errorText(err)).not.toContain('small_001');
    expect(await fn('listPreprocessedCases')(dir)).toEqual(['small_001']);
    // resume without the limit: only the missing case is done
    await fn('runPreprocess')(ds, plans, '3d_fullres', reg, dir, rep);
    expect(await fn('listPreprocessedCases')(dir)).toEqual(['huge_002', 'small_001']);
  });

  it('B28: crop-to-nonzero keeps an interior pocket of exact zeros inside, CT with -1024 background is not cropped, -1 never leaks', async () => {
    const reg = registry();
    const S = 20;
    const inBody = (z: number, y: number, x: number) => ((x - 10) / 8) ** 2 + ((y - 10) / 7) ** 2 + ((z - 10) / 6) ** 2 <= 1;
    const inPocket = (z: number, y: number, x: number) => Math.abs(z - 10) <= 1 && Math.abs(y - 10) <= 1 && Math.abs(x - 10) <= 1;
    const inLabel = (z: number, y: number, x: number) => Math.hypot(z - 14, y - 10, x - 10) <= 2;
    const r = rng(28);
    // (a) MRI-like: background 0, ellipsoid 50..200 with an interior 3x3x3 pocket of 0 and zeros on the rim
    const mri = grid(S, S, S, (z, y, x) => (!inBody(z, y, x) || inPocket(z, y, x) ? 0 : 50 + Math.floor(r() * 150)));
    const rimZeros = [[10, 10, 18], [10, 17, 10], [4, 10, 10]];
    for (const [z, y, x] of rimZeros) mri[(z! * S + y!) * S + x!] = 0;
    const seg = Int16Array.from(grid(S, S, S, (z, y, x) => (inLabel(z, y, x) ? 1 : 0)));
    const crop = fn('cropToNonzero')(mri, [1, S, S, S], seg);
    // expected box: bounds of the non-zero voxels plus the enclosed pocket (the rim zeros sit on the extremes of the
    // ellipsoid, so the box shrinks there: z 5..16, y 3..16, x 2..17 inclusive)
    const lo = [S, S, S];
    const hi = [0, 0, 0];
    for (let z = 0; z < S; z++) for (let y = 0; y < S; y++) for (let x = 0; x < S; x++) {
      if (mri[(z * S + y) * S + x] === 0 && !inPocket(z, y, x)) continue;
      [z, y, x].forEach((v, a) => { lo[a] = Math.min(lo[a]!, v); hi[a] = Math.max(hi[a]!, v + 1); });
    }
    expect([lo, hi]).toEqual([[5, 3, 2], [17, 17, 18]]);
    expect(crop.bbox).toEqual([[lo[0], hi[0]], [lo[1], hi[1]], [lo[2], hi[2]]]);
    const [, cz, cy, cx] = crop.shape as number[];
    const at = (a: ArrayLike<number>, z: number, y: number, x: number) => a[((z - lo[0]!) * cy! + (y - lo[1]!)) * cx! + (x - lo[2]!)]!;
    for (let z = 9; z <= 11; z++) for (let y = 9; y <= 11; y++) for (let x = 9; x <= 11; x++) expect(at(crop.seg, z, y, x), `pocket ${z},${y},${x}`).toBe(0);
    expect(at(crop.seg, 5, 3, 2)).toBe(-1); // corner of the box, outside the body
    expect(at(crop.seg, 14, 10, 10)).toBe(1);
    expect(cz).toBe(12);
    // (b) CT-like: -1024 outside, 0..60 inside (with exact zeros): nothing is cropped and nothing is marked outside
    const ct = grid(S, S, S, (z, y, x) => (inBody(z, y, x) ? Math.floor(r() * 61) : -1024));
    const cropCt = fn('cropToNonzero')(ct, [1, S, S, S], Int16Array.from(seg));
    expect(cropCt.bbox).toEqual([[0, S], [0, S], [0, S]]);
    expect(Math.min(...cropCt.seg)).toBe(0);
    // after preprocessing, label values are within {declared} + {-1}; exported predictions never contain -1
    const fp: DatasetFingerprint = await fingerprint([
      { id: 'mri', image: image(mri, [1, S, S, S]), seg: image(seg, [1, S, S, S], [1, 1, 1], Int16Array) },
    ]);
    expect(fp.foreground_intensity_properties_per_channel['0']!.min).toBeGreaterThanOrEqual(50);
    const plans: Plans = planner(reg).plan(fp, dsJson('MRI', { background: 0, lesion: 1 }, 1));
    const pre = await fn('preprocessCase')({ image: mri, shape: [1, S, S, S], spacing: [1, 1, 1], seg: Int16Array.from(seg) }, plans, '3d_fullres', reg);
    expect([...new Set(pre.seg)].every((v) => v === -1 || v === 0 || v === 1)).toBe(true);
    const [, pz, py, px] = pre.shape as number[];
    const NP = pz! * py! * px!;
    const logits = new Float32Array(2 * NP);
    for (let i = 0; i < NP; i++) logits[NP + i] = pre.seg[i] === 1 ? 5 : -5;
    const { seg: out } = await fn('exportPrediction')(logits, [2, pz, py, px], pre.properties, plans, '3d_fullres', reg);
    expect(out.length).toBe(S * S * S);
    expect(Math.min(...out)).toBe(0);
    let agree = 0;
    for (let i = 0; i < out.length; i++) if (out[i] === seg[i]) agree++;
    expect(agree).toBe(out.length);
  });

  it('B45: a cached preprocessed case truncated by 100 bytes, or with 16 bytes overwritten, raises an error naming the file and the fix', async () => {
    const dir = tempDir();
    const S = 12;
    const r = rng(45);
    const result = {
      data: grid(S, S, S, () => r()),
      seg: Int16Array.from(grid(S, S, S, (z) => (z > 6 ? 1 : 0))),
      shape: [1, S, S, S],
      properties: { spacing: [1, 1, 1], shape_before_cropping: [S, S, S], bbox_used_for_cropping: [[0, S], [0, S], [0, S]], shape_after_cropping_and_before_resampling: [S, S, S] },
    };
    for (const damage of ['truncate', 'overwrite'] as const) {
      const d = join(dir, damage);
      await fn('writePreprocessedCase')(d, 'case_001', result);
      const back = await fn('readPreprocessedCase')(d, 'case_001');
      expect(Array.from(back.data.slice(0, 5))).toEqual(Array.from(result.data.slice(0, 5)));
      const files = readdirSync(d).map((f) => join(d, f)).filter((f) => statSync(f).isFile());
      const biggest = files.sort((a, b) => statSync(b).size - statSync(a).size)[0]!;
      if (damage === 'truncate') truncateSync(biggest, statSync(biggest).size - 100);
      else {
        const bytes = readFileSync(biggest);
        const mid = Math.floor(bytes.length / 2);
        for (let i = 0; i < 16; i++) bytes[mid + i] = bytes[mid + i]! ^ 0xa5;
        writeFileSync(biggest, bytes);
      }
      const err = await thrown(() => fn('readPreprocessedCase')(d, 'case_001'));
      const text = errorText(err);
      expect(isUserError(err), text).toBe(true);
      expect(text).toContain(biggest.split('/').pop()!);
      expect(text).toMatch(/preprocess|regenerat|delete|re-run|rerun/i);
    }
  });

  it('B45 (pipeline): re-running preprocessing over a cache with a corrupt entry regenerates it (or stops naming the file)', async () => {
    const reg = registry();
    const parent = tempDir();
    const root = makeDatasetV2(parent, datasetJsonV2(['MRI'], { background: 0, lesion: 1 }, 2));
    const r = rng(145);
    for (const id of ['c1', 'c2']) {
      addCase(root, id, [vol([12, 12, 12], 'float32', () => 1 + r())], vol([12, 12, 12], 'uint8', (i, j, k) => (i > 4 && j > 4 && k > 4 && i < 8 ? 1 : 0)));
    }
    const ds = await fn('loadDataset')(root);
    const plans: Plans = planner(reg).plan(syntheticFingerprint([12, 12, 12], [1, 1, 1], 2), dsJson('MRI', { background: 0, lesion: 1 }, 2));
    const dir = join(parent, 'pp');
    const rep = fn('silentReporter')();
    await fn('runPreprocess')(ds, plans, '3d_fullres', reg, dir, rep);
    const good = await fn('readPreprocessedCase')(dir, 'c2');
    const files = readdirSync(dir).filter((f) => f.startsWith('c2'));
    expect(files.length).toBe(1);
    const file = join(dir, files[0]!);
    truncateSync(file, statSync(file).size - 100);
    let rerunError: unknown;
    try {
      await fn('runPreprocess')(ds, plans, '3d_fullres', reg, dir, rep);
    } catch (e) {
      rerunError = e;
    }
    if (rerunError) {
      expect(isUserError(rerunError), errorText(rerunError)).toBe(true);
      expect(errorText(rerunError)).toContain(files[0]!);
      expect(errorText(rerunError)).toMatch(/preprocess|regenerat|delete|re-run|rerun/i);
      return;
    }
    const again = await fn('readPreprocessedCase')(dir, 'c2');
    expect(Array.from(again.data)).toEqual(Array.from(good.data));
  });

  it('B48: CT with -10000/+30000 outliers: foreground-only percentiles, clipped normalization, unchanged output when the artifact is removed', async () => {
    const reg = registry();
    const S = 24;
    const r = rng(48);
    const inBody = (z: number, y: number, x: number) => Math.hypot(z - 12, y - 12, x - 12) <= 10;
    const ct = grid(S, S, S, (z, y, x) => (inBody(z, y, x) ? Math.floor(r() * 201) - 100 : -1024));
    const idx = (z: number, y: number, x: number) => (z * S + y) * S + x;
    const ring: number[] = [];
    for (let a = 0; a < 20; a++) ring.push(idx(12, Math.round(12 + 11.5 * Math.sin((a / 20) * 2 * Math.PI)), Math.round(12 + 11.5 * Math.cos((a / 20) * 2 * Math.PI))));
    const metal = [idx(12, 12, 4), idx(12, 13, 4), idx(12, 12, 5), idx(13, 12, 4), idx(11, 12, 4)];
    const dirty = Float32Array.from(ct);
    for (const i of ring) dirty[i] = -10000;
    for (const i of metal) dirty[i] = 30000;
    const seg = Int16Array.from(grid(S, S, S, (z, y, x) => (Math.hypot(z - 12, y - 12, x - 15) <= 4 ? 1 : 0)));
    const fp: DatasetFingerprint = await fingerprint([
      { id: 'ct', image: image(Int16Array.from(dirty), [1, S, S, S], [1, 1, 1], Int16Array), seg: image(seg, [1, S, S, S], [1, 1, 1], Int16Array) },
    ]);
    const p = fp.foreground_intensity_properties_per_channel['0']!;
    expect(p.percentile_00_5).toBeGreaterThanOrEqual(-100);
    expect(p.percentile_99_5).toBeLessThanOrEqual(100);
    expect(p.min).toBeGreaterThanOrEqual(-100);
    expect(p.max).toBeLessThanOrEqual(100);
    const plans: Plans = planner(reg).plan(fp, dsJson('CT', { background: 0, liver: 1 }, 1));
    expect(plans.configurations['3d_fullres']!.normalization_schemes).toEqual(['CTNormalization']);
    const run = async (data: Float32Array) =>
      (await fn('preprocessCase')({ image: data, shape: [1, S, S, S], spacing: [1, 1, 1], seg: Int16Array.from(seg) }, plans, '3d_fullres', reg)).data as Float32Array;
    const a = await run(dirty);
    const cleaned = Float32Array.from(dirty);
    for (const i of [...ring, ...metal]) cleaned[i] = -1024;
    const b = await run(cleaned);
    expect(a.length).toBe(S ** 3);
    expect(allFinite(a)).toBe(true);
    const lo = (p.percentile_00_5 - p.mean) / Math.max(p.std, 1e-8);
    const hi = (p.percentile_99_5 - p.mean) / Math.max(p.std, 1e-8);
    for (const v of a) {
      expect(v).toBeGreaterThanOrEqual(lo - 1e-4);
      expect(v).toBeLessThanOrEqual(hi + 1e-4);
    }
    const metalSet = new Set(metal);
    for (let i = 0; i < a.length; i++) {
      if (metalSet.has(i)) expect(a[i]).toBeCloseTo(hi, 4);
      else expect(a[i], `voxel ${i}`).toBe(b[i]);
    }
  });
});
