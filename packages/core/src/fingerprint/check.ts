import { Ajv, type ErrorObject } from 'ajv';
import type { DatasetFingerprint } from '../contracts/plans.js';
import { DataError } from '../util/errors.js';

const finite = { type: 'number', minimum: -1e30, maximum: 1e30 };
/** Per-axis spacing of a case in mm: positive, at most 10 m (nnU-Net writes 999 for the missing axis of 2D images). */
const spacing = { type: 'number', exclusiveMinimum: 0, maximum: 1e4 };
/** Voxels per axis after cropping (a case cropped to nothing has no voxels to plan with). */
const size = { type: 'integer', minimum: 1, maximum: 2 ** 31 - 1 };
const intensity = {
  type: 'object',
  required: ['mean', 'median', 'std', 'min', 'max', 'percentile_99_5', 'percentile_00_5'],
  properties: { mean: finite, median: finite, std: { ...finite, minimum: 0 }, min: finite, max: finite, percentile_99_5: finite, percentile_00_5: finite },
};

/**
 * JSON schema of `dataset_fingerprint.json` (nnU-Net v2's `DatasetFingerprintExtractor` output, RULES.md §2): the keys the
 * planners read. `spacings` and `shapes_after_crop` are per case, `[z, y, x]` in mm and voxels.
 */
export const FINGERPRINT_SCHEMA = {
  type: 'object',
  required: ['foreground_intensity_properties_per_channel', 'median_relative_size_after_cropping', 'shapes_after_crop', 'spacings'],
  properties: {
    foreground_intensity_properties_per_channel: { type: 'object', minProperties: 1, propertyNames: { pattern: '^[0-9]+$' }, additionalProperties: intensity },
    median_relative_size_after_cropping: { type: 'number', minimum: 0, maximum: 1 },
    shapes_after_crop: { type: 'array', minItems: 1, items: { type: 'array', minItems: 3, maxItems: 3, items: size } },
    spacings: { type: 'array', minItems: 1, items: { type: 'array', minItems: 3, maxItems: 3, items: spacing } },
  },
} as const;

let validate: ReturnType<Ajv['compile']> | undefined;

function describe(e: ErrorObject): string {
  const at = e.instancePath ? e.instancePath.slice(1).replace(/\//g, '.') : 'the file';
  return `${at} ${e.message ?? 'is invalid'}`;
}

/**
 * Check a parsed `dataset_fingerprint.json` before planning with it: the schema above, one shape per spacing with the
 * same number of axes, and (when `channels` is given) one intensity entry per channel of dataset.json.
 * @returns the fingerprint, typed
 * @throws DataError naming `file` and every problem found (at most 5), with the fix (extract it again)
 */
export function checkFingerprintFile(value: unknown, file: string, channels?: number): DatasetFingerprint {
  validate ??= new Ajv({ allErrors: true }).compile(FINGERPRINT_SCHEMA);
  const problems = validate(value) ? [] : [...new Set((validate.errors ?? []).map(describe))];
  if (!problems.length) {
    const fp = value as DatasetFingerprint;
    if (fp.shapes_after_crop.length !== fp.spacings.length) problems.push(`${fp.shapes_after_crop.length} shapes_after_crop for ${fp.spacings.length} spacings (one per case each)`);
    const axes = fp.spacings.findIndex((s, i) => s.length !== fp.spacings[0]!.length || s.length !== fp.shapes_after_crop[i]?.length);
    if (axes >= 0) problems.push(`case ${axes}: spacing and shape must have the same number of axes as every other case`);
    const have = Object.keys(fp.foreground_intensity_properties_per_channel).length;
    if (channels !== undefined && have !== channels) problems.push(`foreground_intensity_properties_per_channel has ${have} channel(s), dataset.json declares ${channels}`);
  }
  if (problems.length) {
    throw new DataError(`invalid dataset fingerprint: ${problems.slice(0, 5).join('; ')}${problems.length > 5 ? ` (and ${problems.length - 5} more)` : ''}`, {
      file,
      hint: 'extract it again: nnunet-ts fingerprint <dataset> -o <run> (a fingerprint is written by the program, not by hand)',
    });
  }
  return value as DatasetFingerprint;
}
