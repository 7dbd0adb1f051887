import type { Plans } from '../contracts/plans.js';
import type { Registry } from '../registry/registry.js';
import { getConfiguration } from '../planning/plans-io.js';
import { resampleOptionsFromKwargs, resolveResampler, targetSpacingFor } from './resample-config.js';
import { permuteList, transposeSpatial } from './transpose.js';
import type { CaseProperties } from './types.js';

/**
 * A previous stage's segmentation on the ORIGINAL grid (reader axis order, `[z, y, x]` of the input image) brought
 * onto a preprocessed case's grid: transpose_forward, crop to the case's `bbox_used_for_cropping`, resample with the
 * configuration's seg resampler to `spatialShape` (the preprocessed `[z, y, x]`). This is what nnU-Net's
 * preprocessor does to `seg_from_prev_stage` before appending it to the cascade's input (RULES.md §10, §14).
 * @throws RangeError when `seg` does not have `shape_before_cropping` voxels
 */
export function previousStageToGrid(seg: Int16Array, properties: CaseProperties, spatialShape: number[], plans: Plans,
  configuration: string, registry: Registry): Int16Array {
  const cfg = getConfiguration(plans, configuration);
  const tf = plans.transpose_forward;
  const before = properties.shape_before_cropping;
  const n = before[0]! * before[1]! * before[2]!;
  if (seg.length !== n) throw new RangeError(`previous-stage segmentation has ${seg.length} voxels, the case ${n}`);
  // shape_before_cropping is in the transposed grid; the input grid is its inverse permutation
  const inv = [0, 1, 2].map((i) => tf.indexOf(i));
  const original = permuteList(before, inv);
  const t = transposeSpatial(seg, [1, ...original], tf).data;
  const bbox = properties.bbox_used_for_cropping;
  const cs = bbox.map(([a, b]) => b - a) as [number, number, number];
  const crop = new Int16Array(cs[0] * cs[1] * cs[2]);
  for (let z = 0; z < cs[0]; z++)
    for (let y = 0; y < cs[1]; y++) {
      const src = ((z + bbox[0]![0]) * before[1]! + y + bbox[1]![0]) * before[2]! + bbox[2]![0];
      crop.set(t.subarray(src, src + cs[2]), (z * cs[1] + y) * cs[2]);
    }
  if (cs.every((s, i) => s === spatialShape[i])) return crop;
  const spacingT = permuteList(properties.spacing, tf);
  const target = targetSpacingFor(cfg.spacing, spacingT);
  const resampler = resolveResampler(registry, cfg.resampling_fn_seg);
  const opts = resampleOptionsFromKwargs(cfg.resampling_fn_seg_kwargs, spacingT, target, 1);
  return resampler.resampleSeg(crop, cs, spatialShape, opts);
}
