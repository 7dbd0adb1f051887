/**
 * Time and memory estimates of a run's stages from a {@link Calibration}: training (iterations x seconds per
 * iteration, plus the per-epoch validation batches), sliding-window prediction per case (tiles x mirror
 * combinations x folds x seconds per tile, plus resampling and writing), and preprocessing.
 */
import { availableParallelism } from 'node:os';
import type { DatasetFingerprint, Plans, PlansConfiguration } from '../contracts/plans.js';
import { computeSteps } from '../inference/steps.js';
import { iterationWithWorkers, type Calibration } from './calibrate.js';
import { defaultDataWorkers } from '../training/batch-queue.js';
import { DEFAULT_CASE_CACHE_BYTES } from '../training/case-store.js';
import { hostPredictCaseSeconds, hostPreprocessCaseSeconds, hostUnits, type HostCalibration } from './host-calibrate.js';
import { networkCost, trainingBytes, trainingUnits } from './network-cost.js';

/**
 * Voxel throughput of the host-side work around the network (read, crop, normalise, resample, write), voxels x
 * channels per second. Measured on a 2-core Zen machine with the default resampler (order 3 data, order 1 logits):
 * about 25 M/s; kept as a constant because these stages are short next to training and prediction.
 */
export const HOST_VOXELS_PER_SECOND = 25e6;

let hostShare: number | undefined;
let sink = 0;
/**
 * Share of one core this process gets now (0..1]: CPU time over wall time of a short single-threaded loop (about
 * 30 ms), measured once per process. On an idle machine about 1; where other jobs share the cores it falls, and the
 * host-side estimates (preprocessing, resampling around prediction) grow with it.
 */
export function hostCpuShare(): number {
  if (hostShare !== undefined) return hostShare;
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  while (performance.now() - t0 < 30) for (let i = 0; i < 10_000; i++) sink += Math.sqrt(i + sink) * 1e-9;
  const wallUs = (performance.now() - t0) * 1000;
  const c = process.cpuUsage(c0);
  hostShare = Math.min(1, Math.max(0.02, (c.user + c.system) / Math.max(1, wallUs)));
  return hostShare;
}

/** {@link HOST_VOXELS_PER_SECOND} scaled by the share of a core this process gets now ({@link hostCpuShare}). */
export function hostVoxelsPerSecond(): number {
  return HOST_VOXELS_PER_SECOND * hostCpuShare();
}

/** One stage's estimate. */
export interface StageEstimate {
  stage: string;
  seconds: number;
  /** Peak resident memory of the process during the stage, bytes (undefined when not modelled). */
  peakBytes?: number;
  detail: string;
}

/** Shape of a case with original `spacing`/`shape` (`[z, y, x]`, before transpose) at a configuration's spacing. */
export function shapeAtConfiguration(plans: Plans, cfg: PlansConfiguration, spacing: readonly number[], shape: readonly number[]): number[] {
  const t = plans.transpose_forward ?? [0, 1, 2];
  const sp = t.map((a) => spacing[a]!);
  const sh = t.map((a) => shape[a]!);
  const target = cfg.spacing!;
  const off = sp.length - target.length; // 2d: spacing of the in-plane axes only
  return sh.map((n, i) => (i < off ? n : Math.max(1, Math.round((n * sp[i]!) / target[i - off]!))));
}

/** Spatial shape `[z, y, x]` of a case in the configuration's axis order (`transpose_forward`). */
export function transposedShape(plans: Plans, shape: readonly number[]): number[] {
  return (plans.transpose_forward ?? [0, 1, 2]).map((a) => shape[a]!);
}

/** Number of network evaluations (tiles) of the sliding window on a case of `shape` (RULES.md §18 step rule). */
export function tilesFor(shape: readonly number[], patch: readonly number[], stepSize: number): number {
  if (patch.length === 2) {
    const [z, y, x] = shape as [number, number, number];
    return z * computeSteps(Math.max(y, patch[0]!), patch[0]!, stepSize).length * computeSteps(Math.max(x, patch[1]!), patch[1]!, stepSize).length;
  }
  return shape.reduce((a, n, i) => a * computeSteps(Math.max(n, patch[i]!), patch[i]!, stepSize).length, 1);
}

