/** Unit tests of the planning decisions, the RULES.md §22 synthetic fingerprints, plans IO and registration. */
import { mkdtempSync, readFileSync, writeFileSync, existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { DatasetFingerprint, DatasetJson, Plans } from '../contracts/plans.js';
import { Registry } from '../registry/registry.js';
import { DataError, NnunetError } from '../util/errors.js';
import { median, percentile, roundHalfEven } from './math.js';
import {
  computeVramEstimate,
  computeVramEstimateV1,
  convertLegacyPlans,
  determineNormalization,
  determineTargetSpacing,
  determineTranspose,
  getConfiguration,
  getPoolAndConvProps,
  getPoolAndConvPropsV1,
  loadPlans,
  makeV2Planner,
  V2_DEFAULTS,
  nnUNetPlanner,
  nnUNetPlanner2018,
  nnUNetPlannerResEncL,
  nnUNetPlannerResEncM,
  nnUNetPlannerResEncXL,
  nnUNetPlannerV1,
  planFromFiles,
  registerPlanners,
  toV2DatasetJson,
  validatePlans,
  writePlansFile,
} from './index.js';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..');
const SHARED = process.env.NNUNET_SHARED ?? resolve(REPO_ROOT, '..', 'shared');
const PLANS_DIR = resolve(SHARED, 'reference', 'plans');

/** A fingerprint of n cases with per-case spacing `sp(i)` and one shape (RULES.md §22 synthetic inputs). */
function synthetic(n: number, sp: (i: number) => number[], shape: number[], relSize = 1): DatasetFingerprint {
  return {
    foreground_intensity_properties_per_channel: {},
    median_relative_size_after_cropping: relSize,
    spacings: Array.from({ length: n }, (_, i) => sp(i)),
    shapes_after_crop: Array.from({ length: n }, () => [...shape]),
  };
}
function dataset(channels: string[], numLabels: number, numTraining: number): DatasetJson {
  return {
    channel_names: Object.fromEntries(channels.map((c, i) => [String(i), c])),
    labels: Object.fromEntries(Array.from({ length: numLabels }, (_, i) => [i === 0 ? 'background' : `l${i}`, i])),
    numTraining,
    file_ending: '.nii.gz',
  };
}
const arch = (p: Plans, c: string) => p.configurations[c]!.architecture!.arch_kwargs;

describe('numpy / Python semantics', () => {
  it('rounds half to even like Python round()', () => {
    expect([0.5, 1.5, 2.5, 3.5, 2.4999, 2.5001].map(roundHalfEven)).toEqual([0, 2, 2, 4, 2, 3]);
  });
  it('percentile uses numpy linear interpolation; median averages the middle pair', () => {
    const v = Array.from({ length: 100 }, (_, i) => 5 + (5 * i) / 99);
    expect(percentile(v, 10)).toBeCloseTo(5.5, 12);
    expect(percentile([1, 2, 3, 4], 50)).toBe(2.5);
    expect(median([3, 1, 2, 10])).toBe(2.5);
  });
});

describe('decisions', () => {
  it('target spacing: median, or the 10th percentile for anisotropic data (RULES.md §4)', () => {
    expect(determineTargetSpacing([[1, 1, 1], [2, 1, 1], [3, 1, 1]], [[10, 10, 10], [10, 10, 10], [10, 10, 10]])).toEqual([2, 1, 1]);
    const sp = Array.from({ length: 100 }, (_, i) => [5 + (5 * i) / 99, 1.5, 1.5]);
    const t = determineTargetSpacing(sp, sp.map(() => [10, 220, 250]));
    expect(t[0]).toBeCloseTo(5.5, 12);
    // 10th percentile below the in-plane spacing -> max(others) + 1e-5
    const sp2 = [[0.2, 1, 1], [0.2, 1, 1], [4, 1, 1], [4, 1, 1], [4, 1, 1]];
    expect(determineTargetSpacing(sp2, sp2.map(() => [10, 300, 300]))).toEqual([1.00001, 1, 1]);
    // too many voxels along the coarse axis -> plain median
    expect(determineTargetSpacing(sp2, sp2.map(() => [100, 300, 300]))).toEqual([4, 1, 1]);
  });
  it('transpose puts the coarsest axis first (RULES.md §5)', () => {
    expect(determineTranspose([0.86, 0.86, 0.8600001])).toEqual({ forward: [2, 0, 1], backward: [1, 2, 0] });
    expect(determineTranspose([0.9999, 1, 1])).toEqual({ forward: [1, 0, 2], backward: [1, 0, 2] });
    expect(determineTranspose([5, 1, 1], true).forward).toEqual([0, 1, 2]);
  });
  it('normalization per channel name, mask only for z-score when cropping shrank the images (RULES.md §12)', () => {
    const ds = dataset(['CT', 'T2', 'noNorm', 'rescale_to_0_1', 'zscore'], 2, 10);
    expect(determineNormalization(ds, { median_relative_size_after_cropping: 0.5 })).toEqual({
      schemes: ['CTNormalization', 'ZScoreNormalization', 'NoNormalization', 'RescaleTo01Normalization', 'ZScoreNormalization'],
      useMaskForNorm: [false, true, false, false, true],
    });
    expect(determineNormalization(ds, { median_relative_size_after_cropping: 0.8 }).useMaskForNorm).toEqual([false, false, false, false, false]);
    expect(determineNormalization({ ...ds, use_mask_for_norm: true }, { median_relative_size_after_cropping: 0.8 }).useMaskForNorm).toEqual([false, true, false, false, true]);
  });
  it('v2 topology: Hippocampus 3 pools per axis; Prostate anisotropic strides and sticky kernels (RULES.md §6)', () => {
    const h = getPoolAndConvProps([1, 1, 1], [36, 50, 35]);
    expect(h.patchSize).toEqual([40, 56, 40]);
    expect(h.strides).toEqual([[1, 1, 1], [2, 2, 2], [2, 2, 2], [2, 2, 2]]);
    const p = getPoolAndConvProps([3.6, 0.625, 0.625], [20, 320, 320]);
    expect(p.strides).toEqual([[1, 1, 1], [1, 2, 2], [1, 2, 2], [2, 2, 2], [2, 2, 2], [1, 2, 2], [1, 2, 2]]);
    expect(p.kernelSizes).toEqual([[1, 3, 3], [1, 3, 3], [3, 3, 3], [3, 3, 3], [3, 3, 3], [3, 3, 3], [3, 3, 3]]);
    // v1 rule: no stem in nnU-Net's own output (we prepend it), no single-axis rule
    expect(getPoolAndConvPropsV1([3.6, 0.625, 0.625], [20, 320, 320]).strides.slice(1)).toEqual([
      [1, 2, 2], [1, 2, 2], [2, 2, 2], [2, 2, 2], [1, 2, 2], [1, 2, 2],
    ]);
  });
  it('v2 estimate of the Hippocampus plan is 19,174,400 feature-map elements (RULES.md §8, §22)', () => {
    const e = computeVramEstimate([40, 56, 40], { featuresPerStage: [32, 64, 128, 256], strides: [[1, 1, 1], [2, 2, 2], [2, 2, 2], [2, 2, 2]], nConvPerStageDecoder: [2, 2, 2] }, 3);
    expect(e).toBe(19_174_400);
  });
  it('v1 estimate (RULES.md §8 v1): hand-computed 2D Hippocampus value with 30 base features', () => {
    expect(computeVramEstimateV1([56, 40], [[2, 2], [2, 2], [2, 2]], 30, 512, 1, 3)).toBe(613_760);
  });
});

describe('RULES.md §22 synthetic fingerprints (nnUNetPlanner)', () => {
  it('Hippocampus-like: 3d_fullres 40,56,40 bs 9 (vram 58 / cap 9); 2d 56,40 bs 366; no lowres', () => {
    const p = nnUNetPlanner.plan(synthetic(260, () => [1, 1, 1], [36, 50, 35]), dataset(['MRI'], 3, 260));
    const f = p.configurations['3d_fullres']!;
    expect(f.patch_size).toEqual([40, 56, 40]);
    expect(f.batch_size).toBe(9);
    expect(arch(p, '3d_fullres').strides).toEqual([[1, 1, 1], [2, 2, 2], [2, 2, 2], [2, 2, 2]]);
    expect(arch(p, '3d_fullres').kernel_sizes).toEqual(Array(4).fill([3, 3, 3]));
    expect(f.batch_dice).toBe(false);
    expect(p.configurations['2d']!.patch_size).toEqual([56, 40]);
    expect(p.configurations['2d']!.batch_size).toBe(366);
    expect(arch(p, '2d').n_stages).toBe(4);
    expect(p.configurations['3d_lowres']).toBeUndefined();
    // without the 5% cap (ResEnc-style max_dataset_covered = 1) the memory rule alone gives 58
    const r = nnUNetPlanner.plan(synthetic(260000, () => [1, 1, 1], [36, 50, 35]), dataset(['MRI'], 3, 260000));
    expect(r.configurations['3d_fullres']!.batch_size).toBe(58);
  });
  it('Prostate-like: 20,320,256 bs 2 with anisotropic strides; 2d 320,320 bs 32 with 7 stages', () => {
    const p = nnUNetPlanner.plan(synthetic(32, () => [3.6, 0.625, 0.625], [20, 320, 320]), dataset(['T2', 'ADC'], 3, 32));
    expect(p.configurations['3d_fullres']!.patch_size).toEqual([20, 320, 256]);
    expect(p.configurations['3d_fullres']!.batch_size).toBe(2);
    expect(arch(p, '3d_fullres').strides).toEqual([[1, 1, 1], [1, 2, 2], [1, 2, 2], [2, 2, 2], [2, 2, 2], [1, 2, 2], [1, 2, 2]]);
    expect(arch(p, '3d_fullres').kernel_sizes.slice(0, 3)).toEqual([[1, 3, 3], [1, 3, 3], [3, 3, 3]]);
    expect(p.configurations['2d']!.patch_size).toEqual([320, 320]);
    expect(p.configurations['2d']!.batch_size).toBe(32);
    expect(arch(p, '2d').n_stages).toBe(7);
  });
  it('Liver-like CT: fullres 128^3 bs 2 with batch_dice, lowres 2.4273,1.869,1.869 128^3 bs 2, 2d 512,512 bs 12', () => {
    const p = nnUNetPlanner.plan(synthetic(131, () => [1, 0.77, 0.77], [432, 512, 512]), dataset(['CT'], 3, 131));
    const f = p.configurations['3d_fullres']!;
    const l = p.configurations['3d_lowres']!;
    expect(f.patch_size).toEqual([128, 128, 128]);
    expect(f.batch_size).toBe(2);
    expect(arch(p, '3d_fullres').n_stages).toBe(6);
    expect(f.batch_dice).toBe(true);
    expect(l.spacing![0]).toBeCloseTo(2.4273, 4);
    expect(l.spacing![1]).toBeCloseTo(1.869, 3);
    expect(l.patch_size).toEqual([128, 128, 128]);
    expect(l.batch_size).toBe(2);
    expect(l.batch_dice).toBe(false);
    expect(l.next_stage).toBe('3d_cascade_fullres');
    expect(p.configurations['3d_cascade_fullres']).toEqual({ inherits_from: '3d_fullres', previous_stage: '3d_lowres' });
    expect(p.configurations['2d']!.patch_size).toEqual([512, 512]);
    expect(p.configurations['2d']!.batch_size).toBe(12);
    expect(arch(p, '2d').n_stages).toBe(8);
    expect(validatePlans(p)).toEqual([]);
  });
  it('10th-percentile z spacing: 5.5,1.5,1.5, patch 14,224,256, bs 5', () => {
    const p = nnUNetPlanner.plan(synthetic(100, (i) => [5 + (5 * i) / 99, 1.5, 1.5], [10, 220, 250]), dataset(['MRI'], 2, 100));
    const f = p.configurations['3d_fullres']!;
    expect(f.spacing![0]).toBeCloseTo(5.5, 10);
    expect(f.patch_size).toEqual([14, 224, 256]);
    expect(f.batch_size).toBe(5);
    expect(arch(p, '3d_fullres').strides.slice(0, 4)).toEqual([[1, 1, 1], [1, 2, 2], [2, 2, 2], [1, 2, 2]]);
    expect(arch(p, '3d_fullres').kernel_sizes.slice(0, 2)).toEqual([[1, 3, 3], [3, 3, 3]]);
  });
});

describe('planner variants and options', () => {
  const fp = synthetic(131, () => [1, 0.77, 0.77], [432, 512, 512]);
  const ds = dataset(['CT'], 3, 131);
  it('ResEnc presets: ResidualEncoderUNet with (1,3,4,6,6,6) blocks, larger patches for L / XL, valid plans', () => {
    const m = nnUNetPlannerResEncM.plan(fp, ds);
    expect(m.configurations['3d_fullres']!.architecture!.network_class_name).toBe('dynamic_network_architectures.architectures.unet.ResidualEncoderUNet');
    expect(arch(m, '3d_fullres').n_blocks_per_stage).toEqual([1, 3, 4, 6, 6, 6]);
    expect(arch(m, '3d_fullres').n_conv_per_stage_decoder).toEqual([1, 1, 1, 1, 1]);
    expect(m.configurations['2d']!.data_identifier).toBe('nnUNetPlans_2d');
    const vox = (p: Plans) => p.configurations['3d_fullres']!.patch_size!.reduce((a, b) => a * b, 1);
    const l = nnUNetPlannerResEncL.plan(fp, ds);
    const xl = nnUNetPlannerResEncXL.plan(fp, ds);
    expect(vox(l)).toBeGreaterThan(vox(m));
    expect(vox(xl)).toBeGreaterThanOrEqual(vox(l));
    expect(l.plans_name).toBe('nnUNetResEncUNetLPlans');
    for (const p of [m, l, xl]) expect(validatePlans(p)).toEqual([]);
  });
  it('2018 planner: 30 base features, at most 5 poolings, pooled axes keep >= 8 voxels, bs >= 1', () => {
    const p = nnUNetPlanner2018.plan(fp, ds);
    expect(validatePlans(p)).toEqual([]);
    for (const c of ['3d_fullres', '2d']) {
      const a = arch(p, c);
      expect(a.features_per_stage[0]).toBe(30);
      const patch = p.configurations[c]!.patch_size!;
      patch.forEach((s, ax) => {
        const pools = a.strides.filter((st) => st[ax] === 2).length;
        expect(pools).toBeLessThanOrEqual(5);
        expect(s / 2 ** pools).toBeGreaterThanOrEqual(8);
      });
    }
    // 3D patch fits the memory of 128^3 at batch 2; median (432x664x664 at 0.77) >= 4x patch -> cascade
    expect(p.configurations['3d_fullres']!.patch_size!.reduce((a, b) => a * b, 1)).toBeLessThanOrEqual(128 ** 3 * 1.5);
    expect(p.configurations['3d_lowres']).toBeDefined();
  });
  it('options: suppressTranspose, overwriteTargetSpacing (fullres only), gpuMemoryTargetGb, plansName', () => {
    const aniso = synthetic(20, () => [1, 1, 4], [200, 200, 40]);
    const d = dataset(['MRI'], 2, 20);
    expect(nnUNetPlanner.plan(aniso, d).transpose_forward).toEqual([2, 0, 1]);
    expect(nnUNetPlanner.plan(aniso, d, { suppressTranspose: true }).transpose_forward).toEqual([0, 1, 2]);
    const o = nnUNetPlanner.plan(fp, ds, { overwriteTargetSpacing: [2, 1.5, 1.5], plansName: 'custom' });
    expect(o.configurations['3d_fullres']!.spacing).toEqual([2, 1.5, 1.5]);
    expect(o.configurations['2d']!.spacing).toEqual([1.5, 1.5]); // nnU-Net derives 2d from the fullres spacing
    expect(nnUNetPlanner.plan(fp, ds, { overwriteTargetSpacing: [1, 1, 3] }).transpose_forward).toEqual([2, 0, 1]);
    expect(o.configurations['3d_fullres']!.data_identifier).toBe('custom_3d_fullres');
    const big = nnUNetPlanner.plan(fp, ds, { gpuMemoryTargetGb: 24 });
    expect(big.configurations['3d_fullres']!.patch_size!.reduce((a, b) => a * b, 1)).toBeGreaterThan(128 ** 3);
  });
  it('a variant replaces one decision (here batch_dice and the reference value) without copying the planner', () => {
    const variant = makeV2Planner({
      ...V2_DEFAULTS,
      name: 'alwaysBatchDice',
      referenceVal3d: 2 * V2_DEFAULTS.referenceVal3d,
      decide: { ...V2_DEFAULTS.decide, batchDice: () => true },
    });
    const p = variant.plan(fp, ds);
    expect(p.configurations['3d_lowres']!.batch_dice).toBe(true);
    expect(p.configurations['3d_fullres']!.patch_size!.reduce((a, b) => a * b, 1)).toBeGreaterThan(128 ** 3);
  });
  it('2D data stored with the singleton axis last is planned as 2D (bad input B22), v2 and v1', () => {
    // NIfTI 64x48x1 read as [z,y,x] would be [1,48,64]; here the singleton sits on x with the finest spacing
    const fp2 = synthetic(5, () => [1, 1, 0.5], [48, 64, 1]);
    const d2 = dataset(['MRI'], 2, 5);
    for (const planner of [nnUNetPlanner, nnUNetPlannerV1]) {
      const p = planner.plan(fp2, d2);
      expect(p.transpose_forward).toEqual([2, 0, 1]);
      expect(Object.keys(p.configurations)).toEqual(['2d']);
      expect(p.configurations['2d']!.patch_size).toEqual([48, 64]);
      expect(validatePlans(p)).toEqual([]);
    }
  });
  it('rejects an empty fingerprint and a dataset.json without channels with a DataError', () => {
    expect(() => nnUNetPlanner.plan({ ...fp, spacings: [], shapes_after_crop: [] }, ds)).toThrow(DataError);
    expect(() => nnUNetPlanner.plan(fp, { ...ds, channel_names: {} })).toThrow(/channel_names/);
    const zero = { ...fp, spacings: fp.spacings.map((s, i) => (i === 3 ? [0, 1, 1] : s)) };
    expect(() => nnUNetPlanner.plan(zero, ds)).toThrow(/case #3: spacing \[0, 1, 1\]/);
  });
});

describe('plans files', () => {
  const base = nnUNetPlanner.plan(synthetic(131, () => [1, 0.77, 0.77], [432, 512, 512]), dataset(['CT'], 3, 131));
  it('getConfiguration resolves inherits_from, reports unknown names with the available ones, detects cycles', () => {
    const casc = getConfiguration(base, '3d_cascade_fullres');
    expect(casc.patch_size).toEqual(base.configurations['3d_fullres']!.patch_size);
    expect(casc.previous_stage).toBe('3d_lowres');
    expect(casc.inherits_from).toBeUndefined();
    expect(() => getConfiguration(base, '3d_nope')).toThrow(NnunetError);
    try {
      getConfiguration(base, '3d_nope');
    } catch (e) {
      expect((e as NnunetError).hint).toContain('2d, 3d_lowres, 3d_fullres, 3d_cascade_fullres');
    }
    const cyc: Plans = { ...base, configurations: { a: { inherits_from: 'b' }, b: { inherits_from: 'a' } } };
    expect(() => getConfiguration(cyc, 'a')).toThrow(/cycle a -> b -> a/);
  });
  it('writePlansFile is atomic and loadPlans round-trips; legacy files are converted to the arch-dict form', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'plans-'));
    const path = join(dir, 'sub', 'nnUNetPlans.json');
    await writePlansFile(path, base);
    expect(readdirSync(join(dir, 'sub'))).toEqual(['nnUNetPlans.json']);
    expect(loadPlans(path)).toEqual(base);
    const legacy = JSON.parse(readFileSync(resolve(PLANS_DIR, 'amos22_ct_jonasbckr', 'nnUNetPlans.json'), 'utf8')) as Plans;
    writeFileSync(join(dir, 'legacy.json'), JSON.stringify(legacy));
    const conv = loadPlans(join(dir, 'legacy.json'));
    const c = conv.configurations['3d_fullres']!;
    expect(c.UNet_class_name).toBeUndefined();
    expect(c.pool_op_kernel_sizes).toBeUndefined();
    expect(c.architecture!.arch_kwargs.strides).toEqual(legacy.configurations['3d_fullres']!.pool_op_kernel_sizes);
    expect(c.architecture!.arch_kwargs.features_per_stage).toEqual([32, 64, 128, 256, 320, 320]);
    expect(c.architecture!.arch_kwargs.n_conv_per_stage).toEqual([2, 2, 2, 2, 2, 2]);
    expect(Object.keys(c).slice(-2)).toEqual(['architecture', 'batch_dice']);
    expect(validatePlans(convertLegacyPlans(legacy))).toEqual([]);
    writeFileSync(join(dir, 'bad.json'), '{nope');
    expect(() => loadPlans(join(dir, 'bad.json'))).toThrow(/bad\.json/);
    expect(() => loadPlans(join(dir, 'missing.json'))).toThrow(DataError);
  });
  it('validatePlans flags a patch not divisible by its strides', () => {
    const broken: Plans = JSON.parse(JSON.stringify(base));
    broken.configurations['3d_fullres']!.patch_size = [100, 128, 128];
    expect(validatePlans(broken).join('\n')).toMatch(/3d_fullres: patch axis 0 = 100 is not divisible by 32/);
  });
});

