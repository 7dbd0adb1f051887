import type { Normalizer } from '../../contracts/normalizer.js';
import { NnunetError } from '../../util/errors.js';
import { STD_EPSILON } from './stats.js';

/**
 * `CTNormalization` (RULES.md §12): clip to the fingerprint's foreground `[percentile_00_5, percentile_99_5]`, then
 * `(x - mean) / max(std, 1e-8)` with the fingerprint's global foreground mean/std. Never uses the mask. Arithmetic
 * in float64 per voxel, stored float32 (no int16 overflow, B48: outliers are clipped away).
 * @throws NnunetError when `intensityProperties` is missing (the plans lack foreground_intensity_properties_per_channel)
 */
export function ctNormalization(): Normalizer {
  return {
    name: 'CTNormalization',
    leavesOutsideMaskAtZero: false,
    normalize({ data, intensityProperties: p }) {
      if (!p) {
        throw new NnunetError('CTNormalization needs the foreground intensity properties of this channel', {
          hint: 'the plans must contain foreground_intensity_properties_per_channel (rerun plan)',
        });
      }
      const lo = p.percentile_00_5;
      const hi = p.percentile_99_5;
      const mean = p.mean;
      const inv = 1 / Math.max(p.std, STD_EPSILON);
      for (let i = 0; i < data.length; i++) {
        const v = Math.min(Math.max(data[i]!, lo), hi);
        data[i] = (v - mean) * inv;
      }
      return data;
    },
  };
}
