/**
 * Calibration of the host-side work around the network, per case: what preprocessing and prediction do on the CPU
 * besides the sliding window (read and decompress the channel files, crop, normalise, resample to the configuration's
 * spacing, write the cache; and for prediction: resample the class logits back to the original grid, argmax, paste
 * into the crop box, write the segmentation). Large anisotropic images (512x512x24 at 0.43 mm resampled to 2 mm)
 * spend most of their prediction time here, so a constant voxel rate misses by 2-5x.
 *
 * It times the project's own functions (`readCase`, the `preprocessCase`, `writePreprocessedCase` and
 * `exportPrediction` stages, the dataset's writer) on a synthetic case written to a temporary folder: the median case's
 * grid shrunk on every axis by one factor (about 0.2 M voxels per channel) at the same spacing. Each step is timed
 * after a warm-up pass (JIT, first allocations, lazily loaded modules would otherwise count as per-voxel cost), twice
 * at the sample's own spacing and twice already at the configuration's (no resampling), for the per-voxel rates; the
 * resamplings (channels there, class logits back, label map) are timed on their own with the plans' resamplers (as
 * differences of two whole-step totals they were within a loaded machine's noise); every case is then estimated from its own shape and zoom ({@link
 * hostPredictCaseSeconds}): a case at the target spacing pays no resampling, a large one pays for its voxels.
 * Cached per machine with the network calibrations (`costmodel.json`), taken again when the load changed
 * ({@link calibrationCurrent}).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DatasetJson, Plans } from '../contracts/plans.js';
import type { Registry } from '../registry/registry.js';
import type { ClassOrRegion } from '../dataset/label-manager.js';
import { labelSetup } from '../training/configuration.js';
import { pickWriter } from '../dataset/convert.js';
import { readCase } from '../dataset/read.js';
import { getConfiguration } from '../planning/plans-io.js';
import { stage } from '../pipeline/stages.js';
import { readJsonIfValid, writeJson } from '../pipeline/json-io.js';
import { calibrationCurrent, costCacheFile, machineId, steadyMedian, type Calibration } from './calibrate.js';
import { resampleOptionsFromKwargs, resolveResampler, targetSpacingFor } from '../preprocessing/resample-config.js';
import { permuteList } from '../preprocessing/transpose.js';

/**
 * Measured host cost rates, seconds per unit, in steady state (after a warm-up call; mean of two timed repeats).
 * Voxel counts are per channel (`C`), class (`K`) or label map; "separable voxels" are the voxels read and written by
 * the per-axis passes of the resampler ({@link separableVoxels}), zero when a case is at the configuration's spacing.
 */
export interface HostRates {
  /** Reading and decompressing the image files: s per channel voxel of the original grid. */
  read: number;
  /** Preprocessing without resampling (transpose, crop, normalise): s per channel voxel of the original grid. */
  preprocess: number;
  /** Resampling the channels to the configuration's spacing: s per channel x separable voxel. */
  resampleData: number;
  /** Export without resampling (argmax, paste into the crop box): s per class voxel of the original grid. */
  export: number;
  /** Resampling the class logits back to the original grid: s per class x separable voxel. */
  resampleProbabilities: number;
  /** Writing the segmentation: s per voxel of the original grid. */
  write: number;
  /** One training case's preprocessing without resampling (read image and label, class locations, write the cache): s per `(C + 1)` voxel. */
  preprocessCase: number;
  /** Its resampling (channels and label map): s per `(C + 1)` x separable voxel. */
  resampleCase: number;
}

/** Measured host cost of a configuration's cases on this machine ({@link calibrateHost}). */
export interface HostCalibration {
  key: string;
  /** Spatial shape `[z, y, x]` of the synthetic case timed (original grid) and its shape at the configuration. */
  sampleShape: number[];
  sampleShapeAtConfiguration: number[];
  rates: HostRates;
  /**
   * How much longer the first (warm-up) pass over the sample's prediction steps took than the steady ones, s: what a
   * prediction stage pays once (lazily loaded modules, the resampling workers' start) on top of the per-case rates.
   */
  predictWarmupSeconds?: number;
  /** The timed parts on the sample, s: `<part>` at the sample's own spacing, `<part>@zoom1` already at the configuration's. */
  parts: Record<string, number>;
  measuredAt: string;
  loadAverage: number;
}

