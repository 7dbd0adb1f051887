import type { Normalizer } from '../../contracts/normalizer.js';
import { DataError } from '../../util/errors.js';
import { finiteRange, STD_EPSILON } from './stats.js';

/** `NoNormalization` (RULES.md §12): values unchanged (already float32). */
export function noNormalization(): Normalizer {
  return { name: 'NoNormalization', leavesOutsideMaskAtZero: false, normalize: ({ data }) => data };
}

/** `RescaleTo01Normalization` (RULES.md §12): `x - min`, then divide by `max(max, 1e-8)`. Constant input gives 0. */
export function rescaleTo01Normalization(): Normalizer {
  return {
    name: 'RescaleTo01Normalization',
    leavesOutsideMaskAtZero: false,
    normalize({ data }) {
      const [lo, hi] = finiteRange(data);
      if (lo > hi) return data;
      const inv = 1 / Math.max(hi - lo, STD_EPSILON);
      for (let i = 0; i < data.length; i++) data[i] = (data[i]! - lo) * inv;
      return data;
    },
  };
}

/**
 * `RGBTo0_1Normalization` (RULES.md §12): divide by 255.
 * @throws DataError when values lie outside [0, 255] (nnU-Net asserts the same)
 */
export function rgbTo01Normalization(): Normalizer {
  return {
    name: 'RGBTo0_1Normalization',
    leavesOutsideMaskAtZero: false,
    normalize({ data }) {
      const [lo, hi] = finiteRange(data);
      if (lo < 0 || hi > 255) {
        throw new DataError(`RGBTo0_1Normalization expects intensities in [0, 255], got [${lo}, ${hi}]`, {
          hint: "use the channel name 'zscore' or 'rescale_to_0_1' in dataset.json for non-8-bit images",
        });
      }
      for (let i = 0; i < data.length; i++) data[i] = data[i]! / 255;
      return data;
    },
  };
}
