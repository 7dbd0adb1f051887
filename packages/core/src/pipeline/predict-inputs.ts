/**
 * Checks of one prediction input against the model that will segment it, before it is preprocessed: the channel
 * count (an error naming the file), and warnings or notes for inputs that still run but whose result may be poor:
 * a 2D image for a 3D model, NaN/Inf voxels, a constant image, intensities far outside the training fingerprint,
 * a spacing far from the model's target spacing. nnU-Net predicts all of these without a word (docs/FAULTS.md,
 * "Prediction inputs").
 */
import { basename, dirname, join } from 'node:path';
import type { MedicalImage } from '../image/image.js';
import type { Registry } from '../registry/registry.js';
import type { DatasetCase } from '../dataset/types.js';
import { pickReader } from '../dataset/read.js';
import { getConfiguration } from '../planning/plans-io.js';
import { permuteList } from '../preprocessing/transpose.js';
import { DataError } from '../util/errors.js';
import type { ModelFolder } from './model-folder.js';

/** Spacing ratio (input / target, either way) above which `predictInputFindings` adds a note. */
export const SPACING_NOTE_FACTOR = 3;

/**
 * An input whose 99th percentile exceeds this many times the training foreground maximum is called out of range.
 * A margin, since the fingerprint samples the training foreground only: the 221 images of the MSD Hippocampus task in
 * shared/data reach 1.73x the maximum of the shared model's fingerprint (40-case subset); measured with
 * scripts/intensity-findings-measure.mjs. A training set that lacks a whole intensity scale of its dataset still sees
 * those images as out of range (MSD Hippocampus mixes images at ~100, ~1,000 and ~400,000: 10 random cases without a
 * ~400,000 one put 30 normal images above the limit); no factor short of the dataset's own 5,000x spread avoids that.
 */
export const INTENSITY_MAX_FACTOR = 3;

/**
 * For per-image normalization (ZScore-type channels), an input is called too dark when its 99th percentile lies this
 * many times below the training foreground's 0.5th percentile. The plain comparison (factor 1) set a bound from the
 * darkest 0.5% of all training foreground voxels pooled over the training cases for the brightest 1% of one image:
 * MRI has no absolute scale, so the darkest case of the training set decides, and an in-distribution image of a
 * darker scanner or export falls below it. Measured (scripts/intensity-findings-measure.mjs): a fingerprint of the 173
 * float32 Hippocampus training cases in shared/data (0.5th percentile 141) put all 48 uint8 images (99th percentile 89
 * to 127) below it; with this factor none. Images normalised to [0, 1] (99th percentile at most 1 against 32 for the shared model),
 * z-scored exports (about 2) and 1/1000 rescales stay far below.
 */
export const INTENSITY_LOW_FACTOR = 10;

/**
 * A channel whose training foreground has no negative value is called "negative" when its 1st percentile lies below
 * minus this fraction of its 99th percentile (at least 1% of the voxels clearly negative): a CT in HU (air at -1000;
 * MSD Spleen: 1st percentile -843, 99th 347) or an export shifted to zero mean given to a model trained on magnitude
 * images. Reconstruction noise does not reach it: TotalSegmentator's MR example has 1.3% negative voxels, 1st
 * percentile -2 against a 99th of 658.
 */
export const NEGATIVE_FRACTION = 0.1;

/** Ratio of the input's 99th percentile to the training foreground's 99.5th percentile called "scaled" (or its inverse). */
export const INTENSITY_SCALE_FACTOR = 100;

/** Findings of `predictInputFindings`: warnings (the result may be wrong) and notes (informational). */
export interface PredictInputFindings {
  warnings: string[];
  notes: string[];
}

/** The channel names of dataset.json as `0 'T1', 1 'T2'`. */
function channelList(names: Record<string, string>): string {
  return Object.entries(names).map(([k, v]) => `${k} '${v}'`).join(', ');
}

/** `CASE_0000<ending> (name), CASE_0001<ending> (name), ...` for the first channels of a model. */
function channelFiles(id: string, names: Record<string, string>, ending: string): string {
  return Object.entries(names).slice(0, 4).map(([k, v]) => `${id}_${k.padStart(4, '0')}${ending} (${v})`).join(', ') + (Object.keys(names).length > 4 ? ', ...' : '');
}