/**
 * Voxels read and written by a separable resampler going from spatial `from` to `to` (same axis order, `[z, y, x]`):
 * one pass per axis whose size changes, x first, then y, then z (the in-plane axes, then the out-of-plane one, as
 * `resampleChannel` does), each reading the current volume and writing it with that axis resized. 0 when no axis
 * changes (the resampler copies, or hands the input back).
 */
export function separableVoxels(from: readonly number[], to: readonly number[]): number {
  const cur = [...from];
  let total = 0;
  for (let a = cur.length - 1; a >= 0; a--) {
    if (cur[a] === to[a]) continue;
    const before = cur.reduce((p, v) => p * v, 1);
    cur[a] = to[a]!;
    total += before + cur.reduce((p, v) => p * v, 1);
  }
  return total;
}

/**
 * Host seconds of predicting one case (read, preprocess, resample to the configuration, export with the logits
 * resampled back, write) of `original` voxels (`[z, y, x]` after cropping, transposed as the configuration's axes)
 * that is `atConfiguration` at the configuration's spacing, with `channels` inputs and `classes` outputs.
 */
export function hostPredictCaseSeconds(r: HostRates, channels: number, classes: number, original: readonly number[], atConfiguration: readonly number[]): number {
  const n = original.reduce((a, b) => a * b, 1);
  const there = separableVoxels(original, atConfiguration);
  const back = separableVoxels(atConfiguration, original);
  return (r.read + r.preprocess) * channels * n + r.resampleData * channels * there + r.export * classes * n + r.resampleProbabilities * classes * back + r.write * n;
}

/** Host seconds of preprocessing one training case (as {@link hostPredictCaseSeconds}; the label map counts as a channel). */
export function hostPreprocessCaseSeconds(r: HostRates, channels: number, original: readonly number[], atConfiguration: readonly number[]): number {
  const n = original.reduce((a, b) => a * b, 1);
  return (channels + 1) * (r.preprocessCase * n + r.resampleCase * separableVoxels(original, atConfiguration));
}

/** The voxel units of a case: `weight x (original voxels + voxels at the configuration)` (the fallback's constant rate). */
export function hostUnits(weight: number, original: readonly number[], atConfiguration: readonly number[]): number {
  const n = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);
  return weight * (n(original) + n(atConfiguration));
}

/** Voxels per channel of the synthetic case (about 20-70 ms of work per step on one core; five passes are timed). */
const SAMPLE_VOXELS = 2e5;

/** Options of {@link calibrateHost}. */
export interface HostCalibrateOptions {
  registry: Registry;
  plans: Plans;
  configuration: string;
  dataset: DatasetJson;
  /** A representative case to predict: spatial shape `[z, y, x]` and spacing `[sz, sy, sx]` (mm). */
  sample: { shape: number[]; spacing: number[] };
  /** Foreground labels whose locations preprocessing samples (default: the dataset's labels > 0). */
  labels?: ClassOrRegion[];
}

/**
 * Measure (or read from the cache) the host cost rates of preprocessing and predicting cases for a configuration:
 * on a synthetic case like `sample` (its grid shrunk, its spacing), once at its own spacing and once at the
 * configuration's (no resampling), each step after a warm-up call, and its resamplings on their own, so the per-voxel
 * rates and the resampling rates come apart and apply to every case by its own shape and zoom. Returns null when the dataset's file ending has no
 * writer (nothing to time with).
 */
