import type { Plans, PlansConfiguration } from '../contracts/plans.js';
import type { Registry } from '../registry/registry.js';
import { DataError, NnunetError } from '../util/errors.js';
import { getConfiguration } from '../planning/plans-io.js';
import { sampleClassLocations } from './class-locations.js';
import type { ClassOrRegion } from '../dataset/label-manager.js';
import { cropToNonzero, type CropResult } from './cropping/crop.js';
import { finiteRange } from './normalization/stats.js';
import { resampleOptionsFromKwargs, resolveResampler, targetSpacingFor } from './resample-config.js';
import { allocFloat32 } from './resampling/pool.js';
import { computeNewShape } from './resampling/shape.js';
import { uniqueLabels } from './resampling/seg.js';
import { permuteList, transposeSpatial } from './transpose.js';
import type { CaseProperties, PreprocessedCase } from './types.js';

/** Input of `preprocessCase`: one case as read from disk, in the reader's axis order. */
export interface PreprocessInput {
  /** `[c, z, y, x]` float32 (all channels stacked). */
  image: Float32Array;
  /** `[c, z, y, x]`. */
  shape: number[];
  /** `[sz, sy, sx]` mm. */
  spacing: number[];
  /** `[z, y, x]` labels or null (inference). */
  seg: Int16Array | null;
}

export interface PreprocessOptions {
  /** Sample `class_locations` (default: true when a seg is given). */
  sampleClassLocations?: boolean;
  /**
   * Foreground labels or regions to sample locations for (`locationClasses` of the dataset's label manager: without
   * the ignore label, plus the annotated union when there is one). Default: labels > 0 present in the seg.
   */
  labels?: ClassOrRegion[];
  /** Non-fatal findings (NaN/Inf replaced by 0, implausible CT range, constant channel). */
  onWarning?: (message: string) => void;
  /** Case name for messages. */
  caseId?: string;
  /** Allow normalizing `input.image` in place (saves one image copy of peak memory; the caller's array changes). */
  consumeInput?: boolean;
  /**
   * Refuse cases whose estimated peak memory (see `estimatePreprocessBytes`) exceeds this many bytes, with a
   * DataError naming the case, before allocating anything (bad-inputs B26).
   */
  memoryLimitBytes?: number;
}

/** Bytes in the largest unit that keeps the number at least 1 (GiB, MiB, KiB), so small limits still read (B26). */
function fmtBytes(b: number): string {
  for (const [u, f] of [['GiB', 2 ** 30], ['MiB', 2 ** 20], ['KiB', 2 ** 10]] as const) if (b >= f) return `${(b / f).toFixed(2)} ${u}`;
  return `${b} bytes`;
}

/**
 * Upper estimate of the bytes `preprocessCase` holds at its peak for an uncropped case: the input image and seg,
 * one float32 working copy of the image (none with `consumeInput`), the resampled float32 output, the cropped and
 * the resampled int16 seg, and the uint8 nonzero mask. Measured peak on a 512x512x400 CT resampled to 500x448x448:
 * 3.75x the float32 image size above Node's baseline (estimate: 4.0x).
 */
export function estimatePreprocessBytes(channels: number, spatial: readonly number[], newSpatial: readonly number[],
  hasSeg: boolean, consumeInput = false): number {
  const nIn = spatial[0]! * spatial[1]! * spatial[2]!;
  const nOut = newSpatial[0]! * newSpatial[1]! * newSpatial[2]!;
  return 4 * channels * nIn * (consumeInput ? 1 : 2) + 4 * channels * nOut + nIn +
    (hasSeg ? 2 * nIn * 2 + 2 * nOut : 2 * nIn);
}