/**
 * The channel files of a case in the `CASE_XXXX` layout (`c.channelIndices`) against the model's `channel_names`,
 * before anything is read: a missing `_000k` file (or one beyond the model's channels; for a one-channel model, any
 * second file) fails this case only
 * (`forEachCase` goes on with the others, as for a 4D or truncated file; cli README "A bad case among many").
 * @throws DataError naming the missing (or extra) file, the case's files and the model's channels, with the fix
 */
export function checkPredictChannelFiles(c: DatasetCase, folder: ModelFolder): void {
  const idx = c.channelIndices;
  if (!idx || !c.images.length) return;
  const names = folder.dataset.channel_names;
  const expected = Object.keys(names).length;
  const ending = folder.dataset.file_ending;
  const dir = dirname(c.images[0]!);
  const have = c.images.map((f) => basename(f)).join(', ');
  // one channel: any one `_XXXX` file is the case's image, as nnU-Net groups files by case id (`b_0007` is case b)
  const missing = expected === 1 ? [] : [...Array(expected).keys()].filter((k) => !idx.includes(k));
  if (missing.length) {
    const files = missing.map((k) => `${c.id}_${String(k).padStart(4, '0')}${ending} (${names[String(k)]})`);
    throw new DataError(`channel file ${files.join(', ')} of case ${c.id} is missing: the case has ${have}, the model expects ${expected} channel(s) (channel_names of the model's dataset.json: ${channelList(names)})`, {
      file: join(dir, `${c.id}_${String(missing[0]).padStart(4, '0')}${ending}`),
      hint: `add ${files.join(', ')} to ${dir} (the model's channel order: ${channelFiles(c.id, names, ending)})`,
    });
  }
  const extra = expected === 1 ? c.images.slice(1) : c.images.filter((_, i) => idx[i]! >= expected);
  if (extra.length) {
    throw new DataError(`case ${c.id} has ${c.images.length} channel file(s) (${have}), but the model expects ${expected} channel(s) (channel_names of the model's dataset.json: ${channelList(names)})`, {
      file: extra[0]!,
      hint: `give the case exactly the files ${channelFiles(c.id, names, ending)}; move ${extra.map((f) => basename(f)).join(', ')} out of ${dir}`,
    });
  }
}

/**
 * The channel count of a case read for prediction (`image`: all channel files stacked, `[c, z, y, x]`) against the
 * model's dataset.json `channel_names`. A file holding several volumes (a 4D NIfTI with dim[4] > 1, a vector image)
 * for a model that expects one volume per file is the usual cause; the file is found from the headers (`readInfo`).
 * nnU-Net's `NibabelIO` asserts 3D files; its `SimpleITKIO` reads the 4th dimension as channels, and the network then
 * fails on the channel count with a tensor shape error.
 * @throws DataError naming the file with several channels (else the case's first file), its channel count, the
 *   model's channel count and channel names, and the file names to give instead
 */
export async function checkPredictChannels(c: DatasetCase, image: MedicalImage, folder: ModelFolder, registry: Registry): Promise<void> {
  const names = folder.dataset.channel_names;
  const expected = Object.keys(names).length;
  if (image.shape[0] === expected) return;
  const ending = folder.dataset.file_ending;
  let file = c.images[0]!;
  let count = image.shape[0];
  for (const f of c.images) {
    const info = await (await pickReader(registry, f)).readInfo?.(f).catch(() => undefined);
    if (info && info.shape[0] > 1) {
      file = f;
      count = info.shape[0];
      break;
    }
  }
  const what = count > 1 ? `has ${count} channels (a 4D or vector image: its 4th dimension holds ${count} volumes)` : `has ${count} channel`;
  const but = c.images.length > 1
    ? `but each channel file must hold one volume: the case's ${c.images.length} files hold ${image.shape[0]} channels in all, the model expects ${expected}`
    : `but the model expects ${expected} channel(s)`;
  throw new DataError(
    `${what}, ${but} (channel_names of the model's dataset.json: ${channelList(names)})`,
    {
      file,
      hint: expected === 1
        ? `give the model one 3D volume per case: save the volume of '${Object.values(names)[0]}' from ${basename(file)} as ${c.id}_0000${ending}`
        : `split it into one 3D file per channel, in the model's channel order: ${channelFiles(c.id, names, ending)}`,
    },
  );
}