/** Mirror combinations of TTA: 2^axes (3D: 8, 2D: 4), 1 without mirroring. */
export function mirrorFactor(patch: readonly number[], mirror: boolean, axes?: readonly number[]): number {
  return mirror ? 2 ** (axes ? axes.length : patch.length) : 1;
}

/** Seconds per training iteration and per tile, and the bytes training adds, of one configuration. */
export interface ConfigurationCost {
  secondsPerIteration: number;
  secondsPerTile: number;
  /** One-time warm-up of a prediction stage's network passes (the calibration's first tile over the steady ones), s. */
  tileWarmupSeconds?: number;
  trainingBytes: number;
}

/** A line `t = a + b u` through two points, with `a, b >= 0` (fixed overhead plus a FLOP-proportional part). */
function line(p: [number, number], q: [number, number]): (u: number) => number {
  let b = (q[1] - p[1]) / (q[0] - p[0]);
  if (!(b >= 0) || !Number.isFinite(b)) b = 0;
  let a = p[1] - b * p[0];
  if (a < 0) {
    a = 0;
    b = q[1] / q[0];
  }
  return (u) => a + b * u;
}

/** Piecewise-linear interpolation of measured (units, seconds) points; linear extrapolation from the end segments. */
function piecewise(points: [number, number][], u: number): number {
  const pts = [...points].sort((x, y) => x[0] - y[0]).filter((p, i, a) => i === 0 || p[0] > a[i - 1]![0]);
  if (pts.length === 1) return (pts[0]![1] * u) / pts[0]![0];
  let i = pts.findIndex((p) => p[0] >= u);
  if (i <= 0) i = i === 0 ? 1 : pts.length - 1;
  return line(pts[i - 1]!, pts[i]!)(u);
}

/**
 * Cost of `cfg` from one or more calibrations of the same backend: times interpolated piecewise-linearly in FLOPs
 * between calibrated points (a fixed per-iteration overhead plus a FLOP-proportional part; with one point, FLOP
 * proportional), memory from the analytic {@link trainingBytes} alone: a function of the plan, the same in every run.
 * The calibration's measured growth of the resident memory (`Calibration.trainingBytes`) is not used: sampled between
 * iterations while freed tensors wait for the garbage collector, and smaller when an earlier calibration in the same
 * process left memory to reuse, it ranged from 0 to 804 MiB for one plan (2d, patch 128x128, batch 6; analytic
 * 709 MiB of activations) in the cached calibrations of the development machine. The iteration's step and its batch
 * (loading, augmentation) are interpolated apart and overlapped as the trainer's `dataWorkers` data-loading workers
 * overlap them ({@link iterationWithWorkers}; default `defaultDataWorkers()`, the trainer's default), no faster than
 * their measured CPU seconds (interpolated apart too) allow on the calibration's cores.
 */