describe('dataset.json and planFromFiles', () => {
  it('converts an MSD v1 dataset.json (modality, value->name labels)', () => {
    const v2 = toV2DatasetJson({ modality: { '0': 'T2', '1': 'ADC' }, labels: { '0': 'background', '1': 'PZ', '2': 'TZ' }, numTraining: 32 });
    expect(v2.channel_names).toEqual({ '0': 'T2', '1': 'ADC' });
    expect(v2.labels).toEqual({ background: 0, PZ: 1, TZ: 2 });
    expect(v2.file_ending).toBe('.nii.gz');
    expect(() => toV2DatasetJson({ labels: {}, numTraining: 1 })).toThrow(DataError);
  });
  it('plans MSD Task05 Prostate from files: v1 planner reproduces the v2.1 plans, the v2 planner the same 3D patch', async () => {
    const dir = resolve(PLANS_DIR, 'v1_msd_task05_prostate');
    expect(existsSync(dir)).toBe(true);
    const v1 = await planFromFiles(join(dir, 'dataset_fingerprint.json'), join(dir, 'dataset.json'), { planner: nnUNetPlannerV1 });
    expect(v1.configurations['3d_fullres']!.patch_size).toEqual([20, 320, 256]);
    expect(v1.configurations['2d']!.batch_size).toBe(32);
    const reg = new Registry();
    registerPlanners(reg);
    const out = join(mkdtempSync(join(tmpdir(), 'pff-')), 'nnUNetPlans.json');
    const v2 = await planFromFiles(join(dir, 'dataset_fingerprint.json'), join(dir, 'dataset.json'), { planner: 'nnUNetPlanner', registry: reg, outputPath: out });
    expect(v2.configurations['3d_fullres']!.patch_size).toEqual([20, 320, 256]);
    expect((loadPlans(out)).configurations['3d_fullres']!.batch_size).toBe(v2.configurations['3d_fullres']!.batch_size);
  });
  it('registerPlanners registers every planner once; a second call throws unless override', () => {
    const reg = new Registry();
    registerPlanners(reg);
    expect(reg.names('planner').sort()).toEqual(
      ['nnUNetPlanner', 'nnUNetPlanner2018', 'nnUNetPlannerLegacy', 'nnUNetPlannerResEncL', 'nnUNetPlannerResEncM', 'nnUNetPlannerResEncXL', 'nnUNetPlannerV1', 'nnUNetPlannerV1Original', 'nnUNetResEncUNetM', 'nnUNetResEncUNetL', 'nnUNetResEncUNetXL'].sort(),
    );
    expect(reg.get('planner', 'nnUNetPlannerV1')).toBe(nnUNetPlannerV1);
    const fpHippo = synthetic(260, () => [1, 1, 1], [36, 50, 35]);
    const dsHippo = dataset(['MRI'], 3, 260);
    const viaAlias = reg.get('planner', 'nnUNetResEncUNetM').plan(fpHippo, dsHippo);
    const direct = nnUNetPlannerResEncM.plan(fpHippo, dsHippo);
    expect(viaAlias.configurations['3d_fullres']).toEqual(direct.configurations['3d_fullres']);
    expect(() => registerPlanners(reg)).toThrow();
    expect(() => registerPlanners(reg, { override: true })).not.toThrow();
  });
});

