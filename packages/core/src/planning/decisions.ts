/**
 * The individual planning decisions (RULES.md §4, §5, §11, §12, §13), each a small pure function, so that a
 * planner variant replaces one decision instead of copying a whole planning method.
 */
import type { DatasetFingerprint, DatasetJson } from '../contracts/plans.js';
import { DataError } from '../util/errors.js';
import { argmax, median, percentile, perAxis, roundHalfEven } from './math.js';

/** nnU-Net's `ANISO_THRESHOLD` (RULES.md §4, nnunetv2/configuration.py). */
const ANISO_THRESHOLD = 3;

/**
 * Full-resolution target spacing (RULES.md §4): per-axis median of the case spacings; when the coarsest axis is both
 * more than 3x coarser than the others and has fewer than a third of their voxels (median ORIGINAL shapes), it gets
 * the 10th percentile of that axis' spacings instead, but at least `max(other axes) + 1e-5`.
 * @param spacings per case, mm, original axis order `[z, y, x]`.
 * @param shapes per case after cropping, voxels, same order.
 * @returns target spacing in mm, original (untransposed) order.
 * @throws DataError when there are no cases.
 */
export function determineTargetSpacing(spacings: readonly number[][], shapes: readonly number[][]): number[] {
  if (spacings.length === 0 || shapes.length === 0) {
    throw new DataError('the fingerprint lists no cases (spacings / shapes_after_crop are empty)', {
      hint: 'extract the fingerprint from a dataset with at least one training case',
    });
  }
  const target = perAxis(spacings, (c) => percentile(c, 50));
  const targetSize = perAxis(shapes, (c) => percentile(c, 50));
  const w = argmax(target);
  const others = target.map((_, i) => i).filter((i) => i !== w);
  const maxOther = Math.max(...others.map((i) => target[i]!));
  const minOtherSize = Math.min(...others.map((i) => targetSize[i]!));
  const anisoSpacing = target[w]! > ANISO_THRESHOLD * maxOther;
  const anisoVoxels = targetSize[w]! * ANISO_THRESHOLD < minOtherSize;
  if (anisoSpacing && anisoVoxels) {
    let t = percentile(
      spacings.map((s) => s[w]!),
      10,
    );
    if (t < maxOther) t = Math.max(maxOther, t) + 1e-5;
    target[w] = t;
  }
  return target;
}

/**
 * v1 base (2019) `ExperimentPlanner.get_target_spacing`: plain per-axis median, no anisotropy rule. Also what the
 * v1 2D planners use.
 */
export function determineTargetSpacingMedian(spacings: readonly number[][]): number[] {
  return perAxis(spacings, (c) => percentile(c, 50));
}

/** The axis that has exactly 1 voxel in every case (2D data stored as 3D), or undefined. */
export function singletonAxis(shapes: readonly (readonly number[])[]): number | undefined {
  if (shapes.length === 0) return undefined;
  const dim = shapes[0]!.length;
  for (let a = 0; a < dim; a++) if (shapes.every((s) => s[a] === 1)) return a;
  return undefined;
}

/**
 * Transpose (RULES.md §5): the coarsest axis of the target spacing first (first one on ties), the others in order.
 * `suppress` gives the identity. Returns `forward` and its inverse `backward`.
 * Deviation from nnU-Net (bad input B22, nnU-Net #2463): when `shapes` is given and one axis has a single voxel in
 * every case, that axis goes first whatever its spacing, so 2D data stored with the singleton axis elsewhere is
 * planned as 2D instead of getting a patch extent of 1. Identical to nnU-Net whenever the singleton axis is also the
 * coarsest (the usual case, e.g. spacing 999 on it).
 */
export function determineTranspose(
  targetSpacing: readonly number[],
  suppress = false,
  shapes?: readonly (readonly number[])[],
): { forward: number[]; backward: number[] } {
  const dim = targetSpacing.length;
  if (suppress) return { forward: [...Array(dim).keys()], backward: [...Array(dim).keys()] };
  const w = (shapes && singletonAxis(shapes)) ?? argmax(targetSpacing);
  const forward = [w, ...[...Array(dim).keys()].filter((i) => i !== w)];
  const backward = [...Array(dim).keys()].map((i) => forward.indexOf(i));
  return { forward, backward };
}

/** Apply a transpose to a per-axis list. */
export function transposeList<T>(values: readonly T[], forward: readonly number[]): T[] {
  return forward.map((i) => values[i]!);
}

/** Normalization schemes per channel name (RULES.md §12), case-insensitive; anything else is z-score. */
const SCHEME_BY_CHANNEL: Record<string, string> = {
  ct: 'CTNormalization',
  nonorm: 'NoNormalization',
  zscore: 'ZScoreNormalization',
  rescale_to_0_1: 'RescaleTo01Normalization',
  rgb_to_0_1: 'RGBTo01Normalization',
};

/** Schemes whose `leaves_pixels_outside_mask_at_zero_if_use_mask_for_norm_is_true` is True (RULES.md §12). */
const MASKABLE = new Set(['ZScoreNormalization']);