/**
 * nnU-Net v2 `DefaultPreprocessor.run_case_npy` (RULES.md §14): transpose_forward on the spatial axes, crop to the
 * nonzero mask (seg -1 outside, RULES.md §3), normalize per channel with the plans' schemes (before resampling, spec
 * 1.12), resample data (plans `resampling_fn_data_kwargs`, default order 3 / order_z 0) and seg (one-hot order 1) to
 * the configuration spacing (2D configurations keep axis 0), then sample class locations (seed 1234).
 * NaN/Inf voxels are set to 0 first (reported through `onWarning`), so none reach the cache (B15).
 * @returns data `[c, z, y, x]` float32, seg `[z, y, x]` Int16 (or null), shape, nnU-Net properties
 * @throws RangeError on inconsistent shapes; NnunetError/PluginError for bad plans or missing plugins
 */
export function preprocessCase(input: PreprocessInput, plans: Plans, configuration: string, registry: Registry,
  opts: PreprocessOptions = {}): PreprocessedCase {
  const cfg = getConfiguration(plans, configuration);
  input = asTypedInput(input);
  const [C, Z, Y, X] = input.shape as [number, number, number, number];
  const who = opts.caseId ? `case ${opts.caseId}` : 'case';
  const warn = opts.onWarning ?? (() => {});
  if (input.shape.length !== 4 || input.image.length !== C * Z * Y * X) {
    throw new RangeError(`${who}: image length ${input.image.length} does not match shape ${JSON.stringify(input.shape)}`);
  }
  if (input.seg && input.seg.length !== Z * Y * X) throw new RangeError(`${who}: seg length does not match image`);
  const tf = plans.transpose_forward;
  const spacingT = permuteList(input.spacing, tf);
  if (opts.memoryLimitBytes !== undefined) {
    const full = permuteList([Z, Y, X], tf);
    const need = estimatePreprocessBytes(C, full, computeNewShape(full, spacingT, targetSpacingFor(cfg.spacing, spacingT)),
      input.seg !== null, opts.consumeInput === true);
    if (need > opts.memoryLimitBytes) {
      throw new DataError(`${who} needs ~${fmtBytes(need)} to preprocess; limit ${fmtBytes(opts.memoryLimitBytes)}`, {
        hint: 'raise the memory limit, free memory, or preprocess this case on a larger machine',
      });
    }
  }
  // Transpose, crop and copy in a helper so that intermediates are unreachable (collectable) afterwards.
  const { crop, shapeBefore } = transposeAndCrop(input, tf, opts.consumeInput === true, who, warn);
  const cropped = crop.shape.slice(1);
  const n = cropped[0]! * cropped[1]! * cropped[2]!;
  // crop.data is referenced only through `crop` so it can be dropped once resampled (peak memory).
  normalizeChannels(crop.data, C, n, crop.seg, plans, cfg, registry, who, warn);

  const target = targetSpacingFor(cfg.spacing, spacingT);
  const newShape = computeNewShape(cropped, spacingT, target);
  const resampler = resolveResampler(registry, cfg.resampling_fn_data);
  const dataOpts = resampleOptionsFromKwargs(cfg.resampling_fn_data_kwargs, spacingT, target, 3);
  // `data` is our own array now: let the resampler reuse it (spec'd in InPlaceOption of the default resampler).
  const resampled = resampler.resampleData(crop.data, crop.shape, newShape, { ...dataOpts, allowInPlace: true } as typeof dataOpts);
  crop.data = new Float32Array(0); // drop the normalized copy before the seg is resampled
  let seg: Int16Array | null = null;
  const properties: CaseProperties = {
    spacing: [...input.spacing],
    shape_before_cropping: shapeBefore,
    bbox_used_for_cropping: crop.bbox,
    shape_after_cropping_and_before_resampling: cropped,
  };
  if (input.seg) {
    const segResampler = resolveResampler(registry, cfg.resampling_fn_seg);
    const segOpts = resampleOptionsFromKwargs(cfg.resampling_fn_seg_kwargs, spacingT, target, 1);
    seg = segResampler.resampleSeg(crop.seg, cropped, newShape, segOpts);
    if (opts.sampleClassLocations !== false) {
      const labels = opts.labels ?? uniqueLabels(seg).filter((l) => l > 0);
      properties.class_locations = sampleClassLocations(seg, newShape, labels.filter((l) => l !== 0));
    }
  }
  return { data: resampled, seg, shape: [C, ...newShape], properties };
}