describe('v1 plans conversion', () => {
  it('converts v1 Hippocampus 3D + 2D plans and the 2-stage CTPelvic1K plans to the v2 schema', async () => {
    const { convertV1Plans } = await import('./v1-plans.js');
    const rd = (...p: string[]) => JSON.parse(readFileSync(resolve(PLANS_DIR, ...p), 'utf8')) as unknown;
    const h = convertV1Plans(rd('v1_msd_task04_hippocampus', 'nnUNetPlans.json'), rd('v1_msd_task04_hippocampus', 'nnUNetPlans_2D.json'));
    expect(validatePlans(h)).toEqual([]);
    expect(Object.keys(h.configurations)).toEqual(['2d', '3d_fullres']);
    expect(h.configurations['3d_fullres']!.patch_size).toEqual([40, 56, 40]);
    expect(h.configurations['3d_fullres']!.batch_size).toBe(9);
    expect(h.configurations['3d_fullres']!.architecture!.arch_kwargs.strides).toEqual([[1, 1, 1], [2, 2, 2], [2, 2, 2], [2, 2, 2]]);
    expect(h.configurations['2d']!.spacing).toEqual([1, 1]);
    // our v1 planner on the derived fingerprint gives the same configurations
    const fp = rd('v1_msd_task04_hippocampus', 'dataset_fingerprint.json') as DatasetFingerprint;
    const ours = nnUNetPlannerV1.plan(fp, dataset(['MRI'], 3, fp.spacings.length));
    for (const c of ['2d', '3d_fullres']) {
      expect(ours.configurations[c]!.patch_size).toEqual(h.configurations[c]!.patch_size);
      expect(ours.configurations[c]!.batch_size).toEqual(h.configurations[c]!.batch_size);
      expect(ours.configurations[c]!.architecture!.arch_kwargs.kernel_sizes).toEqual(h.configurations[c]!.architecture!.arch_kwargs.kernel_sizes);
    }
    const ct = convertV1Plans(rd('v1_ctpelvic1k_ct', 'nnUNetPlans.json'));
    expect(Object.keys(ct.configurations)).toEqual(['3d_lowres', '3d_fullres', '3d_cascade_fullres']);
    expect(ct.configurations['3d_fullres']!.batch_dice).toBe(true);
    expect(ct.configurations['3d_fullres']!.data_identifier).toBe('nnUNet_stage1');
    expect(ct.configurations['3d_fullres']!.architecture!.arch_kwargs.features_per_stage[0]).toBe(30);
    expect(ct.foreground_intensity_properties_per_channel['0']!.std).toBeGreaterThan(0);
    expect(validatePlans(ct)).toEqual([]);
    expect(() => convertV1Plans({})).toThrow(DataError);
  });
});
