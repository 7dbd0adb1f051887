/**
 * End-to-end check of training + inference with the real parts: PlainConvUNet (net-unet3d), DC_and_CE_loss (loss),
 * the pure-JS CPU backend (backend-cpu) and this package's augmentation, on a tiny task of noisy balls.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  createRng, createSplits, loadTrainedModel, memoryCaseSource, predictPreprocessed, Registry, trainFold,
  type ArchitectureSpec, type Plans, type PreprocessedCaseData,
} from '@nnunet-ts/core';
import { createCpuJsBackend } from '@nnunet-ts/backend-cpu';
import { registerDefaults as registerLoss } from '@nnunet-ts/loss';
import { registerDefaults as registerNet } from '@nnunet-ts/net-unet3d';
import { registerDefaults as registerNet2d } from '@nnunet-ts/net-unet2d';
import { registerDefaults } from './index.js';

function balls(n: number, S: number, seed: number): Record<string, PreprocessedCaseData> {
  const rng = createRng(seed);
  const out: Record<string, PreprocessedCaseData> = {};
  for (let i = 0; i < n; i++) {
    const r = rng.uniform(3, 4.5);
    const c = [0, 1, 2].map(() => rng.uniform(r + 1, S - r - 1));
    const seg = new Int16Array(S ** 3);
    const data = new Float32Array(S ** 3);
    for (let k = 0; k < S ** 3; k++) {
      const z = Math.floor(k / (S * S)), y = Math.floor(k / S) % S, x = k % S;
      seg[k] = (z - c[0]!) ** 2 + (y - c[1]!) ** 2 + (x - c[2]!) ** 2 <= r * r ? 1 : 0;
      data[k] = seg[k]! ? 1 + 0.3 * rng.normal() : -0.5 + 0.3 * rng.normal();
    }
    out[`ball_${i}`] = { data, seg, shape: [1, S, S, S], properties: {} };
  }
  return out;
}

function tinyPlans(): Plans {
  const k3 = [3, 3, 3];
  const k2 = [3, 3];
  const architecture: ArchitectureSpec = {
    network_class_name: 'dynamic_network_architectures.architectures.unet.PlainConvUNet',
    arch_kwargs: {
      n_stages: 3, features_per_stage: [4, 8, 16], conv_op: 'torch.nn.modules.conv.Conv3d', kernel_sizes: [k3, k3, k3],
      strides: [[1, 1, 1], [2, 2, 2], [2, 2, 2]], n_conv_per_stage: [2, 2, 2], n_conv_per_stage_decoder: [2, 2], conv_bias: true,
      norm_op: 'torch.nn.modules.instancenorm.InstanceNorm3d', norm_op_kwargs: { eps: 1e-5, affine: true }, dropout_op: null,
      dropout_op_kwargs: null, nonlin: 'torch.nn.LeakyReLU', nonlin_kwargs: { inplace: true },
    },
    _kw_requires_import: ['conv_op', 'norm_op', 'dropout_op', 'nonlin'],
  };
  // every field loadPlans requires of a configuration (nnU-Net's plans schema)
  const common = (dims: number) => ({
    data_identifier: `nnUNetPlans_${dims}d`, preprocessor_name: 'DefaultPreprocessor', median_image_size_in_voxels: new Array<number>(dims).fill(16),
    spacing: new Array<number>(dims).fill(1), normalization_schemes: ['ZScoreNormalization'], use_mask_for_norm: [false],
    resampling_fn_data: 'resample_data_or_seg_to_shape', resampling_fn_seg: 'resample_data_or_seg_to_shape', resampling_fn_probabilities: 'resample_data_or_seg_to_shape',
    resampling_fn_data_kwargs: { is_seg: false, order: 3, order_z: 0, force_separate_z: null },
    resampling_fn_seg_kwargs: { is_seg: true, order: 1, order_z: 0, force_separate_z: null },
    resampling_fn_probabilities_kwargs: { is_seg: false, order: 1, order_z: 0, force_separate_z: null },
  });
  return {
    dataset_name: 'Dataset998_Balls', plans_name: 'nnUNetPlans', original_median_spacing_after_transp: [1, 1, 1], original_median_shape_after_transp: [16, 16, 16],
    image_reader_writer: 'NibabelIO', transpose_forward: [0, 1, 2], transpose_backward: [0, 1, 2], experiment_planner_used: 'test', label_manager: 'LabelManager',
    foreground_intensity_properties_per_channel: {},
    configurations: {
      '3d_fullres': { ...common(3), patch_size: [16, 16, 16], batch_size: 2, batch_dice: false, architecture },
      '2d': {
        ...common(2), patch_size: [16, 16], batch_size: 4, batch_dice: true,
        architecture: {
          ...architecture,
          arch_kwargs: { ...architecture.arch_kwargs, conv_op: 'torch.nn.modules.conv.Conv2d', norm_op: 'torch.nn.modules.instancenorm.InstanceNorm2d', kernel_sizes: [k2, k2, k2], strides: [[1, 1], [2, 2], [2, 2]] },
        },
      },
    },
  };
}

describe('trainFold + predictPreprocessed with PlainConvUNet and DC_and_CE_loss', () => {
  it('learns noisy balls (Dice on a validation case > 0.8)', async () => {
    const registry = new Registry();
    registerNet2d(registry);
    registerNet(registry);
    registerLoss(registry);
    registerDefaults(registry);
    const backend = createCpuJsBackend();
    const cases = balls(6, 16, 11);
    const splits = createSplits(Object.keys(cases));
    const dir = mkdtempSync(join(tmpdir(), 'balls-'));
    const t0 = Date.now();
    const res = await trainFold({
      registry, backend, plans: tinyPlans(), configuration: '3d_fullres',
      dataset: { channel_names: { '0': 'MRI' }, labels: { background: 0, ball: 1 }, numTraining: 6, file_ending: '.nii.gz' },
      preprocessedDir: dir, splits, fold: 0, outputDir: dir, epochs: 5, iterationsPerEpoch: 10, validationIterations: 2,
      augmentation: 'mirrorOnly', cases: memoryCaseSource(cases), settings: { seed: 1, initialLr: 0.02 },
    });
    const trainMs = Date.now() - t0;
    const model = await loadTrainedModel(dir, [0], registry, backend);
    const id = splits[0]!.val[0]!;
    const c = cases[id]!;
    const logits = await predictPreprocessed(model, c.data, c.shape, { mirror: true });
    const N = 16 ** 3;
    let tp = 0, fp = 0, fn = 0;
    for (let i = 0; i < N; i++) {
      const p = logits[N + i]! > logits[i]! ? 1 : 0;
      const t = c.seg![i]!;
      if (p && t) tp++;
      else if (p) fp++;
      else if (t) fn++;
    }
    const dice = (2 * tp) / (2 * tp + fp + fn);
    console.log(`balls: train ${trainMs} ms, losses ${res.logs.train_losses.map((l) => l.toFixed(3)).join(' ')}, pseudo dice ${res.logs.mean_fg_dice.map((l) => l.toFixed(3)).join(' ')}, val Dice ${dice.toFixed(3)}`);
    expect(dice).toBeGreaterThan(0.8);
  });

  it('2d configuration with nnUNetDefault augmentation learns the balls slice by slice (Dice > 0.8)', async () => {
    const registry = new Registry();
    registerNet(registry);
    registerNet2d(registry);
    registerLoss(registry);
    registerDefaults(registry);
    const backend = createCpuJsBackend();
    const cases = balls(6, 16, 12);
    const splits = createSplits(Object.keys(cases));
    const dir = mkdtempSync(join(tmpdir(), 'balls2d-'));
    const res = await trainFold({
      registry, backend, plans: tinyPlans(), configuration: '2d',
      dataset: { channel_names: { '0': 'MRI' }, labels: { background: 0, ball: 1 }, numTraining: 6, file_ending: '.nii.gz' },
      preprocessedDir: dir, splits, fold: 1, outputDir: dir, epochs: 20, iterationsPerEpoch: 10, validationIterations: 2,
      cases: memoryCaseSource(cases), settings: { seed: 2, initialLr: 0.02 },
    });
    const model = await loadTrainedModel(dir, [1], registry, backend);
    expect(model.dims).toBe(2);
    expect(model.mirrorAxes).toEqual([0, 1]);
    const c = cases[splits[1]!.val[0]!]!;
    const logits = await predictPreprocessed(model, c.data, c.shape, { tileBatch: 8 });
    const N = 16 ** 3;
    let tp = 0, fp = 0, fn = 0;
    for (let i = 0; i < N; i++) {
      const p = logits[N + i]! > logits[i]! ? 1 : 0;
      const t = c.seg![i]!;
      if (p && t) tp++;
      else if (p) fp++;
      else if (t) fn++;
    }
    const dice = (2 * tp) / (2 * tp + fp + fn);
    console.log(`balls 2d: losses ${res.logs.train_losses.map((l) => l.toFixed(3)).join(' ')}, pseudo dice ${res.logs.mean_fg_dice.map((l) => l.toFixed(3)).join(' ')}, val Dice ${dice.toFixed(3)}`);
    expect(dice).toBeGreaterThan(0.8);
  });
});
