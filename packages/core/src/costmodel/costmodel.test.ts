import { describe, expect, it } from 'vitest';
import type { ArchitectureSpec, Plans } from '../contracts/plans.js';
import { networkCost, trainingBytes, trainingUnits } from './network-cost.js';
import { RUNTIME_BYTES, trainingDataBytes, casesToPredict, costFrom, describeProgress, epochsLeft, estimateStages, formatDuration, hostCpuShare, hostPredictSeconds, hostVoxelsPerSecond, mirrorFactor, predictCaseSeconds, scaleCalibration, shapeAtConfiguration, tilesFor, type RunShape } from './estimate.js';
import { calibrationCurrent, iterationWithWorkers, steadyMedian, type Calibration } from './calibrate.js';
import { hostPredictCaseSeconds, hostRatesFrom, separableVoxels, type HostCalibration, type HostRates } from './host-calibrate.js';
import { availableMemory, nvidiaGpuMemory, scaledValidationIterations } from './time-budget.js';
import type { ComputeBackend } from '../contracts/backend.js';
import { totalmem } from 'node:os';

function plain(features: number[], strides: number[][], kernels: number[][]): ArchitectureSpec {
  return {
    network_class_name: 'dynamic_network_architectures.architectures.unet.PlainConvUNet',
    arch_kwargs: {
      n_stages: features.length, features_per_stage: features, conv_op: 'torch.nn.modules.conv.Conv3d', kernel_sizes: kernels, strides,
      n_conv_per_stage: features.map(() => 2), n_conv_per_stage_decoder: features.slice(1).map(() => 2), conv_bias: true,
      norm_op: 'torch.nn.modules.instancenorm.InstanceNorm3d', norm_op_kwargs: { eps: 1e-5, affine: true }, dropout_op: null, dropout_op_kwargs: null,
      nonlin: 'torch.nn.LeakyReLU', nonlin_kwargs: { inplace: true },
    },
    _kw_requires_import: [],
  };
}

