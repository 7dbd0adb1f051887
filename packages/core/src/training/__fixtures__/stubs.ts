/** Tiny stand-ins (a 1x1-conv network and softmax cross-entropy) for trainer unit tests. Not exported by the package. */
import type { LossFactory, NetworkFactory, Parameter, Tensor } from '../../contracts/index.js';
import { hostNetwork, resolveDevice } from '../../nn/host.js';
import type { Plans } from '../../contracts/plans.js';
import type { PreprocessedCaseData } from '../case-source.js';
import { createRng } from '../rng.js';

export const stubNetwork: NetworkFactory = {
  name: 'StubNet',
  dims: 3,
  create(input) {
    const { inputChannels: C, numClasses: K, seed } = input;
    const r = createRng(seed ?? 1);
    const w: Parameter = { name: 'w', shape: [K, C], value: Float32Array.from({ length: K * C }, () => r.normal() * 0.1), grad: new Float32Array(K * C), decay: true };
    const b: Parameter = { name: 'b', shape: [K], value: new Float32Array(K), grad: new Float32Array(K), decay: true };
    let last: Tensor | null = null;
    return hostNetwork(resolveDevice(input), {
      parameters: [w, b],
      forward(x: Tensor) {
        last = x;
        const [n, , ...sp] = x.shape as number[];
        const N = sp.reduce((a, v) => a * v, 1);
        const out = new Float32Array(n! * K * N);
        for (let i = 0; i < n!; i++)
          for (let k = 0; k < K; k++)
            for (let v = 0; v < N; v++) {
              let s = b.value[k]!;
              for (let c = 0; c < C; c++) s += w.value[k * C + c]! * x.data[(i * C + c) * N + v]!;
              out[(i * K + k) * N + v] = s;
            }
        return [{ data: out, shape: [n!, K, ...sp] }];
      },
      backward(g) {
        const dy = g[0]!;
        const x = last!;
        const n = x.shape[0]!;
        const N = x.data.length / (n * C);
        for (let i = 0; i < n; i++)
          for (let k = 0; k < K; k++)
            for (let v = 0; v < N; v++) {
              const d = dy.data[(i * K + k) * N + v]!;
              b.grad[k]! += d;
              for (let c = 0; c < C; c++) w.grad[k * C + c]! += d * x.data[(i * C + c) * N + v]!;
            }
      },
    });
  },
};

export const stubLoss: LossFactory = {
  name: 'DC_and_CE_loss',
  create: () => ({
    name: 'stubCE',
    compute({ outputs, targets }) {
      const o = outputs[0]!;
      const [n, K] = o.shape as [number, number];
      const N = o.data.length / (n * K);
      const g = new Float32Array(o.data.length);
      let loss = 0;
      for (let i = 0; i < n; i++)
        for (let v = 0; v < N; v++) {
          let m = -Infinity;
          for (let k = 0; k < K; k++) m = Math.max(m, o.data[(i * K + k) * N + v]!);
          let s = 0;
          for (let k = 0; k < K; k++) s += Math.exp(o.data[(i * K + k) * N + v]! - m);
          const t = targets[0]!.data[i * N + v]!;
          for (let k = 0; k < K; k++) {
            const p = Math.exp(o.data[(i * K + k) * N + v]! - m) / s;
            g[(i * K + k) * N + v] = (p - (k === t ? 1 : 0)) / (n * N);
            if (k === t) loss -= Math.log(p) / (n * N);
          }
        }
      return { loss, grads: [{ data: g, shape: o.shape }, ...outputs.slice(1).map(() => null)] };
    },
  }),
};

/** Cases `[1, Z, Y, X]` with a ball of label 1 (radius r) at a random centre; image = seg + small noise. */
export function sphereCases(n: number, size: [number, number, number], r: number, seed = 7): Record<string, PreprocessedCaseData> {
  const rng = createRng(seed);
  const out: Record<string, PreprocessedCaseData> = {};
  const [Z, Y, X] = size;
  for (let i = 0; i < n; i++) {
    const c = size.map((s) => rng.uniform(r, s - r));
    const seg = new Int16Array(Z * Y * X);
    const data = new Float32Array(Z * Y * X);
    for (let z = 0; z < Z; z++)
      for (let y = 0; y < Y; y++)
        for (let x = 0; x < X; x++) {
          const k = (z * Y + y) * X + x;
          seg[k] = (z - c[0]!) ** 2 + (y - c[1]!) ** 2 + (x - c[2]!) ** 2 <= r * r ? 1 : 0;
          data[k] = seg[k]! * 2 - 1 + rng.normal() * 0.2;
        }
    out[`case_${String(i).padStart(3, '0')}`] = { data, seg, shape: [1, Z, Y, X], properties: {} };
  }
  return out;
}

/** Minimal plans with one configuration using `StubNet`. */
export function stubPlans(patch: number[], batchSize: number): Plans {
  const arch = {
    network_class_name: 'StubNet',
    arch_kwargs: {
      n_stages: 1, features_per_stage: [1], conv_op: 'x', kernel_sizes: [[1, 1, 1]], strides: [[1, 1, 1]], n_conv_per_stage: [1], n_conv_per_stage_decoder: [],
      conv_bias: true, norm_op: 'x', norm_op_kwargs: { eps: 1e-5, affine: true }, dropout_op: null, dropout_op_kwargs: null, nonlin: 'x', nonlin_kwargs: {},
    },
    _kw_requires_import: [],
  };
  return {
    dataset_name: 'Dataset999_Stub', plans_name: 'nnUNetPlans', original_median_spacing_after_transp: [1, 1, 1], original_median_shape_after_transp: [8, 8, 8],
    image_reader_writer: 'x', transpose_forward: [0, 1, 2], transpose_backward: [0, 1, 2], experiment_planner_used: 'x', label_manager: 'LabelManager',
    foreground_intensity_properties_per_channel: {},
    configurations: {
      '3d_fullres': {
        data_identifier: 'nnUNetPlans_3d_fullres', preprocessor_name: 'DefaultPreprocessor', patch_size: patch, batch_size: batchSize,
        median_image_size_in_voxels: patch, spacing: patch.map(() => 1), normalization_schemes: ['ZScoreNormalization'], use_mask_for_norm: [false],
        resampling_fn_data: 'resample_data_or_seg_to_shape', resampling_fn_seg: 'resample_data_or_seg_to_shape', resampling_fn_probabilities: 'resample_data_or_seg_to_shape',
        resampling_fn_data_kwargs: {}, resampling_fn_seg_kwargs: {}, resampling_fn_probabilities_kwargs: {}, batch_dice: true, architecture: arch,
      },
    },
  };
}