/** Channel names of a dataset.json in channel order (`channel_names`, or the v1 `modality` key). */
export function channelNamesOf(dataset: DatasetJson): string[] {
  const names = (dataset.channel_names ?? (dataset as { modality?: Record<string, string> }).modality) as
    | Record<string, string>
    | undefined;
  if (!names || Object.keys(names).length === 0) {
    throw new DataError('dataset.json has no channel_names (or modality) entry', {
      hint: 'add "channel_names": {"0": "CT"} (one entry per input channel)',
    });
  }
  return Object.keys(names)
    .sort((a, b) => Number(a) - Number(b))
    .map((k) => names[k]!);
}

/**
 * v2 normalization (RULES.md §12): scheme per channel from its name; `use_mask_for_norm` is true for maskable schemes
 * (ZScore only) when `median_relative_size_after_cropping < 0.75` or dataset.json sets `use_mask_for_norm: true`.
 */
export function determineNormalization(
  dataset: DatasetJson,
  fingerprint: Pick<DatasetFingerprint, 'median_relative_size_after_cropping'>,
): { schemes: string[]; useMaskForNorm: boolean[] } {
  const schemes = channelNamesOf(dataset).map((n) => SCHEME_BY_CHANNEL[n.toLowerCase()] ?? 'ZScoreNormalization');
  // dataset.json may force the mask (`"use_mask_for_norm": true`, nnU-Net >= 2.5)
  const crop = fingerprint.median_relative_size_after_cropping < 3 / 4 || dataset.use_mask_for_norm === true;
  return { schemes, useMaskForNorm: schemes.map((s) => crop && MASKABLE.has(s)) };
}

/**
 * v1 normalization (RULES.md §12 v1): `CT`/`ct` -> CT (written as `CTNormalization`), `noNorm` -> NoNormalization,
 * else nonCT (`ZScoreNormalization`); the mask is used for a channel whose name does not CONTAIN "CT" when the
 * median size reduction by cropping is < 3/4.
 */
export function determineNormalizationV1(
  dataset: DatasetJson,
  fingerprint: Pick<DatasetFingerprint, 'median_relative_size_after_cropping'>,
): { schemes: string[]; useMaskForNorm: boolean[] } {
  const names = channelNamesOf(dataset);
  const schemes = names.map((n) =>
    n === 'CT' || n === 'ct' ? 'CTNormalization' : n === 'noNorm' ? 'NoNormalization' : 'ZScoreNormalization',
  );
  const crop = fingerprint.median_relative_size_after_cropping < 3 / 4;
  return { schemes, useMaskForNorm: names.map((n) => !n.includes('CT') && crop) };
}

/**
 * batch_dice rule (RULES.md §11, identical in v1 and v2): 2d true; 3d_fullres true iff a 3d_lowres exists;
 * 3d_lowres false.
 */
export function determineBatchDice(configuration: '2d' | '3d_fullres' | '3d_lowres', hasLowres: boolean): boolean {
  if (configuration === '2d') return true;
  if (configuration === '3d_lowres') return false;
  return hasLowres;
}

/** Resampling functions and kwargs as nnU-Net v2 writes them (RULES.md §13). */
export function determineResampling(): {
  resampling_fn_data: string;
  resampling_fn_seg: string;
  resampling_fn_data_kwargs: Record<string, unknown>;
  resampling_fn_seg_kwargs: Record<string, unknown>;
  resampling_fn_probabilities: string;
  resampling_fn_probabilities_kwargs: Record<string, unknown>;
} {
  const fn = 'resample_data_or_seg_to_shape';
  return {
    resampling_fn_data: fn,
    resampling_fn_seg: fn,
    resampling_fn_data_kwargs: { is_seg: false, order: 3, order_z: 0, force_separate_z: null },
    resampling_fn_seg_kwargs: { is_seg: true, order: 1, order_z: 0, force_separate_z: null },
    resampling_fn_probabilities: fn,
    resampling_fn_probabilities_kwargs: { is_seg: false, order: 1, order_z: 0, force_separate_z: null },
  };
}

/**
 * Shape after resampling one case (v2 `compute_new_shape`, RULES.md §13 "Shapes"): `round(old_spacing / new_spacing *
 * old_shape)` per axis with Python's half-to-even rounding.
 */
export function resampledShape(shape: readonly number[], spacing: readonly number[], newSpacing: readonly number[]): number[] {
  return shape.map((s, i) => roundHalfEven((spacing[i]! / newSpacing[i]!) * s));
}

/** Median over cases of the resampled shapes (v2 `plan_experiment`), untransposed; entries may end in .5. */
export function medianResampledShape(
  spacings: readonly number[][],
  shapes: readonly number[][],
  targetSpacing: readonly number[],
): number[] {
  const newShapes = shapes.map((sh, i) => resampledShape(sh, spacings[i]!, targetSpacing));
  return perAxis(newShapes, median);
}

/**
 * Reader/writer class name nnU-Net would pick for a file ending (RULES.md §1 "Readers"), honouring
 * `overwrite_image_reader_writer`.
 */
export function determineReaderWriter(dataset: DatasetJson): string {
  if (typeof dataset.overwrite_image_reader_writer === 'string') return dataset.overwrite_image_reader_writer;
  const e = (dataset.file_ending ?? '').toLowerCase();
  if (e === '.png' || e === '.bmp') return 'NaturalImage2DIO';
  if (['.nii.gz', '.nrrd', '.mha', '.gipl'].includes(e)) return 'SimpleITKIO';
  if (e === '.tif' || e === '.tiff') return 'Tiff3DIO';
  if (e === '.nii') return 'NibabelIO';
  return 'SimpleITKIO';
}