export function costFrom(cals: Calibration[], cfg: PlansConfiguration, batch: number, channels: number, numClasses: number, dataWorkers = defaultDataWorkers()): ConfigurationCost {
  const arch = cfg.architecture!;
  const patch = cfg.patch_size!;
  const units = trainingUnits(arch, patch, batch, channels, numClasses);
  const tile = networkCost(arch, patch, channels, numClasses, false).forwardFlops;
  const data = (c: Calibration) => c.dataSecondsPerIteration ?? 0;
  // CPU seconds per iteration are used only when every calibration measured them (older cached entries did not)
  const withCpu = cals.length > 0 && cals.every((c) => c.cpuSecondsPerIteration !== undefined);
  const cores = cals.find((c) => c.cores)?.cores ?? availableParallelism();
  const overlap = (serial: number, d: number, cpu: number | undefined) => iterationWithWorkers(serial, d, dataWorkers, withCpu && cpu !== undefined ? { seconds: cpu, cores } : undefined);
  const exact = cals.find((c) => c.trainingUnits === units && c.tileFlops === tile);
  const nearest = [...cals].sort((x, y) => Math.abs(Math.log(x.tileFlops / tile)) - Math.abs(Math.log(y.tileFlops / tile)))[0];
  const tileWarmupSeconds = (exact ?? nearest)?.tileWarmupSeconds ?? 0;
  if (exact) return { secondsPerIteration: overlap(exact.secondsPerIteration, data(exact), exact.cpuSecondsPerIteration), secondsPerTile: exact.secondsPerTile, tileWarmupSeconds, trainingBytes: trainingBytes(arch, patch, batch, channels, numClasses) };
  const step = piecewise(cals.map((c) => [c.trainingUnits, c.secondsPerIteration - data(c)]), units);
  const d = piecewise(cals.map((c) => [c.trainingUnits, data(c)]), units);
  // CPU seconds of the step and of the batch, interpolated apart like the wall times
  const dataCpu = (c: Calibration) => c.dataCpuSecondsPerIteration ?? 0;
  const cpu = withCpu
    ? piecewise(cals.map((c) => [c.trainingUnits, c.cpuSecondsPerIteration! - dataCpu(c)]), units) + piecewise(cals.map((c) => [c.trainingUnits, dataCpu(c)]), units)
    : undefined;
  return {
    secondsPerIteration: overlap(step + d, d, cpu),
    secondsPerTile: piecewise(cals.map((c) => [c.tileFlops, c.secondsPerTile]), tile),
    tileWarmupSeconds,
    trainingBytes: trainingBytes(arch, patch, batch, channels, numClasses),
  };
}

/** Scale a calibration to another patch/batch of the same network family by FLOPs (time) and activations (memory). */
export function scaleCalibration(cal: Calibration, cfg: PlansConfiguration, batch: number, channels: number, numClasses: number): ConfigurationCost {
  const arch = cfg.architecture!;
  const patch = cfg.patch_size!;
  const units = trainingUnits(arch, patch, batch, channels, numClasses);
  const tile = networkCost(arch, patch, channels, numClasses, false).forwardFlops;
  const act = networkCost(arch, patch, channels, numClasses, true).activationElements * batch;
  return {
    secondsPerIteration: (cal.secondsPerIteration * units) / cal.trainingUnits,
    secondsPerTile: (cal.secondsPerTile * tile) / cal.tileFlops,
    trainingBytes: (cal.trainingBytes * act) / Math.max(1, cal.activationElements),
  };
}

/** What a run will do, for {@link estimateStages}. */
export interface RunShape {
  plans: Plans;
  configuration: string;
  fingerprint: DatasetFingerprint;
  channels: number;
  numClasses: number;
  /** Folds trained. */
  folds: number;
  epochs: number;
  iterationsPerEpoch: number;
  validationIterations: number;
  batchSize: number;
  mirror: boolean;
  stepSize: number;
  /** Validation cases per fold (predicted after training). */
  validationCases: number;
  /** Test images predicted at the end (with every trained fold). */
  testCases: number;
  /**
   * The test images' own shapes and spacings (headers, `readCaseGeometry`): their tiles are counted instead of the
   * training cases' (test images may be larger or smaller, and a few voxels over the patch double the tiles).
   */
  testImages?: CaseGeometry[];
  /**
   * Shapes after cropping and spacings of the validation cases of the folds trained (the fingerprint's entries of
   * those cases): their tiles are counted instead of those of every training case.
   */
  validationImages?: CaseGeometry[];
  /**
   * Training progress of each fold trained, in the run folder (a restarted run): only the epochs left are counted.
   * Absent: every fold's whole schedule.
   */
  progress?: FoldProgress[];
  /** Folds whose validation is done (`validation/summary.json`): not counted again. Absent: none. */
  validatedFolds?: number;
  /** Test images already predicted (a restarted run): not counted. Absent: none. */
  testCasesWritten?: number;
  /** Preprocessing still to do (false when the cache is present). */
  preprocess: boolean;
  /**
   * The host work per case measured on this machine ({@link calibrateHost}); without it the host work is
   * {@link HOST_VOXELS_PER_SECOND} scaled by the share of a core this process gets.
   */
  host?: HostCalibration | null;
}

