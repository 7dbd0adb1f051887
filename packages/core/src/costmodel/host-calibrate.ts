/**
 * Calibration of the host-side work around the network, per case: what preprocessing and prediction do on the CPU
 * besides the sliding window (read and decompress the channel files, crop, normalise, resample to the configuration's
 * spacing, write the cache; and for prediction: resample the class logits back to the original grid, argmax, paste
 * into the crop box, write the segmentation). Large anisotropic images (512x512x24 at 0.43 mm resampled to 2 mm)
 * spend most of their prediction time here, so a constant voxel rate misses by 2-5x.
 *
 * It times the project's own functions (`readCase`, the `preprocessCase`, `writePreprocessedCase` and
 * `exportPrediction` stages, the dataset's writer) on a synthetic case written to a temporary folder: the median case's
 * grid shrunk on every axis by one factor (about 0.3 M voxels per channel) at the same spacing, so the zoom factors to
 * and from the configuration's spacing, and so the cost per voxel, are those of the real cases. Cached per machine
 * with the network calibrations (`costmodel.json`), taken again when the load changed ({@link calibrationCurrent}).
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
import { calibrationCurrent, costCacheFile, machineId, type Calibration } from './calibrate.js';

/** Measured host cost per voxel unit (see {@link hostUnits}). */
export interface HostCalibration {
  key: string;
  /** Spatial shape `[z, y, x]` of the synthetic case timed (original grid) and its shape at the configuration. */
  sampleShape: number[];
  sampleShapeAtConfiguration: number[];
  /**
   * Seconds of one prediction's host work (read, preprocess, export, write) per unit of
   * `(channels + classes) x (original voxels + voxels at the configuration)`.
   */
  predictSecondsPerUnit: number;
  /** Seconds of one case's preprocessing (read image and label, preprocess, write the cache) per unit of `(channels + 1) x (original + configuration voxels)`. */
  preprocessSecondsPerUnit: number;
  /** The timed parts of one prediction's host work on the sample, s (for the record). */
  parts: Record<string, number>;
  measuredAt: string;
  loadAverage: number;
}

/** The voxel units of a case: `weight x (original voxels + voxels at the configuration)`. */
export function hostUnits(weight: number, original: readonly number[], atConfiguration: readonly number[]): number {
  const n = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);
  return weight * (n(original) + n(atConfiguration));
}

/** Voxels per channel of the synthetic case (about 30-100 ms of work per stage on one core). */
const SAMPLE_VOXELS = 3e5;

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
 * Measure (or read from the cache) the host cost of preprocessing and predicting cases like `sample` for a
 * configuration. Returns null when the dataset's file ending has no writer (nothing to time with).
 */
export async function calibrateHost(o: HostCalibrateOptions): Promise<HostCalibration | null> {
  const cfg = getConfiguration(o.plans, o.configuration);
  const channels = Object.keys(o.dataset.channel_names ?? o.dataset.modality ?? {}).length || 1;
  const classes = labelSetup(o.dataset).numClasses;
  const ending = o.dataset.file_ending ?? '.nii.gz';
  const f = Math.min(1, Math.cbrt(SAMPLE_VOXELS / o.sample.shape.reduce((a, b) => a * b, 1)));
  const shape = o.sample.shape.map((n) => Math.max(1, Math.round(n * f)));
  const key = JSON.stringify(['host', machineId(), ending, shape, o.sample.spacing.map((v) => +v.toFixed(3)), channels, classes, cfg.spacing, cfg.resampling_fn_data, cfg.resampling_fn_probabilities, o.plans.transpose_forward]);
  const file = costCacheFile();
  const hit = readJsonIfValid<{ entries?: Record<string, HostCalibration> }>(file)?.entries?.[key];
  if (hit && calibrationCurrent(hit as unknown as Calibration)) return hit;
  let writer;
  try {
    writer = pickWriter(o.registry, ending);
  } catch {
    return null;
  }
  const dir = mkdtempSync(join(tmpdir(), 'nnunet-ts-hostcal-'));
  try {
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
    const parts = await timeParts(o, { id: 'sample', images, label }, classes, join(dir, 'cache'), join(dir, `out${ending}`));
    const atCfg = parts.shapeAtConfiguration;
    const predict = parts.read + parts.preprocess + parts.export + parts.write;
    const cal: HostCalibration = {
      key, sampleShape: shape, sampleShapeAtConfiguration: atCfg,
      predictSecondsPerUnit: predict / hostUnits(channels + classes, shape, atCfg),
      preprocessSecondsPerUnit: parts.preprocessCase / hostUnits(channels + 1, shape, atCfg),
      parts: { read: parts.read, preprocess: parts.preprocess, export: parts.export, write: parts.write, preprocessCase: parts.preprocessCase },
      measuredAt: new Date().toISOString(), loadAverage: loadavg()[0]!,
    };
    const fresh = readJsonIfValid<{ version?: number; entries?: Record<string, unknown> }>(file) ?? {};
    writeJson(file, { version: 1, entries: { ...(fresh.entries ?? {}), [key]: cal } });
    return cal;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

interface Parts {
  read: number;
  preprocess: number;
  export: number;
  write: number;
  /** One training case's preprocessing: read image and label, preprocess with class locations, write the cache. */
  preprocessCase: number;
  shapeAtConfiguration: number[];
}

/** Time each host step of predicting, and of preprocessing, the case written to `c`. */
async function timeParts(o: HostCalibrateOptions, c: { id: string; images: string[]; label: string }, classes: number, cacheDir: string, outFile: string): Promise<Parts> {
  const { registry, plans, configuration } = o;
  const s = () => performance.now();
  const sec = (t: number) => (performance.now() - t) / 1000;
  let t = s();
  const { image, seg } = await readCase(registry, c);
  const readWithLabel = sec(t);
  t = s();
  const res = stage(registry, 'preprocessCase')({ image: Float32Array.from(image.data), shape: [...image.shape], spacing: [...image.spacing], seg: seg.data as Int16Array }, plans, configuration, registry, {
    sampleClassLocations: true, labels: o.labels, consumeInput: true,
  });
  await stage(registry, 'writePreprocessedCase')(cacheDir, c.id, res);
  const preprocessCase = readWithLabel + sec(t);
  // prediction: the image alone, no label, no class locations
  t = s();
  const { image: im } = await readCase(registry, { id: c.id, images: c.images });
  const read = sec(t);
  t = s();
  const pp = stage(registry, 'preprocessCase')({ image: Float32Array.from(im.data), shape: [...im.shape], spacing: [...im.spacing], seg: null }, plans, configuration, registry, { consumeInput: true });
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
