/**
 * Calibration of the cost model: a few real training iterations and sliding-window tiles of one configuration on one
 * backend, timed, with the process's memory growth, cached per machine and backend (`costmodel.json` in the cache
 * folder) so a second run on the same machine under the same load pays nothing.
 *
 * It runs the project's own `trainFold` (network from the registry, the configured augmentation, loss, optimizer)
 * for `1 + iterations` iterations on synthetic in-memory cases of the patch size, and `predictPreprocessed` on one
 * patch-sized volume, so whatever the backend and the trainer do is what gets measured.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, cpus, homedir, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import type { ComputeBackend } from '../contracts/backend.js';
import type { DeviceBackend } from '../contracts/device.js';
import type { Network } from '../contracts/network.js';
import type { DatasetJson, Plans, PlansConfiguration } from '../contracts/plans.js';
import type { Registry } from '../registry/registry.js';
import { predictPreprocessed } from '../inference/sliding-window.js';
import { memoryCaseSource, type PreprocessedCaseData } from '../training/case-source.js';
import { labelSetup } from '../training/configuration.js';
import { getConfiguration as resolveConfiguration } from '../planning/plans-io.js';
import { stage } from '../pipeline/stages.js';
import { readJsonIfValid, writeJson } from '../pipeline/json-io.js';
import { networkCost, trainingUnits } from './network-cost.js';

/** Measured cost of one configuration on one backend. */
export interface Calibration {
  /** Cache key: machine, backend, architecture, patch, batch, channels, classes. */
  key: string;
  backend: string;
  patchSize: number[];
  batchSize: number;
  /**
   * Wall seconds of one training iteration with its batch made on the training thread (data loading, augmentation,
   * forward, loss, backward, clip, SGD), median after a warm-up iteration.
   */
  secondsPerIteration: number;
  /**
   * Of it, the seconds spent loading and augmenting the batch (median). A real run makes batches in data-loading
   * workers that overlap the steps ({@link iterationWithWorkers}); absent in entries cached before it was measured.
   */
  dataSecondsPerIteration?: number;
  /**
   * CPU seconds the process used per training iteration (every thread: the training thread and the backend's
   * threads; median after the warm-up), and of it while the batch was loaded and augmented. With the wall times they
   * say how many cores the step keeps busy, so how much a data-loading worker slows it when the cores are shared
   * ({@link iterationWithWorkers}). Absent in entries cached before they were measured.
   */
  cpuSecondsPerIteration?: number;
  dataCpuSecondsPerIteration?: number;
  /** Cores the process could use when measured (`availableParallelism`). */
  cores?: number;
  /** Wall seconds of one sliding-window tile: one forward pass of one patch, no mirroring, Gaussian accumulation. */
  secondsPerTile: number;
  /** How much longer the first tile took than the steady ones (a prediction stage's one-time warm-up), s. */
  tileWarmupSeconds?: number;
  /**
   * Growth of the process's resident memory during the training iterations, bytes. Kept for diagnosis only: too noisy
   * to estimate with (garbage-collector timing, memory an earlier calibration left to reuse); the estimates use the
   * analytic `trainingBytes` of the plan (`costFrom`).
   */
  trainingBytes: number;
  /** {@link trainingUnits} at this patch and batch (to scale to other patches). */
  trainingUnits: number;
  /** Forward FLOPs of one tile (to scale to other patches). */
  tileFlops: number;
  /** Activation elements x batch (to scale the memory to other patches). */
  activationElements: number;
  measuredAt: string;
  /** 1-minute load average when measured (a cached entry taken under another load is measured again). */
  loadAverage?: number;
}

/**
 * Whether a cached calibration still describes this machine now: taken under about the same load (1-minute load
 * average within half the core count, at least 1). A calibration made while other jobs shared the cores would
 * otherwise shrink every later time-budget plan.
 */
export function calibrationCurrent(c: Calibration, loadNow = loadavg()[0]!, cores = cpus().length): boolean {
  if (c.loadAverage === undefined) return false;
  return Math.abs(loadNow - c.loadAverage) <= Math.max(1, cores / 2);
}

/** Where calibrations are cached: `$NNUNET_TS_CACHE`, else `$XDG_CACHE_HOME/nnunet-ts`, else `~/.cache/nnunet-ts`. */
export function costCacheFile(): string {
  const dir = process.env.NNUNET_TS_CACHE ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'nnunet-ts');
  return join(dir, 'costmodel.json');
}

/** This machine, for cache keys: CPU model, logical cores, memory. */
export function machineId(): string {
  const c = cpus();
  return `${c[0]?.model.trim() ?? 'cpu'} x${c.length} ${Math.round(totalmem() / 2 ** 30)}GiB`;
}

/** The cache key of a configuration on a backend. */
export function calibrationKey(backend: ComputeBackend | DeviceBackend, cfg: PlansConfiguration, batchSize: number, inputChannels: number, numClasses: number): string {
  return JSON.stringify([machineId(), backend.info.name, backend.info.description, cfg.patch_size, batchSize, inputChannels, numClasses, cfg.architecture?.arch_kwargs]);
}