/** Median over cases of the shape at the configuration's spacing, and the median original voxel count. */
export function medianShapes(r: RunShape, cfg: PlansConfiguration): { atConfiguration: number[]; originalVoxels: number } {
  const fp = r.fingerprint;
  const shapes = fp.spacings.map((sp, i) => shapeAtConfiguration(r.plans, cfg, sp, fp.shapes_after_crop[i]!));
  const med = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor((v.length - 1) / 2)]!;
  const atConfiguration = shapes[0]!.map((_, a) => med(shapes.map((s) => s[a]!)));
  const originalVoxels = med(fp.shapes_after_crop.map((s) => s.reduce((a, b) => a * b, 1)));
  return { atConfiguration, originalVoxels };
}

/** Spatial shape `[z, y, x]` (as read, before cropping) and spacing `[sz, sy, sx]` of an image to predict. */
export interface CaseGeometry {
  shape: number[];
  spacing: number[];
}

/**
 * Shapes after cropping (`[z, y, x]`) and spacings of the cases a prediction estimate averages over: `images` (the
 * images to predict, from their headers) when given, each axis scaled by the cube root of the fingerprint's
 * `median_relative_size_after_cropping` (their nonzero box is unknown before their voxels are read); else the
 * fingerprint's training cases.
 */
export function casesToPredict(fp: DatasetFingerprint, images?: readonly CaseGeometry[]): { shape: number[]; spacing: number[] }[] {
  if (!images?.length) return fp.spacings.map((spacing, i) => ({ spacing, shape: fp.shapes_after_crop[i]! }));
  const axis = Math.cbrt(Math.min(1, fp.median_relative_size_after_cropping > 0 ? fp.median_relative_size_after_cropping : 1));
  return images.map((g) => ({ spacing: g.spacing, shape: g.shape.map((n) => Math.max(1, Math.round(n * axis))) }));
}

/**
 * Seconds to predict one case with `folds` networks, on average over `cases` (shapes after cropping, e.g. from
 * {@link casesToPredict}; default the fingerprint's training cases): tiles x mirrors x folds x tile time + host work.
 * The tiles are averaged over the cases, not taken at the median shape: a case a few voxels larger than the patch on
 * one axis takes twice the tiles, so the median shape undercounts.
 */
export function predictCaseSeconds(r: RunShape, cfg: PlansConfiguration, secondsPerTile: number, folds: number, cases: readonly CaseGeometry[] = casesToPredict(r.fingerprint)): number {
  const shapes = cases.map((c) => shapeAtConfiguration(r.plans, cfg, c.spacing, c.shape));
  const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / Math.max(1, v.length);
  const tiles = mean(shapes.map((s) => tilesFor(s, cfg.patch_size!, r.stepSize)));
  return tiles * mirrorFactor(cfg.patch_size!, r.mirror) * folds * secondsPerTile + hostPredictSeconds(r, shapes, cases);
}

/**
 * Host seconds of predicting one case, on average over `cases` (shapes after cropping; `atConfiguration` their shapes
 * at the configuration's spacing): read, preprocess, resample to the configuration and the class logits back, argmax,
 * write. With the host calibration, each case from its own voxels and zoom ({@link hostPredictCaseSeconds}: no
 * resampling for a case already at the target spacing); else the constant voxel rate.
 */
export function hostPredictSeconds(r: Pick<RunShape, 'channels' | 'numClasses' | 'host'> & { plans?: Plans }, atConfiguration: readonly number[][], cases: readonly CaseGeometry[]): number {
  const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / Math.max(1, v.length);
  const rates = r.host?.rates;
  if (rates) {
    return mean(atConfiguration.map((s, i) => hostPredictCaseSeconds(rates, r.channels, r.numClasses, r.plans ? transposedShape(r.plans, cases[i]!.shape) : cases[i]!.shape, s)));
  }
  return mean(atConfiguration.map((s, i) => hostUnits(r.channels + r.numClasses, cases[i]!.shape, s))) / hostVoxelsPerSecond();
}

