import type { Plans } from '../../contracts/plans.js';

/**
 * Test fixtures shared by the preprocessing tests: a one-channel 3d_fullres plans object (ZScore with the nonzero
 * mask, nnU-Net's resampling kwargs) and a small case `[1, 8, 12, 10]` at spacing `[2, 1, 1]` with labels 1 and 2.
 */
export function makePlans(over: Partial<Plans> = {}, spacing = [2, 1, 1], schemes = ['ZScoreNormalization']): Plans {
  return {
    dataset_name: 'Dataset999_Test', plans_name: 'nnUNetPlans', original_median_spacing_after_transp: [2, 1, 1],
    original_median_shape_after_transp: [8, 12, 10], image_reader_writer: 'x', transpose_forward: [0, 1, 2],
    transpose_backward: [0, 1, 2], experiment_planner_used: 'x', label_manager: 'LabelManager',
    foreground_intensity_properties_per_channel: {
      '0': { mean: 50, std: 10, median: 50, min: 0, max: 100, percentile_00_5: 5, percentile_99_5: 95 },
    },
    configurations: {
      '3d_fullres': {
        spacing, normalization_schemes: schemes, use_mask_for_norm: [true],
        resampling_fn_data: 'resample_data_or_seg_to_shape',
        resampling_fn_data_kwargs: { is_seg: false, order: 3, order_z: 0, force_separate_z: null },
        resampling_fn_seg: 'resample_data_or_seg_to_shape',
        resampling_fn_seg_kwargs: { is_seg: true, order: 1, order_z: 0, force_separate_z: null },
        resampling_fn_probabilities: 'resample_data_or_seg_to_shape',
        resampling_fn_probabilities_kwargs: { is_seg: false, order: 1, order_z: 0, force_separate_z: null },
      },
      '2d': { inherits_from: '3d_fullres', spacing: [0.5, 0.5] },
    },
    ...over,
  };
}

export function makeCase(Z = 8, Y = 12, X = 10) {
  const image = new Float32Array(Z * Y * X);
  const seg = new Int16Array(Z * Y * X);
  for (let z = 0; z < Z; z++) for (let y = 0; y < Y; y++) for (let x = 0; x < X; x++) {
    const i = (z * Y + y) * X + x;
    if (y >= 2 && y < 10 && x >= 1 && x < 9) image[i] = 20 + ((z * 7 + y * 3 + x) % 13);
    if (z >= 2 && z < 6 && y >= 4 && y < 8 && x >= 3 && x < 7) {
      seg[i] = x < 5 ? 1 : 2;
      image[i] += 40;
    }
  }
  return { image, seg, shape: [1, Z, Y, X], spacing: [2, 1, 1] };
}