/** Per-channel statistics of the finite voxels: count of non-finite voxels, min, max, 1st and 99th percentile (sampled). */
interface ChannelStats {
  nonFinite: number;
  finite: number;
  min: number;
  max: number;
  q01: number;
  q99: number;
}

/** Statistics of `data` (one channel); the 1st and 99th percentiles from at most 65,536 evenly strided finite voxels. */
function channelStats(data: ArrayLike<number>): ChannelStats {
  let nonFinite = 0, min = Infinity, max = -Infinity;
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    if (!Number.isFinite(v)) nonFinite++;
    else {
      if (v < min) min = v;
      if (v > max) max = v;
    }
  }
  const finite = data.length - nonFinite;
  const stride = Math.max(1, Math.floor(data.length / 65536));
  const sample: number[] = [];
  for (let i = 0; i < data.length; i += stride) if (Number.isFinite(data[i]!)) sample.push(data[i]!);
  sample.sort((a, b) => a - b);
  const at = (q: number) => (sample.length ? sample[Math.min(sample.length - 1, Math.floor(q * (sample.length - 1)))]! : NaN);
  return { nonFinite, finite, min, max, q01: at(0.01), q99: at(0.99) };
}

/** A number for messages: whole numbers from 1,000 to 1e7, else 4 significant digits (exponent from 1e7, below 1e-3). */
function num(v: number): string {
  const a = Math.abs(v);
  if (a >= 1e7 || (v !== 0 && a < 1e-3)) return v.toExponential(2);
  return a >= 1000 ? String(Math.round(v)) : String(+v.toPrecision(4));
}

/**
 * Intensity findings of one channel against the training foreground fingerprint (plans.json
 * `foreground_intensity_properties_per_channel`), first match only:
 * 1. CT channels: no voxel below 0 where the training foreground reaches below -100 HU (stored values without the
 *    rescale intercept);
 * 2. other channels whose training foreground has no negative value: at least 1% of the voxels below
 *    -`NEGATIVE_FRACTION` x the 99th percentile (another modality, e.g. a CT in HU given to an MRI model);
 * 3. every value within [0, 1] where the training foreground's 0.5th percentile is above 1 (normalised to [0, 1]);
 * 4. the 99th percentile below the training foreground's 0.5th percentile (nearly the whole image darker than the
 *    darkest training foreground), for per-image normalization `INTENSITY_LOW_FACTOR` times below it (a positive
 *    percentile; MRI has no absolute scale, so one image's scale says little, see the constant);
 * 5. the 99th percentile above `INTENSITY_MAX_FACTOR` times the training maximum.
 * 4 and 5 name the factor to the training 99.5th percentile when it is 100x or more either way. The whole image's
 * median is not used: it is often background, which the foreground fingerprint does not describe. ZScore-type
 * channels (per-image normalization: a shift or scaling alone does not change their prediction) get a note, CT and
 * NoNormalization channels (the prediction uses the training intensities) a warning. Source of the thresholds: the
 * in-distribution images and the constructed faults measured by scripts/intensity-findings-measure.mjs
 * (docs/FAULTS.md, "Prediction inputs").
 */