/** Host seconds of preprocessing every training case of the fingerprint (per case as {@link hostPreprocessCaseSeconds}). */
export function hostPreprocessSeconds(r: RunShape, cfg: PlansConfiguration): number {
  const fp = r.fingerprint;
  return fp.spacings.reduce((sum, sp, i) => {
    const shape = fp.shapes_after_crop[i]!;
    const at = shapeAtConfiguration(r.plans, cfg, sp, shape);
    const rates = r.host?.rates;
    return sum + (rates ? hostPreprocessCaseSeconds(rates, r.channels, transposedShape(r.plans, shape), at) : hostUnits(r.channels + 1, shape, at) / hostVoxelsPerSecond());
  }, 0);
}

/**
 * Peak bytes the process adds to predict one case of `original` voxels (`[z, y, x]` after cropping) at
 * `atConfiguration`: the channels read (int16 as read, float32 stacked: 6 bytes per voxel and channel), the
 * preprocessed input and the logits of every class at the configuration (float32), the class logits resampled to the
 * original grid (float32) and the label map (int16).
 */
export function predictCaseBytes(channels: number, numClasses: number, original: readonly number[], atConfiguration: readonly number[]): number {
  const n = original.reduce((a, b) => a * b, 1);
  const m = atConfiguration.reduce((a, b) => a * b, 1);
  return 6 * channels * n + 4 * (channels + 2 * numClasses) * m + 4 * numClasses * n + 2 * n;
}

/**
 * Bytes of the process before a stage's own allocations: the Node runtime with nnunet-ts and a backend loaded (V8
 * heap, code, the native addon) and the data-loading worker threads. A constant, not the process's resident memory at
 * the time of the estimate: that depended on what the process had done before (a calibration measured in the same
 * process leaves freed memory mapped that training reuses, a cached one none), so the same command printed different
 * peaks. A process that loaded the CLI and selected cpu-native held 122-130 MiB (2-core x64 Linux, Node 22); 256 MiB
 * leaves room for the worker threads' isolates and batches.
 */
export const RUNTIME_BYTES = 256 * 2 ** 20;

/**
 * Bytes of training data a fold holds in memory besides the network, from the plan and the fingerprint alone (the
 * same in every run): every training case at the configuration's spacing (`shapeAtConfiguration` of the
 * fingerprint's shapes after cropping) as `readPreprocessedCase` returns it (float32 per channel and the int16 label
 * map: `4 x channels + 2` bytes per voxel, views on the file's buffer), held
 * - by the training thread's case store when there are no data-loading workers (`openCases` reads every case of the
 *   fold once and keeps it, up to `cacheBytes`; with workers the store is emptied after that first pass), or
 * - by each data-loading worker's own store (each worker thread loads the cases it samples from the cache, up to
 *   `cacheBytes / workers`),
 * plus the batches in flight: each worker's queue holds up to 2 batches ahead of the one in use (`BatchQueue`'s
 * prefetch), `batchSize x` patch voxels `x (4 x channels + 2)` bytes each (`packBatch`).
 * The fold's training and validation cases are together every case of the dataset, so all the fingerprint's cases are
 * counted.
 * @param dataWorkers data-loading worker threads (default the trainer's, `defaultDataWorkers()`); 0 loads on the
 *   training thread (one store, one batch)
 * @param cacheBytes the trainer's case cache (default `DEFAULT_CASE_CACHE_BYTES`)
 */
export function trainingDataBytes(
  r: Pick<RunShape, 'plans' | 'fingerprint' | 'channels' | 'batchSize'>, cfg: PlansConfiguration, dataWorkers = defaultDataWorkers(), cacheBytes = DEFAULT_CASE_CACHE_BYTES,
): number {
  const perVoxel = 4 * r.channels + 2;
  const fp = r.fingerprint;
  const cases = fp.spacings.reduce((sum, sp, i) => sum + shapeAtConfiguration(r.plans, cfg, sp, fp.shapes_after_crop[i]!).reduce((a, b) => a * b, 1) * perVoxel, 0);
  const batch = r.batchSize * (cfg.patch_size ?? []).reduce((a, b) => a * b, 1) * perVoxel;
  const workers = Math.max(0, Math.floor(dataWorkers));
  const stores = workers > 0 ? workers * Math.min(cases, Math.floor(cacheBytes / workers)) : Math.min(cases, cacheBytes);
  return stores + (workers > 0 ? (2 * workers + 1) * batch : batch);
}