/** Options of {@link calibrate}. */
export interface CalibrateOptions {
  registry: Registry;
  backend: ComputeBackend | DeviceBackend;
  plans: Plans;
  configuration: string;
  dataset: DatasetJson;
  /** Batch size (default the configuration's). */
  batchSize?: number;
  /** Augmentation plugin of the run (its cost is part of an iteration). */
  augmentation?: string;
  /** Timed iterations after one warm-up (default 2). */
  iterations?: number;
  /** Ignore the cache and measure again. */
  force?: boolean;
}

/**
 * Measure (or read from the cache) the cost of `configuration` on `backend`.
 * @throws whatever training throws for a configuration that cannot run (e.g. missing architecture).
 */
export async function calibrate(o: CalibrateOptions): Promise<Calibration> {
  const cfg = resolveConfiguration(o.plans, o.configuration);
  const patch = cfg.patch_size!;
  const batch = o.batchSize ?? cfg.batch_size ?? 2;
  const channels = Object.keys(o.dataset.channel_names ?? o.dataset.modality ?? {}).length || 1;
  const { numClasses, labels } = labelSetup(o.dataset);
  const key = calibrationKey(o.backend, cfg, batch, channels, numClasses);
  const file = costCacheFile();
  const cache = readJsonIfValid<{ entries?: Record<string, Calibration> }>(file) ?? {};
  const hit = cache.entries?.[key];
  if (hit && !o.force && hit.dataSecondsPerIteration !== undefined && hit.cpuSecondsPerIteration !== undefined && calibrationCurrent(hit)) return hit;

  const tmp = mkdtempSync(join(tmpdir(), 'nnunet-ts-calibrate-'));
  try {
    const cases = syntheticCases(patch, channels, labels);
    const times: number[] = [];
    const dataTimes: number[] = [];
    const cpuTimes: number[] = [];
    const dataCpuTimes: number[] = [];
    let last = performance.now();
    let lastCpu = process.cpuUsage();
    const rss0 = process.memoryUsage().rss;
    let rssMax = rss0;
    const n = Math.max(1, o.iterations ?? 2);
    const result = await stage(o.registry, 'trainFold')({
      registry: o.registry, backend: o.backend, plans: o.plans, configuration: o.configuration, dataset: o.dataset,
      preprocessedDir: tmp, splits: [{ train: Object.keys(cases), val: [] }], fold: 0, outputDir: tmp,
      epochs: 1, iterationsPerEpoch: 1 + n, validationIterations: 0, batchSize: batch, augmentation: o.augmentation,
      cases: memoryCaseSource(cases), settings: { seed: 1 },
      onProgress: (p) => {
        if (p.phase !== 'train') return;
        const now = performance.now();
        times.push((now - last) / 1000);
        dataTimes.push(p.dataSeconds ?? 0);
        const cpu = process.cpuUsage(lastCpu);
        cpuTimes.push((cpu.user + cpu.system) / 1e6);
        dataCpuTimes.push(p.dataCpuSeconds ?? 0);
        lastCpu = process.cpuUsage();
        last = now;
        rssMax = Math.max(rssMax, process.memoryUsage().rss);
      },
    });
    const secondsPerIteration = median(times.slice(1));
    const dataSecondsPerIteration = Math.min(secondsPerIteration, median(dataTimes.slice(1)));
    const cpuSecondsPerIteration = median(cpuTimes.slice(1));
    const dataCpuSecondsPerIteration = Math.min(cpuSecondsPerIteration, median(dataCpuTimes.slice(1)));
    result.network.setDeepSupervision(false);
    const { secondsPerTile, tileWarmupSeconds } = await timeTile(result.network, patch, channels, numClasses);
    const unitsCfg = networkCost(cfg.architecture!, patch, channels, numClasses, true);
    const cal: Calibration = {
      key, backend: o.backend.info.name, patchSize: [...patch], batchSize: batch, secondsPerIteration, dataSecondsPerIteration, cpuSecondsPerIteration, dataCpuSecondsPerIteration, cores: availableParallelism(), secondsPerTile, tileWarmupSeconds,
      trainingBytes: Math.max(0, rssMax - rss0), trainingUnits: trainingUnits(cfg.architecture!, patch, batch, channels, numClasses),
      tileFlops: networkCost(cfg.architecture!, patch, channels, numClasses, false).forwardFlops,
      activationElements: unitsCfg.activationElements * batch, measuredAt: new Date().toISOString(), loadAverage: loadavg()[0],
    };
    const fresh = readJsonIfValid<{ entries?: Record<string, Calibration> }>(file) ?? {};
    writeJson(file, { version: 1, entries: { ...(fresh.entries ?? {}), [key]: cal } });
    return cal;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/**
 * Wall seconds of a training iteration whose batch is made by `workers` data-loading workers running ahead of the
 * loop (the trainer's `BatchQueue`, nnU-Net's background augmenter), from the calibrated `serial` seconds of which
 * `data` were loading and augmenting on the training thread: the steps and the batches overlap, so an iteration
 * takes the longer of the step (`serial - data`) and a batch's share of the workers (`data / workers`); with no
 * workers (`nnUNet_n_proc_DA=0`, the cascade) the two add up.
 * With `cpu` (the CPU seconds the serial iteration used, every thread, and the cores), the overlap is also bounded by
 * the cores: the step's threads and the workers share them, so an iteration cannot take less than its CPU work over
 * the cores (`cpu.seconds / cpu.cores`). A CPU backend that steps on every core (cpu-native) leaves no core free for
 * a worker: the batch's CPU time then slows the step by about `1 / cores` of it, which the longer-of-the-two overlap
 * alone does not see. Never more than `serial`.
 */
export function iterationWithWorkers(serial: number, data: number, workers: number, cpu?: { seconds: number; cores: number }): number {
  if (workers <= 0) return serial;
  const d = Math.min(Math.max(0, data), serial);
  const cores = cpu && cpu.cores > 0 && Number.isFinite(cpu.seconds) ? Math.max(0, cpu.seconds) / cpu.cores : 0;
  return Math.min(serial, Math.max(serial - d, d / workers, cores));
}

function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  return s.length ? s[Math.floor((s.length - 1) / 2)]! : NaN;
}

/**
 * Run `once` (a timed action returning its wall seconds) until the steady runs after the first (warm-up) span at
 * least `minSeconds` and number at least `minRuns`, at most `maxRuns`; return the median of the steady runs and the
 * first run's excess over it. A tile of a small 2D patch takes ~0.3 s on 2 cores, so three runs measured under a
 * second and a burst of other work on a shared machine moved the median by 30-40% between calibrations (0.27 s
 * against 0.38 s for the same 224x224 tile, on the same idle machine): sampling a fixed time span bounds that.
 * @throws RangeError when `minRuns` < 1 or `maxRuns` < `minRuns`.
 */
export async function steadyMedian(once: () => Promise<number>, o: { minSeconds: number; minRuns: number; maxRuns: number }): Promise<{ steady: number; warmup: number; runs: number }> {
  if (o.minRuns < 1 || o.maxRuns < o.minRuns) throw new RangeError(`steadyMedian: need 1 <= minRuns <= maxRuns (got ${o.minRuns}, ${o.maxRuns})`);
  const first = await once();
  const times: number[] = [];
  let spent = 0;
  while (times.length < o.maxRuns && (times.length < o.minRuns || spent < o.minSeconds)) {
    const t = await once();
    times.push(t);
    spent += t;
  }
  const steady = median(times);
  return { steady, warmup: Math.max(0, first - steady), runs: times.length };
}

/**
 * Median wall time of one tile: predict a patch-sized volume (one tile) after a warm-up, at least 3 times and until
 * 2 s were timed (at most 25 runs; {@link steadyMedian}); and the warm-up's excess.
 */
async function timeTile(network: Network, patch: number[], channels: number, numClasses: number): Promise<{ secondsPerTile: number; tileWarmupSeconds: number }> {
  const p3 = patch.length === 2 ? [1, ...patch] : patch;
  const shape = [channels, ...p3];
  const data = new Float32Array(shape.reduce((a, b) => a * b, 1)).map((_, i) => Math.sin(i * 0.37));
  const model = { networks: [network], patchSize: patch, numClasses, mirrorAxes: [] };
  const once = async () => {
    const t0 = performance.now();
    await predictPreprocessed(model, data, shape, { mirror: false });
    return (performance.now() - t0) / 1000;
  };
  const { steady, warmup } = await steadyMedian(once, { minSeconds: 2, minRuns: 3, maxRuns: 25 });
  return { secondsPerTile: steady, tileWarmupSeconds: warmup };
}

/**
 * Two synthetic training cases of the patch size: smooth random-looking intensities and every label present as a
 * slab along x, with class locations, enough for the sampler, augmentation and loss to do their full work.
 */
function syntheticCases(patch: number[], channels: number, labels: number[]): Record<string, PreprocessedCaseData> {
  const [Z, Y, X] = patch.length === 2 ? [2, patch[0]!, patch[1]!] : (patch as [number, number, number]);
  const n = Z * Y * X;
  const out: Record<string, PreprocessedCaseData> = {};
  for (let c = 0; c < 2; c++) {
    const data = new Float32Array(channels * n);
    for (let i = 0; i < data.length; i++) data[i] = Math.sin(i * 0.013 + c) + 0.3 * Math.cos(i * 0.71);
    const seg = new Int16Array(n);
    const locs: Record<string, number[][]> = {};
    for (let i = 0; i < n; i++) {
      const x = i % X;
      const y = Math.floor(i / X) % Y;
      const z = Math.floor(i / (X * Y));
      const l = labels[Math.min(labels.length - 1, Math.floor((x * labels.length) / X))]!;
      seg[i] = l;
      if (l !== 0 && (i % 97 === 0)) (locs[String(l)] ??= []).push([z, y, x]);
    }
    out[`calibration_${c}`] = { data, seg, shape: [channels, Z, Y, X], properties: { class_locations: locs } };
  }
  return out;
}