describe('networkCost', () => {
  const two = plain([4, 8], [[1, 1, 1], [2, 2, 2]], [[3, 3, 3], [3, 3, 3]]);
  it('counts every conv of a 2-stage PlainConvUNet by hand (2 FLOPs per multiply-add)', () => {
    // encoder 1->4, 4->4 at 8^3; 4->8, 8->8 at 4^3; decoder transp 8->4 (k 2^3), 8->4, 4->4 at 8^3; head 4->2
    const hand = 2 * (1 * 4 * 27 * 512 + 4 * 4 * 27 * 512 + 4 * 8 * 27 * 64 + 8 * 8 * 27 * 64 + 8 * 4 * 8 * 512 + 8 * 4 * 27 * 512 + 4 * 4 * 27 * 512 + 4 * 2 * 512);
    expect(networkCost(two, [8, 8, 8], 1, 2).forwardFlops).toBe(hand);
    expect(networkCost(two, [8, 8, 8], 1, 2).activationElements).toBe(4 * 512 * 2 + 8 * 64 * 2 + 4 * 512 * 3 + 2 * 512);
  });

  it('deep supervision adds the heads of the lower decoder stages only', () => {
    const three = plain([4, 8, 16], [[1, 1, 1], [2, 2, 2], [2, 2, 2]], [[3, 3, 3], [3, 3, 3], [3, 3, 3]]);
    const on = networkCost(three, [16, 16, 16], 1, 3, true).forwardFlops;
    const off = networkCost(three, [16, 16, 16], 1, 3, false).forwardFlops;
    expect(on - off).toBe(2 * 8 * 3 * 8 ** 3);
  });

  it('scales with the patch and batch; rejects a 2D patch for 3D kernels', () => {
    expect(trainingUnits(two, [16, 16, 16], 2, 1, 2)).toBe(2 * 3 * networkCost(two, [16, 16, 16], 1, 2).forwardFlops);
    expect(networkCost(two, [16, 16, 16], 1, 2).forwardFlops).toBe(8 * networkCost(two, [8, 8, 8], 1, 2).forwardFlops);
    expect(() => networkCost(two, [8, 8], 1, 2)).toThrow(/does not match the architecture's 3-D kernels/);
  });
});

describe('estimates', () => {
  it('tiles follow the step rule of RULES.md §18', () => {
    expect(tilesFor([40, 56, 40], [40, 56, 40], 0.5)).toBe(1);
    // 450 with patch 256, step 128: ceil(194 / 128) + 1 = 3 steps per in-plane axis
    expect(tilesFor([24, 450, 450], [24, 256, 256], 0.5)).toBe(9);
    // smaller than the patch: padded, one tile
    expect(tilesFor([10, 20, 20], [16, 32, 32], 0.5)).toBe(1);
    // 2d: every slice, tiles per slice
    expect(tilesFor([24, 450, 450], [256, 256], 0.5)).toBe(24 * 9);
    expect(mirrorFactor([1, 2, 3], true)).toBe(8);
    expect(mirrorFactor([1, 2], true)).toBe(4);
    expect(mirrorFactor([1, 2, 3], false)).toBe(1);
  });

  it('shape at a configuration follows the transpose and the spacing ratio', () => {
    const plans = { transpose_forward: [2, 0, 1] } as unknown as Plans;
    // original [z, y, x] = [24, 512, 400] at [6.5, 0.5, 0.4]; transposed [x, z, y]; target [0.8, 6.5, 1]
    expect(shapeAtConfiguration(plans, { spacing: [0.8, 6.5, 1] }, [6.5, 0.5, 0.4], [24, 512, 400])).toEqual([200, 24, 256]);
    // 2d: the first (slice) axis keeps its count
    expect(shapeAtConfiguration({ transpose_forward: [0, 1, 2] } as unknown as Plans, { spacing: [1, 1] }, [6.5, 0.5, 0.5], [24, 512, 512])).toEqual([24, 256, 256]);
  });

  it('scales a calibration by FLOPs and activations', () => {
    const arch = plain([4, 8], [[1, 1, 1], [2, 2, 2]], [[3, 3, 3], [3, 3, 3]]);
    const cal: Calibration = {
      key: 'k', backend: 'cpu', patchSize: [8, 8, 8], batchSize: 2, secondsPerIteration: 0.5, secondsPerTile: 0.1, trainingBytes: 1000,
      trainingUnits: trainingUnits(arch, [8, 8, 8], 2, 1, 2), tileFlops: networkCost(arch, [8, 8, 8], 1, 2, false).forwardFlops,
      activationElements: 2 * networkCost(arch, [8, 8, 8], 1, 2).activationElements, measuredAt: '',
    };
    const s = scaleCalibration(cal, { architecture: arch, patch_size: [16, 16, 16] }, 4, 1, 2);
    expect(s.secondsPerIteration).toBeCloseTo(0.5 * 8 * 2, 10);
    expect(s.secondsPerTile).toBeCloseTo(0.1 * 8, 10);
    expect(s.trainingBytes).toBeCloseTo(1000 * 8 * 2, 6);
  });

  it('a case costs the mean tiles of the dataset, not the tiles of its median shape', () => {
    const plans = { transpose_forward: [0, 1, 2] } as unknown as Plans;
    const cfg = { spacing: [1, 1, 1], patch_size: [40, 56, 40] };
    // two cases of the patch size, one 10 slices longer: 1, 1 and 2 tiles; the median shape has 1
    const fingerprint = { spacings: [[1, 1, 1], [1, 1, 1], [1, 1, 1]], shapes_after_crop: [[40, 56, 40], [40, 56, 40], [50, 56, 40]] };
    const r = { plans, fingerprint, channels: 1, numClasses: 3, mirror: true, stepSize: 0.5 } as unknown as RunShape;
    const withTiles = predictCaseSeconds(r, cfg, 1, 1);
    const hostOnly = predictCaseSeconds(r, cfg, 0, 1);
    // 4/3 tiles x 8 mirror combinations x 1 s; host time cancels (within its CPU-share probe's drift)
    expect(withTiles - hostOnly).toBeCloseTo((4 / 3) * 8, 1);
    expect(predictCaseSeconds(r, cfg, 1, 5) - predictCaseSeconds(r, cfg, 0, 5)).toBeCloseTo((4 / 3) * 8 * 5, 1);
  });

  it('test images count their own tiles (from their headers), scaled by the training crop', () => {
    const plans = { transpose_forward: [0, 1, 2] } as unknown as Plans;
    const cfg = { spacing: [1, 1, 1], patch_size: [40, 56, 40] };
    // the training cases are one tile each; the Hippocampus test images of README command 1 are not all
    const fingerprint = { median_relative_size_after_cropping: 1, spacings: [[1, 1, 1], [1, 1, 1]], shapes_after_crop: [[40, 56, 40], [35, 50, 34]] };
    const r = { plans, fingerprint, channels: 1, numClasses: 3, mirror: true, stepSize: 0.5 } as unknown as RunShape;
    // [z, y, x] of hippocampus_008, _020 (43 slices: 2 tiles) and _056 (42 slices, 41 columns: 4 tiles)
    const images = [{ shape: [40, 48, 36], spacing: [1, 1, 1] }, { shape: [43, 46, 36], spacing: [1, 1, 1] }, { shape: [42, 47, 41], spacing: [1, 1, 1] }];
    expect(casesToPredict(fingerprint as never, images).map((c) => tilesFor(c.shape, cfg.patch_size, 0.5))).toEqual([1, 2, 4]);
    const cases = casesToPredict(fingerprint as never, images);
    expect(predictCaseSeconds(r, cfg, 1, 1, cases) - predictCaseSeconds(r, cfg, 0, 1, cases)).toBeCloseTo((7 / 3) * 8, 1);
    expect(predictCaseSeconds(r, cfg, 1, 1) - predictCaseSeconds(r, cfg, 0, 1)).toBeCloseTo(8, 1);
    // brain MRI cropped to 0.512 of its voxels: 0.8 per axis (the nonzero box is unknown before reading the voxels)
    const cropped = casesToPredict({ ...fingerprint, median_relative_size_after_cropping: 0.512 } as never, [{ shape: [100, 200, 50], spacing: [1, 1, 1] }]);
    expect(cropped[0]!.shape).toEqual([80, 160, 40]);
    // without header shapes: the training cases
    expect(casesToPredict(fingerprint as never, undefined).map((c) => c.shape)).toEqual(fingerprint.shapes_after_crop);
  });

  it('formats durations', () => {
    expect(formatDuration(12.4)).toBe('12s');
    expect(formatDuration(200)).toBe('3m 20s');
    expect(formatDuration(3720)).toBe('1h 02m');
  });
});

describe('calibration cache', () => {
  it('a cached calibration is reused only under about the same load', () => {
    const c = { loadAverage: 1.2 } as Calibration;
    expect(calibrationCurrent(c, 1.5, 2)).toBe(true);
    expect(calibrationCurrent(c, 2.1, 2)).toBe(true);
    expect(calibrationCurrent(c, 6, 2)).toBe(false);
    expect(calibrationCurrent({ ...c, loadAverage: 30 }, 0.3, 2)).toBe(false);
    expect(calibrationCurrent({ ...c, loadAverage: undefined }, 1, 2)).toBe(false);
  });
});

describe('memory available to a run', () => {
  const backend = (info: Partial<ComputeBackend['info']>) => ({ info: { name: 'x', description: 'x', gpu: false, ...info } }) as unknown as ComputeBackend;
  it('a GPU backend that reports its memory plans for it; a CPU backend for the machine', () => {
    expect(availableMemory(backend({ gpu: true, memoryBytes: 24 * 2 ** 30 }))).toBe(24 * 2 ** 30);
    const cpu = availableMemory(backend({}));
    expect(cpu).toBeGreaterThan(process.memoryUsage().rss);
    expect(cpu).toBeLessThanOrEqual(totalmem() + process.memoryUsage().rss);
  });
  it('a GPU backend that does not know its memory: nvidia-smi when present, else the 8 GiB nnU-Net plans for', () => {
    const m = availableMemory(backend({ gpu: true }));
    expect(m).toBe(nvidiaGpuMemory() ?? 8 * 2 ** 30);
  });
});

describe('host speed', () => {
  it('the share of a core is in (0, 1] and scales the host throughput', () => {
    const share = hostCpuShare();
    expect(share).toBeGreaterThan(0);
    expect(share).toBeLessThanOrEqual(1);
    expect(hostVoxelsPerSecond()).toBeCloseTo(25e6 * share, 0);
  });
});

describe('validation iterations under a time budget', () => {
  it("keep nnU-Net's 50 per 250 ratio when an epoch is shortened, at least 1, never more than the budget's", () => {
    expect(scaledValidationIterations(50, 250, 250)).toBe(50);
    expect(scaledValidationIterations(50, 250, 62)).toBe(12);
    expect(scaledValidationIterations(50, 250, 2)).toBe(1);
    // the quick preset: 2 per 30
    expect(scaledValidationIterations(2, 30, 30)).toBe(2);
    expect(scaledValidationIterations(2, 30, 20)).toBe(1);
  });
});

describe('host work per case (read, preprocess, resample, export, write)', () => {
  const rates: HostRates = { read: 1e-8, preprocess: 2e-8, resampleData: 5e-8, export: 1e-8, resampleProbabilities: 3e-8, write: 1e-8, preprocessCase: 0, resampleCase: 0 };

  it('counts the voxels each per-axis pass of the resampler reads and writes, none for an axis that keeps its size', () => {
    // x: 24*512*512 read + 24*512*110 written; y: 24*512*110 + 24*110*110; z unchanged
    expect(separableVoxels([24, 512, 512], [24, 110, 110])).toBe(6291456 + 1351680 + 1351680 + 290400);
    expect(separableVoxels([24, 110, 110], [24, 512, 512])).toBe(290400 + 1351680 + 1351680 + 6291456);
    expect(separableVoxels([10, 20, 30], [10, 20, 30])).toBe(0);
    expect(separableVoxels([10, 20, 30], [5, 20, 30])).toBe(6000 + 3000);
  });

  it('estimates each case from its own shape and zoom: a case at the target spacing pays no resampling', () => {
    const plans = { transpose_forward: [0, 1, 2] } as unknown as Plans;
    const host = { rates } as HostCalibration;
    const n = 24 * 512 * 512;
    const sep = 9285216;
    // (read + preprocess) x 2 channels x n + resample x 2 x sep + export x 3 classes x n + resample back x 3 x sep + write x n
    const large = 3e-8 * 2 * n + 5e-8 * 2 * sep + 1e-8 * 3 * n + 3e-8 * 3 * sep + 1e-8 * n;
    expect(hostPredictCaseSeconds(rates, 2, 3, [24, 512, 512], [24, 110, 110])).toBeCloseTo(large, 12);
    expect(large).toBeCloseTo(2.39333664, 8);
    // already at the configuration's spacing: (3e-8 x 2 + 1e-8 x 3 + 1e-8) x 200000 = 0.02 s
    expect(hostPredictCaseSeconds(rates, 2, 3, [20, 100, 100], [20, 100, 100])).toBeCloseTo(0.02, 12);
    const cases = [{ shape: [24, 512, 512], spacing: [6.5, 0.43, 0.43] }, { shape: [20, 100, 100], spacing: [6.5, 2, 2] }];
    expect(hostPredictSeconds({ channels: 2, numClasses: 3, host, plans }, [[24, 110, 110], [20, 100, 100]], cases)).toBeCloseTo((large + 0.02) / 2, 12);
    // the configuration's axis order: a transposed plan counts the case's axes transposed
    const tPlans = { transpose_forward: [2, 0, 1] } as unknown as Plans;
    expect(hostPredictSeconds({ channels: 2, numClasses: 3, host, plans: tPlans }, [[512, 24, 512]], [{ shape: [24, 512, 512], spacing: [0.43, 6.5, 0.43] }])).toBeCloseTo(hostPredictCaseSeconds(rates, 2, 3, [512, 24, 512], [512, 24, 512]), 12);
  });

  it('rates from the steady-state step times at the own and at the target spacing reproduce both', () => {
    const own = { read: 0.2, preprocess: 0.5, export: 0.4, write: 0.1, preprocessCase: 0.9 };
    const flat = { read: 0.2, preprocess: 0.1, export: 0.1, write: 0.1, preprocessCase: 0.3 };
    // 10x100x100 -> 10x50x50: 150000 + 75000 separable voxels either way
    const r = hostRatesFrom(own, flat, [10, 100, 100], [10, 50, 50], 2, 3);
    expect(r.read).toBeCloseTo(1e-6, 15);
    expect(r.preprocess).toBeCloseTo(5e-7, 15);
    expect(r.resampleData).toBeCloseTo(0.4 / (2 * 225000), 15);
    expect(r.resampleProbabilities).toBeCloseTo(0.3 / (3 * 225000), 15);
    expect(r.write).toBeCloseTo(1e-6, 15);
    expect(hostPredictCaseSeconds(r, 2, 3, [10, 100, 100], [10, 50, 50])).toBeCloseTo(0.2 + 0.5 + 0.4 + 0.1, 12);
    expect(hostPredictCaseSeconds(r, 2, 3, [10, 100, 100], [10, 100, 100])).toBeCloseTo(0.2 + 0.1 + 0.1 + 0.1, 12);
    // a resampling step timed faster than the copy (noise) costs nothing, never a negative time
    expect(hostRatesFrom({ ...own, export: 0.05 }, flat, [10, 100, 100], [10, 50, 50], 2, 3).resampleProbabilities).toBe(0);
  });

  it('resamplings timed on their own give the resampling rates, whatever the difference of the totals', () => {
    const own = { read: 0.2, preprocess: 0.1, export: 0.05, write: 0.1, preprocessCase: 0.3 };
    const flat = { read: 0.2, preprocess: 0.1, export: 0.1, write: 0.1, preprocessCase: 0.3 };
    const r = hostRatesFrom(own, flat, [10, 100, 100], [10, 50, 50], 2, 3, { data: 0.045, probabilities: 0.0675, seg: 0.02 });
    expect(r.resampleData).toBeCloseTo(0.045 / (2 * 225000), 15);
    expect(r.resampleProbabilities).toBeCloseTo(0.0675 / (3 * 225000), 15);
    expect(r.resampleCase).toBeCloseTo(0.065 / (3 * 225000), 15);
    expect(r.preprocess).toBeCloseTo(0.1 / (2 * 1e5), 15);
  });
});

describe('training iteration with data-loading workers', () => {
  it('overlaps the batch with the step: the longer of the step and the batch over the workers', () => {
    expect(iterationWithWorkers(1, 0.4, 0)).toBe(1);
    expect(iterationWithWorkers(1, 0.4, 1)).toBeCloseTo(0.6, 12);
    expect(iterationWithWorkers(1, 0.8, 1)).toBeCloseTo(0.8, 12);
    expect(iterationWithWorkers(1, 0.8, 2)).toBeCloseTo(0.4, 12);
    expect(iterationWithWorkers(1, 1.5, 1)).toBe(1); // data cannot exceed the iteration it was part of
  });

  it('no faster than the CPU work over the cores: a step on every core leaves none free for the worker', () => {
    // 1 s serial, 0.4 s of it loading (0.4 CPU s on one thread), the step 0.6 s on 2 cores (1.2 CPU s): 1.6 CPU s / 2 cores
    expect(iterationWithWorkers(1, 0.4, 1, { seconds: 1.6, cores: 2 })).toBeCloseTo(0.8, 12);
    // a step on one core of two: the worker has a core of its own, the longer of the two
    expect(iterationWithWorkers(1, 0.4, 1, { seconds: 1.0, cores: 2 })).toBeCloseTo(0.6, 12);
    // never more than the serial iteration, nothing without workers
    expect(iterationWithWorkers(1, 0.4, 1, { seconds: 3, cores: 2 })).toBe(1);
    expect(iterationWithWorkers(1, 0.4, 0, { seconds: 1.6, cores: 2 })).toBe(1);
  });

  it('costFrom bounds the overlap by the measured CPU seconds, exact and interpolated; not for entries without them', () => {
    const arch = plain([4, 8], [[1, 1, 1], [2, 2, 2]], [[3, 3, 3], [3, 3, 3]]);
    const cfg = { architecture: arch, patch_size: [16, 16, 16], batch_size: 2 } as never;
    const units = trainingUnits(arch, [16, 16, 16], 2, 1, 2);
    const tile = networkCost(arch, [16, 16, 16], 1, 2, false).forwardFlops;
    const cal = { secondsPerIteration: 1, dataSecondsPerIteration: 0.4, cpuSecondsPerIteration: 1.6, dataCpuSecondsPerIteration: 0.4, cores: 2, secondsPerTile: 0.1, trainingBytes: 1, trainingUnits: units, tileFlops: tile, activationElements: 1 } as Calibration;
    expect(costFrom([cal], cfg, 2, 1, 2, 1).secondsPerIteration).toBeCloseTo(0.8, 12);
    expect(costFrom([cal], cfg, 2, 1, 2, 0).secondsPerIteration).toBe(1);
    // half and twice the units: step CPU 0.6 and 2.4, data CPU 0.2 and 0.8, interpolated to 1.2 + 0.4 at the units
    const half = { ...cal, trainingUnits: units / 2, tileFlops: tile / 2, secondsPerIteration: 0.5, dataSecondsPerIteration: 0.2, cpuSecondsPerIteration: 0.8, dataCpuSecondsPerIteration: 0.2 };
    const twice = { ...cal, trainingUnits: units * 2, tileFlops: tile * 2, secondsPerIteration: 2, dataSecondsPerIteration: 0.8, cpuSecondsPerIteration: 3.2, dataCpuSecondsPerIteration: 0.8 };
    expect(costFrom([half, twice], cfg, 2, 1, 2, 1).secondsPerIteration).toBeCloseTo(0.8, 12);
    // an entry cached before the CPU seconds were measured: the overlap alone (0.6)
    const { cpuSecondsPerIteration: _c, dataCpuSecondsPerIteration: _d, ...old } = cal;
    expect(costFrom([old as Calibration], cfg, 2, 1, 2, 1).secondsPerIteration).toBeCloseTo(0.6, 12);
  });

  it('costFrom applies the overlap to the calibrated iteration, exact and interpolated', () => {
    const arch = plain([4, 8], [[1, 1, 1], [2, 2, 2]], [[3, 3, 3], [3, 3, 3]]);
    const cfg = { architecture: arch, patch_size: [16, 16, 16], batch_size: 2 } as never;
    const units = trainingUnits(arch, [16, 16, 16], 2, 1, 2);
    const tile = networkCost(arch, [16, 16, 16], 1, 2, false).forwardFlops;
    const cal = { secondsPerIteration: 1, dataSecondsPerIteration: 0.4, secondsPerTile: 0.1, trainingBytes: 1, trainingUnits: units, tileFlops: tile, activationElements: 1 } as Calibration;
    expect(costFrom([cal], cfg, 2, 1, 2, 1).secondsPerIteration).toBeCloseTo(0.6, 12);
    expect(costFrom([cal], cfg, 2, 1, 2, 0).secondsPerIteration).toBe(1);
    // two calibrations at half and twice the units: step and data interpolated apart (0.3 + 0.2, 1.2 + 0.8 at 4 units)
    const half = { ...cal, trainingUnits: units / 2, tileFlops: tile / 2, secondsPerIteration: 0.5, dataSecondsPerIteration: 0.2 };
    const twice = { ...cal, trainingUnits: units * 2, tileFlops: tile * 2, secondsPerIteration: 2, dataSecondsPerIteration: 0.8 };
    expect(costFrom([half, twice], cfg, 2, 1, 2, 1).secondsPerIteration).toBeCloseTo(0.6, 12);
    expect(costFrom([half, twice], cfg, 2, 1, 2, 0).secondsPerIteration).toBeCloseTo(1, 12);
  });
});

describe('prediction stages pay their warm-up once', () => {
  it('validation once per fold and test prediction once, on top of the steady per-case time', () => {
    const plans = { transpose_forward: [0, 1, 2], configurations: {} } as unknown as Plans;
    const cfg = { spacing: [1, 1, 1], patch_size: [40, 56, 40] } as never;
    const fingerprint = { median_relative_size_after_cropping: 1, spacings: [[1, 1, 1]], shapes_after_crop: [[40, 56, 40]] };
    const rates: HostRates = { read: 0, preprocess: 0, resampleData: 0, export: 0, resampleProbabilities: 0, write: 0, preprocessCase: 0, resampleCase: 0 };
    const host = { rates, predictWarmupSeconds: 2 } as HostCalibration;
    const r = { plans, configuration: '3d_fullres', fingerprint, channels: 1, numClasses: 3, folds: 2, epochs: 1, iterationsPerEpoch: 1, validationIterations: 0, batchSize: 2, mirror: false, stepSize: 0.5, validationCases: 3, testCases: 4, preprocess: false, host } as RunShape;
    const cost = { secondsPerIteration: 1, secondsPerTile: 0.5, tileWarmupSeconds: 3, trainingBytes: 0 };
    const est = estimateStages(r, cfg, cost, 0);
    // one tile per case, no mirroring, no host time: 0.5 s per case per network; warm-up 3 + 2 s per stage
    expect(est.find((e) => e.stage === 'validation')!.seconds).toBeCloseTo(2 * (3 * 0.5 + 5), 12);
    expect(est.find((e) => e.stage === 'predict test')!.seconds).toBeCloseTo(4 * 0.5 * 2 + 5, 12);
    // the warm-up of the calibration nearest in tile FLOPs when none is exact
    const arch = plain([4, 8], [[1, 1, 1], [2, 2, 2]], [[3, 3, 3], [3, 3, 3]]);
    const tile = networkCost(arch, [16, 16, 16], 1, 2, false).forwardFlops;
    const c = { secondsPerIteration: 1, dataSecondsPerIteration: 0, secondsPerTile: 0.1, trainingBytes: 1, trainingUnits: 1, activationElements: 1 } as Calibration;
    const two = [{ ...c, tileFlops: tile / 3, tileWarmupSeconds: 1 }, { ...c, trainingUnits: 2, tileFlops: tile * 2, tileWarmupSeconds: 4 }];
    expect(costFrom(two, { architecture: arch, patch_size: [16, 16, 16] } as never, 2, 1, 2, 1).tileWarmupSeconds).toBe(4);
  });
});

describe('steadyMedian (tile timing of the calibration)', () => {
  const runner = (seq: number[]) => {
    let i = 0;
    return async () => seq[Math.min(i++, seq.length - 1)]!;
  };
  it('samples a time span, so a slow burst in the first steady runs does not set the median', async () => {
    // warm-up 0.5 s, then two runs slowed by other work, then the steady 0.27 s; three runs alone would give 0.4
    const r = await steadyMedian(runner([0.5, 0.4, 0.4, 0.27]), { minSeconds: 2, minRuns: 3, maxRuns: 25 });
    expect(r.runs).toBe(7); // 0.4 + 0.4 + 5 x 0.27 = 2.15 s >= 2 s
    expect(r.steady).toBe(0.27);
    expect(r.warmup).toBeCloseTo(0.23, 12);
  });
  it('slow tiles: the minimum count; fast tiles: at most maxRuns', async () => {
    expect((await steadyMedian(runner([4, 3]), { minSeconds: 2, minRuns: 3, maxRuns: 25 })).runs).toBe(3);
    const fast = await steadyMedian(runner([0.01, 0.001]), { minSeconds: 2, minRuns: 3, maxRuns: 25 });
    expect(fast.runs).toBe(25);
    expect(fast.steady).toBe(0.001);
    expect(fast.warmup).toBeCloseTo(0.009, 12);
  });
  it('refuses an empty or inverted run count', async () => {
    await expect(steadyMedian(runner([1]), { minSeconds: 1, minRuns: 0, maxRuns: 3 })).rejects.toThrow('need 1 <= minRuns <= maxRuns (got 0, 3)');
    await expect(steadyMedian(runner([1]), { minSeconds: 1, minRuns: 4, maxRuns: 3 })).rejects.toThrow(RangeError);
  });
});

describe('a restarted run is estimated for the work it has left', () => {
  const plans = { transpose_forward: [0, 1, 2], configurations: {} } as unknown as Plans;
  const cfg = { spacing: [1, 1, 1], patch_size: [40, 56, 40] } as never;
  const fingerprint = { median_relative_size_after_cropping: 1, spacings: [[1, 1, 1]], shapes_after_crop: [[40, 56, 40]] };
  const rates: HostRates = { read: 0, preprocess: 0, resampleData: 0, export: 0, resampleProbabilities: 0, write: 0, preprocessCase: 0, resampleCase: 0 };
  const host = { rates, predictWarmupSeconds: 0 } as HostCalibration;
  // 3 folds x 16 epochs x (250 iterations at 2 s + 50 validation iterations of batch 2 at 0.1 s per tile) = 510 s per epoch
  const r = { plans, configuration: '3d_fullres', fingerprint, channels: 1, numClasses: 2, folds: 3, epochs: 16, iterationsPerEpoch: 250, validationIterations: 50, batchSize: 2, mirror: false, stepSize: 0.5, validationCases: 3, testCases: 4, preprocess: false, host } as RunShape;
  const cost = { secondsPerIteration: 2, secondsPerTile: 0.1, tileWarmupSeconds: 0, trainingBytes: 0 };

  it('counts only the epochs after each fold\'s checkpoint, none of a finished fold, and says so', () => {
    const fresh = estimateStages(r, cfg, cost);
    expect(fresh.find((e) => e.stage === 'train 3d_fullres')!.seconds).toBe(3 * 16 * 510);
    const progress = [
      { fold: 0, finished: true, epochsDone: 16, epochs: 16 },
      { fold: 1, finished: false, epochsDone: 6, epochs: 16 },
      { fold: 2, finished: false, epochsDone: 0, epochs: 16 },
    ];
    expect(progress.map(epochsLeft)).toEqual([0, 10, 16]);
    const est = estimateStages({ ...r, progress, validatedFolds: 1, testCasesWritten: 3 }, cfg, cost);
    const train = est.find((e) => e.stage === 'train 3d_fullres')!;
    expect(train.seconds).toBe(26 * 510);
    expect(train.detail).toBe('fold 0 trained; resuming fold 1 at epoch 7/16: 10 epochs left; 26 epoch(s) x (250 iterations at 2.00 s + 50 validation iterations at 0.20 s) (patch 40x56x40, batch 2)');
    // validation of 2 folds left (3 cases, 1 tile each at 0.1 s), 1 test case of 4 with the 3 folds
    expect(est.find((e) => e.stage === 'validation')!.seconds).toBeCloseTo(2 * 3 * 0.1, 12);
    expect(est.find((e) => e.stage === 'predict test')!.seconds).toBeCloseTo(1 * 3 * 0.1, 12);
    expect(est.find((e) => e.stage === 'predict test')!.detail).toMatch(/^1 of 4 \(3 already written\) case\(s\)/);
    // a deadline's shorter schedule (time_budget_stop) is the fold's schedule
    expect(describeProgress([{ fold: 0, finished: false, epochsDone: 3, epochs: 5 }])).toBe('resuming fold 0 at epoch 4/5: 2 epochs left');
  });

  it('leaves out the stages with nothing left', () => {
    const done = [0, 1, 2].map((fold) => ({ fold, finished: true, epochsDone: 16, epochs: 16 }));
    expect(estimateStages({ ...r, progress: done, validatedFolds: 3, testCasesWritten: 4 }, cfg, cost)).toEqual([]);
  });
});

describe('the peak memory estimate is a function of the plan', () => {
  const arch = plain([4, 8], [[1, 1, 1], [2, 2, 2]], [[3, 3, 3], [3, 3, 3]]);
  const cfg = { architecture: arch, patch_size: [16, 16, 16], spacing: [1, 1, 1] } as never;
  const units = trainingUnits(arch, [16, 16, 16], 2, 1, 2);
  const tile = networkCost(arch, [16, 16, 16], 1, 2, false).forwardFlops;
  const analytic = trainingBytes(arch, [16, 16, 16], 2, 1, 2);

  it('two calibrations of one plan whose measured memory growth differs (0 and 1.5x the model) give the same peak', () => {
    expect(analytic).toBe(4 * (6 * networkCost(arch, [16, 16, 16], 1, 2, true).activationElements * 2 + 3 * networkCost(arch, [16, 16, 16], 1, 2, true).parameters));
    const cal = { secondsPerIteration: 1, dataSecondsPerIteration: 0, secondsPerTile: 0.1, trainingUnits: units, tileFlops: tile, activationElements: 1 } as Calibration;
    const a = costFrom([{ ...cal, trainingBytes: 0 }], cfg, 2, 1, 2, 1);
    const b = costFrom([{ ...cal, trainingBytes: Math.round(1.5 * analytic) }], cfg, 2, 1, 2, 1);
    expect(a.trainingBytes).toBe(analytic);
    expect(b.trainingBytes).toBe(analytic);
    const plans = { transpose_forward: [0, 1, 2], configurations: {} } as unknown as Plans;
    const fingerprint = { median_relative_size_after_cropping: 1, spacings: [[1, 1, 1]], shapes_after_crop: [[16, 16, 16]] };
    const r = { plans, configuration: '3d_fullres', fingerprint, channels: 1, numClasses: 2, folds: 1, epochs: 1, iterationsPerEpoch: 1, validationIterations: 0, batchSize: 2, mirror: false, stepSize: 0.5, validationCases: 1, testCases: 0, preprocess: false, host: null } as RunShape;
    const peak = (c: typeof a) => estimateStages(r, cfg, c).find((e) => e.stage.startsWith('train'))!.peakBytes;
    // the data the trainer holds: the one 16^3 case (float32 + int16 labels) in the training thread's store without
    // workers, else in each worker's (the training thread's store is emptied), and the batches (2 x 16^3) in flight:
    // one without workers, 2 + 1 per worker with
    expect(trainingDataBytes(r, cfg, 0)).toBe(6 * 16 ** 3 + 2 * 6 * 16 ** 3);
    expect(trainingDataBytes(r, cfg, 1)).toBe(6 * 16 ** 3 + 3 * 2 * 6 * 16 ** 3);
    expect(trainingDataBytes(r, cfg, 3)).toBe(3 * 6 * 16 ** 3 + 7 * 2 * 6 * 16 ** 3);
    expect(peak(a)).toBe(RUNTIME_BYTES + analytic + trainingDataBytes(r, cfg));
    expect(peak(b)).toBe(RUNTIME_BYTES + analytic + trainingDataBytes(r, cfg));
  });
});