/**
 * transpose_forward + crop_to_nonzero, returning a crop whose `data` the caller owns (never the caller's input
 * unless `consume`). NaN/Inf are zeroed (with a warning) before the nonzero mask is taken.
 */
function transposeAndCrop(input: PreprocessInput, tf: number[], consume: boolean, who: string,
  warn: (m: string) => void): { crop: CropResult; shapeBefore: number[] } {
  let image = consume ? input.image : null;
  const bad = countNonFinite(input.image);
  if (bad > 0) {
    image ??= input.image.slice();
    for (let i = 0; i < image.length; i++) if (!Number.isFinite(image[i]!)) image[i] = 0;
    warn(`${who}: ${bad} NaN/Inf voxels set to 0`);
  }
  const [, Z, Y, X] = input.shape as [number, number, number, number];
  const t = transposeSpatial(image ?? input.image, input.shape, tf);
  const segT = input.seg ? transposeSpatial(input.seg, [1, Z, Y, X], tf).data : null;
  const crop = cropToNonzero(t.data, t.shape, segT);
  if (crop.data === input.image && !consume) {
    const copy = allocFloat32(crop.data.length);
    copy.set(crop.data);
    crop.data = copy;
  }
  return { crop, shapeBefore: t.shape.slice(1) };
}

/** Accepts any numeric typed arrays from readers: image -> Float32Array, seg -> Int16Array (copies only then). */
function asTypedInput(input: PreprocessInput): PreprocessInput {
  const img = input.image as ArrayLike<number>;
  const seg = input.seg as ArrayLike<number> | null;
  return {
    ...input,
    image: img instanceof Float32Array ? img : Float32Array.from(img),
    seg: seg === null || seg === undefined ? null : seg instanceof Int16Array ? seg : Int16Array.from(seg),
  };
}

function countNonFinite(a: Float32Array): number {
  let bad = 0;
  for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i]!)) bad++;
  return bad;
}

/** Per-channel normalization (nnU-Net `_normalize`), in place on `[c, n]`. */
function normalizeChannels(data: Float32Array, C: number, n: number, seg: Int16Array, plans: Plans,
  cfg: PlansConfiguration, registry: Registry, who: string, warn: (m: string) => void): void {
  const schemes = cfg.normalization_schemes ?? [];
  const masks = cfg.use_mask_for_norm ?? [];
  if (schemes.length < C) {
    throw new NnunetError(`plans list ${schemes.length} normalization schemes for ${C} channels`, {
      hint: 'the image has more channels than dataset.json channel_names; check the dataset or rerun plan',
    });
  }
  for (let c = 0; c < C; c++) {
    const ch = data.subarray(c * n, (c + 1) * n);
    const scheme = schemes[c]!;
    const props = plans.foreground_intensity_properties_per_channel?.[String(c)];
    const [lo, hi] = finiteRange(ch);
    if (lo === hi) warn(`${who}: channel ${c} is constant (${lo}); it normalizes to 0`);
    if (scheme === 'CTNormalization' && (hi <= 1 || (props && (hi < props.percentile_00_5 || lo > props.percentile_99_5)))) {
      warn(`${who}: channel ${c} is declared CT but its range [${lo}, ${hi}] does not look like Hounsfield units` +
        (props ? ` (training foreground 0.5..99.5%: ${props.percentile_00_5}..${props.percentile_99_5})` : ''));
    }
    registry.get('normalizer', scheme).normalize({ data: ch, seg, useMaskForNorm: masks[c] === true, intensityProperties: props });
  }
}
