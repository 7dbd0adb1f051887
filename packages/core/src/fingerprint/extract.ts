import type { DatasetFingerprint } from '../contracts/plans.js';
import type { MedicalImage } from '../image/image.js';
import { cropToNonzero } from '../preprocessing/cropping/crop.js';
import { RandomState } from '../util/random-state.js';
import { DataError } from '../util/errors.js';
import { intensityProperties, mergeAll, sampleWithReplacement, type WeightedSamples } from './intensity.js';

/** One case as loaded by a reader: all channels stacked `[c, z, y, x]`, and its label map `[1, z, y, x]`. */
export interface LoadedCase {
  id: string;
  image: MedicalImage;
  seg: MedicalImage;
}

export interface FingerprintOptions {
  /** Number of cases (needed up front for `num_samples`; known for arrays, else cases are buffered). */
  numCases?: number;
  /** Total foreground samples per channel over the dataset (nnU-Net `10e7`, RULES.md §2). */
  totalForegroundSamples?: number;
  /** Seed of each case's `RandomState` (nnU-Net 1234). */
  seed?: number;
  /** Non-fatal findings, e.g. NaN/Inf voxel counts per file (those voxels never enter statistics). */
  onWarning?: (message: string) => void;
  /** Progress callback after each case. */
  onCase?: (id: string, index: number) => void;
}

/** nnU-Net's `num_foreground_voxels_for_intensitystats` = 10e7 (RULES.md §2). */
export const FOREGROUND_SAMPLES_TOTAL = 10e7;

interface CaseRecord {
  spacing: number[];
  shapeAfterCrop: number[];
  relativeSize: number;
  fg: Float32Array[] | null;
  samples: WeightedSamples[] | null;
}

/**
 * `DatasetFingerprintExtractor` (RULES.md §2) for cases in memory or streamed: per case crop to nonzero (RULES.md §3),
 * record spacing, shape after crop and relative size, and sample `int(10e7 // num_cases)` foreground (`seg > 0`)
 * intensities per channel with replacement from a fresh `RandomState(1234)` (numpy-identical draws); pool the samples
 * of all cases and compute mean/median/std/min/max/0.5/99.5 percentiles per channel. NaN/Inf voxels are counted,
 * reported through `onWarning` and left out of the foreground pool.
 * @returns dataset_fingerprint.json content (nnU-Net field names)
 * @throws DataError when image and label grids differ or the channel count changes between cases
 */
export async function extractFingerprint(cases: AsyncIterable<LoadedCase> | Iterable<LoadedCase>,
  opts: FingerprintOptions = {}): Promise<DatasetFingerprint> {
  const numCases = opts.numCases ?? (Array.isArray(cases) ? cases.length : undefined);
  const total = opts.totalForegroundSamples ?? FOREGROUND_SAMPLES_TOTAL;
  const perCase = numCases ? Math.floor(total / numCases) : 0;
  const records: CaseRecord[] = [];
  let channels = -1;
  let index = 0;
  for await (const c of cases as AsyncIterable<LoadedCase>) {
    const rec = analyzeCase(c, opts, numCases ? perCase : null);
    const nCh = (rec.samples ?? rec.fg)!.length;
    if (channels >= 0 && nCh !== channels) {
      throw new DataError(`case ${c.id} has ${nCh} channels, earlier cases have ${channels}`, { file: c.image.source });
    }
    channels = nCh;
    records.push(rec);
    opts.onCase?.(c.id, index++);
  }
  if (records.length === 0) throw new DataError('extractFingerprint: no cases');
  const n = records.length;
  const perCaseLate = Math.floor(total / n);
  const props: DatasetFingerprint['foreground_intensity_properties_per_channel'] = {};
  for (let ch = 0; ch < channels; ch++) {
    const pooled = mergeAll(records.map((r) => r.samples?.[ch] ?? lateSample(r, ch, perCaseLate, opts.seed)));
    props[String(ch)] = intensityProperties(pooled);
  }
  const rel = records.map((r) => r.relativeSize).sort((a, b) => a - b);
  const median = rel.length % 2 ? rel[(rel.length - 1) / 2]! : (rel[rel.length / 2 - 1]! + rel[rel.length / 2]!) / 2;
  return {
    foreground_intensity_properties_per_channel: props,
    median_relative_size_after_cropping: median,
    shapes_after_crop: records.map((r) => r.shapeAfterCrop),
    spacings: records.map((r) => r.spacing),
  };
}

/** Sampling for buffered cases (case count unknown while streaming): each case's RNG is fresh, so order is kept. */
function lateSample(r: CaseRecord, ch: number, perCase: number, seed = 1234): WeightedSamples {
  const rs = new RandomState(seed);
  let out: WeightedSamples | null = null;
  for (let c = 0; c <= ch; c++) out = sampleWithReplacement(r.fg![c]!, perCase, rs);
  return out!;
}

function analyzeCase(c: LoadedCase, opts: FingerprintOptions, perCase: number | null): CaseRecord {
  const { image, seg } = c;
  const [C, Z, Y, X] = image.shape;
  const sShape = seg.shape;
  if (sShape[1] !== Z || sShape[2] !== Y || sShape[3] !== X) {
    throw new DataError(`case ${c.id}: label shape ${JSON.stringify(sShape)} does not match image ${JSON.stringify(image.shape)}`, {
      file: seg.source ?? image.source,
    });
  }
  const data = image.data instanceof Float32Array ? image.data : Float32Array.from(image.data);
  let bad = 0;
  for (let i = 0; i < data.length; i++) if (!Number.isFinite(data[i]!)) bad++;
  if (bad > 0) opts.onWarning?.(`${image.source ?? c.id}: ${bad} NaN/Inf voxels, left out of the intensity statistics`);
  const segArr = seg.data instanceof Int16Array ? seg.data : Int16Array.from(seg.data);
  const crop = cropToNonzero(data, image.shape, segArr.subarray(0, Z * Y * X));
  const [, cz, cy, cx] = crop.shape as [number, number, number, number];
  const n = cz * cy * cx;
  const fg: Float32Array[] = [];
  for (let ch = 0; ch < C; ch++) {
    const o = ch * n;
    let m = 0;
    for (let i = 0; i < n; i++) if (crop.seg[i]! > 0 && Number.isFinite(crop.data[o + i]!)) m++;
    const vals = new Float32Array(m);
    for (let i = 0, j = 0; i < n; i++) {
      if (crop.seg[i]! > 0 && Number.isFinite(crop.data[o + i]!)) vals[j++] = crop.data[o + i]!;
    }
    fg.push(vals);
  }
  let samples: WeightedSamples[] | null = null;
  if (perCase !== null) {
    const rs = new RandomState(opts.seed ?? 1234);
    samples = fg.map((f) => sampleWithReplacement(f, perCase, rs));
  }
  return {
    spacing: [...image.spacing],
    shapeAfterCrop: [cz, cy, cx],
    relativeSize: n / (Z * Y * X),
    fg: samples ? null : fg,
    samples,
  };
}