/** A fold's training progress in the run folder (its checkpoints; `foldProgress` in the pipeline). */
export interface FoldProgress {
  fold: number;
  /** `checkpoint_final` written: nothing left. */
  finished: boolean;
  /** Epochs completed (`checkpoint_latest`'s `current_epoch`): a restarted run resumes at this epoch index. */
  epochsDone: number;
  /** Epochs of the fold's schedule (the run's, or the shorter one a time budget's deadline recorded). */
  epochs: number;
}

/** Training epochs a fold still has to run: none when finished, else its schedule after the epochs done. */
export function epochsLeft(p: FoldProgress): number {
  return p.finished ? 0 : Math.max(0, p.epochs - p.epochsDone);
}

/** `fold 0 trained; resuming fold 1 at epoch 7/16: 10 epochs left` for the folds with work done (empty when none). */
export function describeProgress(progress: readonly FoldProgress[]): string {
  return progress
    .filter((p) => p.finished || p.epochsDone > 0)
    .map((p) => (epochsLeft(p) === 0 ? `fold ${p.fold} trained` : `resuming fold ${p.fold} at epoch ${p.epochsDone + 1}/${p.epochs}: ${epochsLeft(p)} epochs left`))
    .join('; ');
}

/**
 * The training stage's estimate: the epochs left of each fold (`r.progress`; every fold's whole schedule without it)
 * x (training iterations + validation iterations); undefined when every fold is trained.
 */
function trainEstimate(r: RunShape, cfg: PlansConfiguration, cost: ConfigurationCost, baseBytes: number): StageEstimate | undefined {
  const valIter = r.batchSize * cost.secondsPerTile;
  const perEpoch = r.iterationsPerEpoch * cost.secondsPerIteration + r.validationIterations * valIter;
  const epochs = `(${r.iterationsPerEpoch} iterations at ${cost.secondsPerIteration.toFixed(2)} s + ${r.validationIterations} validation iterations at ${valIter.toFixed(2)} s) (patch ${cfg.patch_size!.join('x')}, batch ${r.batchSize})`;
  const resumed = r.progress ? describeProgress(r.progress) : '';
  const left = r.progress ? r.progress.reduce((a, p) => a + epochsLeft(p), 0) : r.folds * r.epochs;
  if (r.progress && left === 0) return undefined;
  return {
    stage: `train ${r.configuration}`,
    seconds: left * perEpoch,
    peakBytes: baseBytes + cost.trainingBytes + trainingDataBytes(r, cfg),
    detail: resumed ? `${resumed}; ${left} epoch(s) x ${epochs}` : `${r.folds} fold(s) x ${r.epochs} x ${epochs}`,
  };
}

/**
 * Estimates of every remaining stage of a run (preprocessing, training, validation prediction, test prediction)
 * from the configuration's calibrated (or scaled) costs. With `r.progress` / `r.validatedFolds` /
 * `r.testCasesWritten` (a restarted run), only the work left is counted and a stage with none is left out.
 * Peak bytes are `baseBytes` (default {@link RUNTIME_BYTES}) plus the stage's modelled memory: for training the
 * network's (`cost.trainingBytes`) and the data the trainer holds ({@link trainingDataBytes}); a function of the plan
 * and the dataset only, the same in every run of a command.
 */
