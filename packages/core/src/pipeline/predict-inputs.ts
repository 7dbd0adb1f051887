/**
 * Checks of one prediction input against the model that will segment it, before it is preprocessed: the channel
 * count (an error naming the file), and warnings or notes for inputs that still run but whose result may be poor:
 * a 2D image for a 3D model, NaN/Inf voxels, a constant image, intensities far outside the training fingerprint,
 * a spacing far from the model's target spacing. nnU-Net predicts all of these without a word (docs/FAULTS.md,
 * "Prediction inputs").
 */
import { basename } from 'node:path';
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
 * A margin, since the fingerprint samples the training foreground only: the 221 images of the full MSD Hippocampus
 * task reach 1.73x the maximum of the 40-case subset's fingerprint (and none falls below its 0.5th percentile).
 */
export const INTENSITY_MAX_FACTOR = 3;

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

/** Per-channel statistics of the finite voxels: count of non-finite voxels, min, max, 99th percentile (sampled). */
interface ChannelStats {
  nonFinite: number;
  finite: number;
  min: number;
  max: number;
  q99: number;
}

/** Statistics of `data` (one channel); the 99th percentile from at most 65,536 evenly strided finite voxels. */
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
  const q99 = sample.length ? sample[Math.min(sample.length - 1, Math.floor(0.99 * (sample.length - 1)))]! : NaN;
  return { nonFinite, finite, min, max, q99 };
}

/** A number for messages: whole numbers from 1,000 to 1e7, else 4 significant digits (exponent from 1e7, below 1e-3). */
function num(v: number): string {
  const a = Math.abs(v);
  if (a >= 1e7 || (v !== 0 && a < 1e-3)) return v.toExponential(2);
  return a >= 1000 ? String(Math.round(v)) : String(+v.toPrecision(4));
}

/**
 * Intensity findings of one channel against the training foreground fingerprint (plans.json
 * `foreground_intensity_properties_per_channel`): the input's 99th percentile below the training foreground's 0.5th
 * percentile (nearly the whole image darker than the darkest training foreground: normalised to [0, 1], or another
 * modality) or above `INTENSITY_MAX_FACTOR` times its maximum (the whole image's median is often background, which
 * the foreground fingerprint does not describe, so it is not used), with the factor to the training 99.5th percentile when it is 100x or more either way; for CT
 * channels, no voxel below 0 where the training foreground reaches below -100 HU (stored values without the rescale
 * intercept). ZScore-type channels (per-image normalization) get a note, since a scaling alone does not change
 * their prediction; CT and NoNormalization channels a warning.
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
  const low = s.q99 < fp.percentile_00_5;
  if (!low && s.q99 <= INTENSITY_MAX_FACTOR * fp.max) return {};
  const ratio = s.q99 / fp.percentile_99_5;
  const factor = ratio >= INTENSITY_SCALE_FACTOR ? ` (about ${num(ratio)}x the training 99.5th percentile ${num(fp.percentile_99_5)}: rescaled?)`
    : ratio > 0 && ratio <= 1 / INTENSITY_SCALE_FACTOR ? ` (about 1/${num(1 / ratio)} of the training 99.5th percentile ${num(fp.percentile_99_5)}: normalised or rescaled?)` : '';
  const where = low ? `below the training foreground's 0.5th percentile ${num(fp.percentile_00_5)}` : `above ${INTENSITY_MAX_FACTOR}x the training foreground's maximum ${num(fp.max)}`;
  const text = `${what}: 99th percentile ${num(s.q99)} lies ${where}${factor}`;
  return absolute
    ? { warning: `${text}; ${scheme} uses the training intensities, so the prediction will likely be wrong: give the image in the units the model was trained on` }
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