function intensityFinding(s: ChannelStats, folder: ModelFolder, ch: number, file: string): { warning?: string; note?: string } {
  const fp = folder.plans.foreground_intensity_properties_per_channel?.[String(ch)];
  if (!fp || !(s.finite > 0) || s.min === s.max) return {};
  const scheme = getConfiguration(folder.plans, folder.configuration).normalization_schemes?.[ch] ?? 'ZScoreNormalization';
  const name = folder.dataset.channel_names[String(ch)] ?? String(ch);
  const absolute = scheme === 'CTNormalization' || scheme === 'NoNormalization';
  const what = `${file}: channel ${ch} ('${name}')`;
  if (scheme === 'CTNormalization' && s.min >= 0 && fp.min < -100) {
    return { warning: `${what} has no negative value (range ${num(s.min)}..${num(s.max)}), while the training CT foreground reaches ${num(fp.min)} HU: the image looks like stored values without the rescale intercept (HU = value - 1024 for most scanners), and CTNormalization clips it to the training range [${num(fp.percentile_00_5)}, ${num(fp.percentile_99_5)}]: the prediction will likely be wrong; export the image in Hounsfield units` };
  }
  const wrong = `; ${scheme} uses the training intensities, so the prediction will likely be wrong: give the image in the units the model was trained on`;
  if (scheme !== 'CTNormalization' && fp.min >= 0 && s.q01 < -NEGATIVE_FRACTION * Math.abs(s.q99)) {
    const text = `${what}: at least 1% of the voxels are negative (1st percentile ${num(s.q01)}, minimum ${num(s.min)}), while the training foreground has no negative value (minimum ${num(fp.min)}): another modality (a CT in HU, air at -1000) or an export shifted to zero mean?`;
    return absolute ? { warning: text + wrong } : { note: `${text}; ${scheme} normalizes each image by its own mean and std, so a shift or scaling alone does not change the prediction, but another modality does: check that this is the modality the model was trained on` };
  }
  const unit = s.min >= 0 && s.max <= 1 && fp.percentile_00_5 > 1;
  const lowBound = !absolute && fp.percentile_00_5 > 0 ? fp.percentile_00_5 / INTENSITY_LOW_FACTOR : fp.percentile_00_5;
  const low = unit || s.q99 < lowBound;
  if (!low && s.q99 <= INTENSITY_MAX_FACTOR * fp.max) return {};
  const ratio = s.q99 / fp.percentile_99_5;
  const factor = ratio >= INTENSITY_SCALE_FACTOR ? ` (about ${num(ratio)}x the training 99.5th percentile ${num(fp.percentile_99_5)}: rescaled?)`
    : ratio > 0 && ratio <= 1 / INTENSITY_SCALE_FACTOR ? ` (about 1/${num(1 / ratio)} of the training 99.5th percentile ${num(fp.percentile_99_5)}: normalised or rescaled?)` : '';
  const text = unit
    ? `${what}: every value lies within [0, 1] (range ${num(s.min)}..${num(s.max)}), while the training foreground's 0.5th percentile is ${num(fp.percentile_00_5)}: normalised to [0, 1]?`
    : `${what}: 99th percentile ${num(s.q99)} lies ${low
      ? `below ${lowBound === fp.percentile_00_5 ? '' : `1/${INTENSITY_LOW_FACTOR} of `}the training foreground's 0.5th percentile ${num(fp.percentile_00_5)}`
      : `above ${INTENSITY_MAX_FACTOR}x the training foreground's maximum ${num(fp.max)}`}${factor}`;
  return absolute
    ? { warning: text + wrong }
    : { note: `${text}; ${scheme} normalizes each image by its own mean and std, so a scaling alone does not change the prediction, but check that this is the modality the model was trained on` };
}

/**
 * Warnings and notes for one prediction input (`image` `[c, z, y, x]` stacked from `c.images`) given to `folder`'s
 * model (cheap: one pass over the voxels plus a sorted sample of at most 65,536 per channel):
 * - warning: a 2D image (one voxel along a spatial axis) for a 3D configuration (patch of 3 axes): nnU-Net predicts
 *   it as one slice padded to the patch, without the 3D context the model learned from;
 * - warning: NaN/Inf voxels (count per file): set to 0 before normalization (`preprocessCase`, bad input B15) so that
 *   they do not turn the whole output into NaN-driven noise, as nnU-Net's normalization would;
 * - warning: a constant image ("every voxel is v"): normalization maps it to 0, the prediction is meaningless;
 * - warning / note: intensities far outside the training fingerprint (see `intensityFinding`);
 * - note: spacing more than `SPACING_NOTE_FACTOR` times finer or coarser than the configuration's target spacing
 *   along an axis (nnU-Net resamples; informational).
 * Each message starts with the channel's file. Source of the NaN and constant rules: nnU-Net's
 * `ZScoreNormalization` (`(x - mean) / max(std, 1e-8)`; a NaN voxel makes mean and std NaN).
 */
export function predictInputFindings(c: DatasetCase, image: MedicalImage, folder: ModelFolder): PredictInputFindings {
  const warnings: string[] = [];
  const notes: string[] = [];
  const cfg = getConfiguration(folder.plans, folder.configuration);
  const spatial = image.shape.slice(1);
  const fileOf = (ch: number) => c.images[c.images.length === image.shape[0] ? ch : 0]!;
  const flat = spatial.some((d) => d === 1) && spatial.some((d) => d > 1);
  if (flat && cfg.patch_size?.length === 3) {
    warnings.push(`${c.images[0]}: a 2D image (shape ${spatial.join('x')}, one slice) for the ${folder.configuration} model, which was trained on 3D volumes (patch ${cfg.patch_size.join('x')}): it is predicted as a single slice padded to the patch (as nnU-Net does), without the 3D context the model learned from; expect a poor segmentation. Use a 2d model for single slices, or give the whole volume`);
  }
  const n = spatial[0]! * spatial[1]! * spatial[2]!;
  for (let ch = 0; ch < image.shape[0]; ch++) {
    const file = fileOf(ch);
    const s = channelStats(image.data.subarray(ch * n, (ch + 1) * n));
    if (s.finite === 0) {
      throw new DataError(`every voxel of channel ${ch} is NaN or infinite: there is nothing to segment`, { file, hint: 'export the image again; NaN voxels come from a failed conversion or a division by zero' });
    }
    if (s.nonFinite) {
      warnings.push(`${file}: ${s.nonFinite} of ${n} voxel(s) are NaN or infinite; they are set to 0 before normalization (nnU-Net would turn the whole output into NaN-driven noise), so the segmentation near them is a guess: replace them (e.g. by the image minimum) and predict again`);
    }
    if (s.min === s.max) {
      warnings.push(`${file}: constant image: every voxel is ${num(s.min)}; normalization maps it to 0, so the prediction will be background/meaningless`);
      continue;
    }
    const f = intensityFinding(s, folder, ch, file);
    if (f.warning) warnings.push(f.warning);
    if (f.note) notes.push(f.note);
  }
  const spacing = permuteList(image.spacing, folder.plans.transpose_forward);
  const size = permuteList(spatial, folder.plans.transpose_forward);
  const target = cfg.spacing ?? [];
  const off = target.map((t, i) => {
    const a = i + spacing.length - target.length; // 2D configurations keep axis 0
    const r = spacing[a]! / t;
    return size[a]! > 1 && (r > SPACING_NOTE_FACTOR || r < 1 / SPACING_NOTE_FACTOR) ? `${num(spacing[a]!)} vs ${num(t)} mm` : '';
  }).filter(Boolean);
  if (off.length) {
    notes.push(`${c.images[0]}: spacing ${spacing.map(num).join(' x ')} mm differs from the ${folder.configuration} model's target spacing ${target.map(num).join(' x ')} mm by more than ${SPACING_NOTE_FACTOR}x (${off.join(', ')}); it is resampled to the target spacing as nnU-Net does (informational: check the header's spacing if this is unexpected)`);
  }
  return { warnings, notes };
}

/**
 * `checkPredictChannels`, then `predictInputFindings` printed through `log` as `warning: ...` and `note: ...` lines.
 * @throws DataError from `checkPredictChannels`, or for a channel whose every voxel is NaN/Inf
 */
export async function checkPredictInput(c: DatasetCase, image: MedicalImage, folder: ModelFolder, registry: Registry, log: (message: string) => void): Promise<void> {
  await checkPredictChannels(c, image, folder, registry);
  const f = predictInputFindings(c, image, folder);
  for (const w of f.warnings) log(`warning: ${w}`);
  for (const n of f.notes) log(`note: ${n}`);
}