export function estimateStages(r: RunShape, cfg: PlansConfiguration, cost: ConfigurationCost, baseBytes = RUNTIME_BYTES): StageEstimate[] {
  const out: StageEstimate[] = [];
  const fp = r.fingerprint;
  if (r.preprocess) {
    const seconds = hostPreprocessSeconds(r, cfg);
    out.push({ stage: 'preprocess', seconds, detail: `${fp.spacings.length} cases${r.host ? ' (host work measured on this machine)' : ''}` });
  }
  const train = trainEstimate(r, cfg, cost, baseBytes);
  if (train) out.push(train);
  const valCases = r.validationImages?.length ? r.validationImages : casesToPredict(fp);
  const perCase = predictCaseSeconds(r, cfg, cost.secondsPerTile, 1, valCases);
  // each prediction stage (validation per fold, the test images) pays the warm-up once: the per-case rates are steady-state
  const start = (cost.tileWarmupSeconds ?? 0) + (r.host?.predictWarmupSeconds ?? 0);
  const valFolds = Math.max(0, r.folds - (r.validatedFolds ?? 0));
  if (valFolds > 0 || r.validatedFolds === undefined) {
    const done = r.validatedFolds ? ` (${r.validatedFolds} fold(s) validated)` : '';
    out.push({ stage: 'validation', seconds: (perCase * r.validationCases + (r.validationCases ? start : 0)) * valFolds, peakBytes: baseBytes + maxPredictBytes(r, cfg, valCases), detail: `${r.validationCases * valFolds} case(s) at ${perCase.toFixed(1)} s + ${start.toFixed(1)} s warm-up per fold${done}` });
  }
  const tests = Math.max(0, r.testCases - (r.testCasesWritten ?? 0));
  if (tests) {
    const testCases = casesToPredict(fp, r.testImages);
    const perTest = predictCaseSeconds(r, cfg, cost.secondsPerTile, r.folds, testCases);
    const shapes = r.testImages?.length ? 'tiles of the test images' : 'tiles of the training cases';
    const written = r.testCasesWritten ? ` of ${r.testCases} (${r.testCasesWritten} already written)` : '';
    out.push({ stage: 'predict test', seconds: perTest * tests + start, peakBytes: baseBytes + maxPredictBytes(r, cfg, testCases), detail: `${tests}${written} case(s) at ${perTest.toFixed(1)} s + ${start.toFixed(1)} s warm-up (${r.folds} fold(s), mirroring ${r.mirror ? 'on' : 'off'}, ${shapes})` });
  }
  return out;
}

/** {@link predictCaseBytes} of the largest of `cases`. */
function maxPredictBytes(r: RunShape, cfg: PlansConfiguration, cases: readonly CaseGeometry[]): number {
  return Math.max(0, ...cases.map((c) => predictCaseBytes(r.channels, r.numClasses, c.shape, shapeAtConfiguration(r.plans, cfg, c.spacing, c.shape))));
}

/**
 * The case whose host work stands for the others in {@link calibrateHost}: of `images` (the images to predict, from
 * their headers) when given, else of the fingerprint's cases (shape after cropping), the one with the median voxel count.
 */
export function representativeCase(fp: DatasetFingerprint, images?: readonly CaseGeometry[]): CaseGeometry | undefined {
  const all = images?.length ? images : fp.spacings.map((spacing, i) => ({ spacing, shape: fp.shapes_after_crop[i]! }));
  const sorted = [...all].sort((a, b) => a.shape.reduce((x, y) => x * y, 1) - b.shape.reduce((x, y) => x * y, 1));
  return sorted[Math.floor((sorted.length - 1) / 2)];
}

/** `1h 02m`, `3m 20s`, `12s`. */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s >= 3600) return `${Math.floor(s / 3600)}h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  if (s >= 60) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, '0')}s`;
  return `${s}s`;
}

/** Bytes in a readable unit (MiB below 1 GiB). */
export function formatBytes(bytes: number): string {
  return bytes >= 2 ** 30 ? `${(bytes / 2 ** 30).toFixed(1)} GiB` : `${Math.round(bytes / 2 ** 20)} MiB`;
}

/** The estimate table printed before a run: one line per stage and the total. */
export function formatEstimates(est: StageEstimate[]): string {
  const lines = est.map((e) => `  ${e.stage.padEnd(22)} ${formatDuration(e.seconds).padStart(8)}${e.peakBytes ? `  peak ${formatBytes(e.peakBytes)}` : ''}  ${e.detail}`);
  const total = est.reduce((a, e) => a + e.seconds, 0);
  return [...lines, `  ${'total'.padEnd(22)} ${formatDuration(total).padStart(8)}`].join('\n');
}
