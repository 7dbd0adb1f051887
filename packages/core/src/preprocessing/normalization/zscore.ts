import type { Normalizer } from '../../contracts/normalizer.js';
import { momentStats, STD_EPSILON } from './stats.js';

/**
 * `ZScoreNormalization` (RULES.md §12): `(x - mean) / max(std, 1e-8)` with per-image float64 statistics. With
 * `useMaskForNorm`, statistics come from `seg >= 0` only and only those voxels change (outside stays as is, i.e. 0
 * after cropping). A constant channel maps to 0 (B15). With an empty mask the data is returned unchanged.
 */
export function zScoreNormalization(): Normalizer {
  return {
    name: 'ZScoreNormalization',
    leavesOutsideMaskAtZero: true,
    normalize({ data, seg, useMaskForNorm }) {
      const mask = useMaskForNorm ? seg : undefined;
      if (useMaskForNorm && !seg) throw new RangeError('ZScoreNormalization: useMaskForNorm needs the cropped seg');
      const { mean, std, count } = momentStats(data, mask);
      if (count === 0) return data;
      const inv = 1 / Math.max(std, STD_EPSILON);
      if (mask) {
        for (let i = 0; i < data.length; i++) if (mask[i]! >= 0) data[i] = (data[i]! - mean) * inv;
      } else {
        for (let i = 0; i < data.length; i++) data[i] = (data[i]! - mean) * inv;
      }
      return data;
    },
  };
}