export async function calibrateHost(o: HostCalibrateOptions): Promise<HostCalibration | null> {
  const cfg = getConfiguration(o.plans, o.configuration);
  const channels = Object.keys(o.dataset.channel_names ?? o.dataset.modality ?? {}).length || 1;
  const classes = labelSetup(o.dataset).numClasses;
  const ending = o.dataset.file_ending ?? '.nii.gz';
  const f = Math.min(1, Math.cbrt(SAMPLE_VOXELS / o.sample.shape.reduce((a, b) => a * b, 1)));
  const shape = o.sample.shape.map((n) => Math.max(1, Math.round(n * f)));
  const key = JSON.stringify(['host-rates-2', machineId(), ending, shape, o.sample.spacing.map((v) => +v.toFixed(3)), channels, classes, cfg.spacing, cfg.resampling_fn_data, cfg.resampling_fn_probabilities, o.plans.transpose_forward]);
  const file = costCacheFile();
  const hit = readJsonIfValid<{ entries?: Record<string, HostCalibration> }>(file)?.entries?.[key];
  if (hit?.rates && calibrationCurrent(hit as unknown as Calibration)) return hit;
  let writer;
  try {
    writer = pickWriter(o.registry, ending);
  } catch {
    return null;
  }
  const dir = mkdtempSync(join(tmpdir(), 'nnunet-ts-hostcal-'));
  try {
    const c = await writeSample(o, writer, dir, shape, channels, ending);
    const cal = await timeSample(o, c, shape, channels, classes, dir);
    const fresh = readJsonIfValid<{ version?: number; entries?: Record<string, unknown> }>(file) ?? {};
    const out: HostCalibration = { key, ...cal, measuredAt: new Date().toISOString(), loadAverage: loadavg()[0]! };
    writeJson(file, { version: 1, entries: { ...(fresh.entries ?? {}), [key]: out } });
    return out;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

type Sample = { id: string; images: string[]; label: string };

/** Write the synthetic case: `channels` int16 images and a uint8 label map of `shape` at the sample's spacing. */
async function writeSample(o: HostCalibrateOptions, writer: ReturnType<typeof pickWriter>, dir: string, shape: number[], channels: number, ending: string): Promise<Sample> {
  const n = shape[0]! * shape[1]! * shape[2]!;
  const sp = o.sample.spacing;
  const geo = { spacing: [sp[0]!, sp[1]!, sp[2]!] as [number, number, number], origin: [0, 0, 0] as [number, number, number], direction: [1, 0, 0, 0, 1, 0, 0, 0, 1] };
  const images: string[] = [];
  const labelValues = Object.values(o.dataset.labels ?? {}).flat().filter((v) => v > 0 && v < 256);
  const seg = new Uint8Array(n).map((_, i) => (i % shape[2]! > shape[2]! / 2 ? labelValues[(i >> 7) % Math.max(1, labelValues.length)] ?? 0 : 0));
  for (let c = 0; c < channels; c++) {
    const data = new Int16Array(n).map((_, i) => 200 + 100 * c + ((i * 2654435761) >>> 26) + (seg[i]! * 150));
    const p = join(dir, `sample_${String(c).padStart(4, '0')}${ending}`);
    await writer.write(p, { data, shape: [1, shape[0]!, shape[1]!, shape[2]!], ...geo }, { dtype: 'int16' });
    images.push(p);
  }
  const label = join(dir, `label${ending}`);
  await writer.write(label, { data: seg, shape: [1, shape[0]!, shape[1]!, shape[2]!], ...geo }, { dtype: 'uint8' });
  return { id: 'sample', images, label };
}

/** The configuration's spacing in the original axis order (2d: the out-of-plane axis keeps `spacing`'s). */
function spacingAtConfiguration(plans: Plans, target: readonly number[], spacing: readonly number[]): number[] {
  const t = plans.transpose_forward ?? [0, 1, 2];
  const off = 3 - target.length;
  const out = [...spacing];
  t.forEach((a, i) => {
    if (i >= off) out[a] = target[i - off]!;
  });
  return out;
}

/**
 * Time the sample's steps: a warm-up pass at its own spacing (discarded), then two rounds of (own spacing,
 * configuration's spacing); each step's two timings are averaged and turned into rates by {@link hostRatesFrom}.
 */
async function timeSample(o: HostCalibrateOptions, c: Sample, shape: number[], channels: number, classes: number, dir: string): Promise<Omit<HostCalibration, 'key' | 'measuredAt' | 'loadAverage'>> {
  const target = getConfiguration(o.plans, o.configuration).spacing!;
  const zoom1 = spacingAtConfiguration(o.plans, target, o.sample.spacing);
  let i = 0;
  const run = (spacing?: number[]) => timeParts(o, c, classes, join(dir, `cache${i}`), join(dir, `out${i++}${o.dataset.file_ending ?? '.nii.gz'}`), spacing);
  const warm = await run(); // warm-up: JIT, first allocations, lazily loaded modules, the resampling workers' start
  const a = [await run(), await run(zoom1), await run(), await run(zoom1)];
  const keys = ['read', 'preprocess', 'export', 'write', 'preprocessCase'] as const;
  const avg = (x: Parts, y: Parts): HostStepSeconds => ({
    read: (x.read + y.read) / 2, preprocess: (x.preprocess + y.preprocess) / 2, export: (x.export + y.export) / 2, write: (x.write + y.write) / 2,
    preprocessCase: (x.preprocessCase + y.preprocessCase) / 2,
  });
  const own = avg(a[0]!, a[2]!);
  const flat = avg(a[1]!, a[3]!);
  const atCfg = a[0]!.shapeAtConfiguration;
  const parts: Record<string, number> = {};
  for (const k of keys) {
    parts[k] = own[k];
    parts[`${k}@zoom1`] = flat[k];
  }
  const predict = (x: HostStepSeconds) => x.read + x.preprocess + x.export + x.write;
  const predictWarmupSeconds = Math.max(0, predict(warm) - predict(own));
  // at zoom 1 the shape at the configuration is the sample's own, transposed
  const original = a[1]!.shapeAtConfiguration;
  const spacingT = permuteList(o.sample.spacing, o.plans.transpose_forward ?? [0, 1, 2]);
  const resampling = await timeResampling(o, original, atCfg, spacingT, channels, classes);
  parts.resampleData = resampling.data;
  parts.resampleProbabilities = resampling.probabilities;
  parts.resampleSeg = resampling.seg;
  return { sampleShape: shape, sampleShapeAtConfiguration: atCfg, rates: hostRatesFrom(own, flat, original, atCfg, channels, classes, resampling), predictWarmupSeconds, parts };
}

/** Seconds of each host step on one case (see {@link HostRates} for what each covers). */
export interface HostStepSeconds {
  read: number;
  preprocess: number;
  export: number;
  write: number;
  /** One training case's preprocessing: read image and label, preprocess with class locations, write the cache. */
  preprocessCase: number;
}

/**
 * The rates of {@link HostRates} from a sample's step times at its own spacing (`own`) and already at the
 * configuration's (`flat`: no resampling): per-voxel rates from `flat`; resampling rates over the separable voxels from
 * `resampling` (timed on their own) when given, else from the differences `own - flat` (negative differences, timing
 * noise, count as 0); read and write from the mean of both.
 * @param resampling the resamplings timed on their own ({@link ResamplingSeconds}), s
 * @param original the sample's spatial shape in the configuration's axis order (transposed), `[z, y, x]`
 * @param atConfiguration its shape at the configuration's spacing
 */
export function hostRatesFrom(own: HostStepSeconds, flat: HostStepSeconds, original: readonly number[], atConfiguration: readonly number[], channels: number, classes: number,
  resampling?: ResamplingSeconds): HostRates {
  const n = original.reduce((p, v) => p * v, 1);
  const there = separableVoxels(original, atConfiguration);
  const back = separableVoxels(atConfiguration, original);
  const per = (v: number, units: number) => (units > 0 ? Math.max(0, v) / units : 0);
  return {
    read: per((own.read + flat.read) / 2, channels * n),
    preprocess: per(flat.preprocess, channels * n),
    resampleData: per(resampling ? resampling.data : own.preprocess - flat.preprocess, channels * there),
    export: per(flat.export, classes * n),
    resampleProbabilities: per(resampling ? resampling.probabilities : own.export - flat.export, classes * back),
    write: per((own.write + flat.write) / 2, n),
    preprocessCase: per(flat.preprocessCase, (channels + 1) * n),
    resampleCase: per(resampling ? resampling.data + resampling.seg : own.preprocessCase - flat.preprocessCase, (channels + 1) * there),
  };
}

/**
 * Steady-state seconds of the resamplings of one case, each timed on its own ({@link timeResampling}): the channels to
 * the configuration's spacing (`data`), the class logits back to the original grid (`probabilities`, all classes) and
 * the label map (`seg`, training preprocessing only).
 */
export interface ResamplingSeconds {
  data: number;
  probabilities: number;
  seg: number;
}

/**
 * Time the sample's resamplings directly with the plans' resamplers and options (as `preprocessCase` and
 * `exportPrediction` call them), each the median of at least 3 runs after a warm-up ({@link steadyMedian}). On a 0.2 M
 * voxel sample a resampling takes tens of milliseconds; as the difference of two totals of the whole step it was
 * within the timing noise of a loaded machine and could come out as zero.
 * @param original the sample's spatial shape in the configuration's axis order, `[z, y, x]`
 * @param atConfiguration its shape at the configuration's spacing (equal: every time is 0)
 * @param spacingT the sample's spacing in the configuration's axis order, mm
 */
async function timeResampling(o: HostCalibrateOptions, original: number[], atConfiguration: number[], spacingT: number[], channels: number, classes: number): Promise<ResamplingSeconds> {
  if (separableVoxels(original, atConfiguration) === 0) return { data: 0, probabilities: 0, seg: 0 };
  const cfg = getConfiguration(o.plans, o.configuration);
  const target = targetSpacingFor(cfg.spacing, spacingT);
  const n = original.reduce((p, v) => p * v, 1);
  const m = atConfiguration.reduce((p, v) => p * v, 1);
  const data = new Float32Array(channels * n).map((_, i) => Math.sin(i * 0.37));
  const logits = new Float32Array(m).map((_, i) => Math.cos(i * 0.11));
  const seg = new Int16Array(n).map((_, i) => ((i >> 5) % 3 === 0 ? 1 : 0));
  const dataR = resolveResampler(o.registry, cfg.resampling_fn_data);
  const dataOpts = resampleOptionsFromKwargs(cfg.resampling_fn_data_kwargs, spacingT, target, 3);
  const probR = resolveResampler(o.registry, cfg.resampling_fn_probabilities);
  const probOpts = resampleOptionsFromKwargs(cfg.resampling_fn_probabilities_kwargs, target, spacingT, 1);
  const segR = resolveResampler(o.registry, cfg.resampling_fn_seg);
  const segOpts = resampleOptionsFromKwargs(cfg.resampling_fn_seg_kwargs, spacingT, target, 1);
  const timed = async (f: () => unknown) => (await steadyMedian(async () => {
    const t = performance.now();
    f();
    return (performance.now() - t) / 1000;
  }, { minRuns: 3, minSeconds: 0.3, maxRuns: 15 })).steady;
  return {
    data: await timed(() => dataR.resampleData(data, [channels, ...original], atConfiguration, dataOpts)),
    // exportPrediction resamples one class at a time
    probabilities: classes * (await timed(() => probR.resampleData(logits, [1, ...atConfiguration], original, probOpts))),
    seg: await timed(() => segR.resampleSeg(seg, original, atConfiguration, segOpts)),
  };
}

interface Parts extends HostStepSeconds {
  /** The case's spatial shape at the configuration (transposed). */
  shapeAtConfiguration: number[];
}

/**
 * Time each host step of predicting, and of preprocessing, the case written to `c`, read as if at `spacing`
 * (original axis order; default the files' own).
 */
async function timeParts(o: HostCalibrateOptions, c: Sample, classes: number, cacheDir: string, outFile: string, spacing?: number[]): Promise<Parts> {
  const { registry, plans, configuration } = o;
  const s = () => performance.now();
  const sec = (t: number) => (performance.now() - t) / 1000;
  let t = s();
  const { image, seg } = await readCase(registry, c);
  const readWithLabel = sec(t);
  t = s();
  const res = stage(registry, 'preprocessCase')({ image: Float32Array.from(image.data), shape: [...image.shape], spacing: spacing ?? [...image.spacing], seg: seg.data as Int16Array }, plans, configuration, registry, {
    sampleClassLocations: true, labels: o.labels, consumeInput: true,
  });
  await stage(registry, 'writePreprocessedCase')(cacheDir, c.id, res);
  const preprocessCase = readWithLabel + sec(t);
  // prediction: the image alone, no label, no class locations
  t = s();
  const { image: im } = await readCase(registry, { id: c.id, images: c.images });
  const read = sec(t);
  t = s();
  const pp = stage(registry, 'preprocessCase')({ image: Float32Array.from(im.data), shape: [...im.shape], spacing: spacing ?? [...im.spacing], seg: null }, plans, configuration, registry, { consumeInput: true });
  const preprocess = sec(t);
  const sp = pp.shape.slice(1);
  const nv = sp[0]! * sp[1]! * sp[2]!;
  const logits = new Float32Array(classes * nv).map((_, i) => Math.sin(i * 0.001 + (i % classes)));
  t = s();
  const r = stage(registry, 'exportPrediction')(logits, [classes, ...sp], pp.properties, plans, configuration, registry, {});
  const exp = sec(t);
  t = s();
  await pickWriter(registry, o.dataset.file_ending ?? '.nii.gz').write(outFile, { data: r.seg, shape: [1, im.shape[1], im.shape[2], im.shape[3]], spacing: [...im.spacing], origin: [...im.origin], direction: [...im.direction] }, { dtype: 'uint8' });
  const write = sec(t);
  return { read, preprocess, export: exp, write, preprocessCase, shapeAtConfiguration: sp };
}
