/**
 * Every default plugin and the third-party example run the contract suites of `@nnunet-ts/core/testing`, imported
 * by package name as a third party would.
 */
import {
  describeImageIOContract, describeLossContract, describeNormalizerContract, describePlannerContract, describePostprocessorContract,
  describeResamplerContract, describeTransformContract,
} from '@nnunet-ts/core/testing';
import { createDefaultRegistry } from '@nnunet-ts/cli';
import { fixedBatchPlanner, robustRescale, voxReader, voxWriter } from './fixtures/thirdparty-plugin/index.js';

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
