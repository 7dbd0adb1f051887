/**
 * Every default plugin and the third-party example run the contract suites of `@nnunet-ts/core/testing`, imported
 * by package name as a third party would.
 */
import { selectDevice, type ArchitectureSpec, type NetworkFactory } from '@nnunet-ts/core';
import {
  describeImageIOContract, describeLossContract, describeNetworkContract, describeNormalizerContract, describePlannerContract,
  describePostprocessorContract, describeResamplerContract, describeTransformContract,
} from '@nnunet-ts/core/testing';
import { createDefaultRegistry } from '@nnunet-ts/cli';
import { fixedBatchPlanner, multiScaleLinearNet, robustRescale, voxReader, voxWriter } from './fixtures/thirdparty-plugin/index.js';

const reg = createDefaultRegistry();
await describeImageIOContract('nifti', reg.get('reader', 'nifti'), reg.get('writer', 'nifti'), '.nii.gz');
await describeImageIOContract('third-party vox-json', voxReader, voxWriter, '.vox.json');
for (const n of reg.all('normalizer')) await describeNormalizerContract(n);
await describeNormalizerContract(robustRescale);
for (const r of reg.all('resampler')) await describeResamplerContract(r);
for (const l of reg.all('loss').filter((f) => f.name === 'DC_and_CE_loss')) await describeLossContract(l);
await describeTransformContract('nnUNetDefault', reg.get('augmentation', 'nnUNetDefault').create({ patchSize: [4, 6, 6], dims: 3, mirrorAxes: [0, 1, 2], doDummy2D: false }));
for (const p of reg.all('postprocessor')) await describePostprocessorContract(p, { labels: [1], label: 1 });
for (const p of reg.all('planner')) await describePlannerContract(p);
await describePlannerContract(fixedBatchPlanner);

/**
 * A tiny 3-stage architecture block of `net` in nnU-Net's format (features 2, 3, 4; kernels 3; strides 1, 2, 2),
 * LeakyReLU with negative_slope 1 so that the suite's central differences see no kinks.
 */
function tinyArchitecture(net: NetworkFactory): ArchitectureSpec {
  const d = net.dims;
  const k = new Array<number>(d).fill(3);
  const s = (v: number) => new Array<number>(d).fill(v);
  const residual = net.name === 'ResidualEncoderUNet';
  return {
    network_class_name: `dynamic_network_architectures.architectures.unet.${net.name}`,
    arch_kwargs: {
      n_stages: 3,
      features_per_stage: [2, 3, 4],
      conv_op: `torch.nn.modules.conv.Conv${d}d`,
      kernel_sizes: [k, k, k],
      strides: [s(1), s(2), s(2)],
      ...(residual ? { n_blocks_per_stage: [1, 2, 1] } : { n_conv_per_stage: [2, 2, 2] }),
      n_conv_per_stage_decoder: residual ? [1, 1] : [2, 2],
      conv_bias: true,
      norm_op: `torch.nn.modules.instancenorm.InstanceNorm${d}d`,
      norm_op_kwargs: { eps: 1e-5, affine: true },
      dropout_op: null,
      dropout_op_kwargs: null,
      nonlin: 'torch.nn.LeakyReLU',
      nonlin_kwargs: { inplace: true, negative_slope: 1 },
    },
    _kw_requires_import: ['conv_op', 'norm_op', 'dropout_op', 'nonlin'],
  };
}

// PlainConvUNet 3D of tinyArchitecture, 2 input channels, 3 classes, by hand as PyTorch counts it: encoder
// 228 + 423 + 780, decoder (transposed conv 99 + convs 747 + seg head 12) + (50 + 336 + 9)
const PLAIN_3D_COUNT = 2684;
const device = await selectDevice(reg, 'cpu-js', () => {});
const networks: NetworkFactory[] = reg.all('network');
for (const net of networks) {
  await describeNetworkContract(net, {
    device,
    architecture: tinyArchitecture(net),
    networkInputChannels: net.name === 'PlainConvUNetCascade' ? (c, k) => c + k - 1 : undefined,
    parameterCount: net.name === 'PlainConvUNet' && net.dims === 3 ? PLAIN_3D_COUNT : undefined,
  });
}
await describeNetworkContract(multiScaleLinearNet, { device, architecture: tinyArchitecture(multiScaleLinearNet), parameterCount: 2 * (3 * 2 + 3) });
