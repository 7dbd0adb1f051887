// Entry of the bundled benchmark that bench/gpu.sh carries to a GPU machine without Node packages: every workspace
// package and case module imported statically (so rolldown bundles them), handed to bench/run.mjs through globals.
import * as core from '@nnunet-ts/core';
import * as ioNifti from '@nnunet-ts/io-nifti';
import * as backendCpu from '@nnunet-ts/backend-cpu';
import * as backendTfjs from '@nnunet-ts/backend-tfjs';
import * as backendWebgpu from '@nnunet-ts/backend-webgpu';
import * as conv3d from './cases/conv3d.mjs';
import * as deviceHippocampus from './cases/device-hippocampus.mjs';

globalThis.__NNUNET_BUNDLED__ = {
  '@nnunet-ts/core': core,
  '@nnunet-ts/io-nifti': ioNifti,
  '@nnunet-ts/backend-cpu': backendCpu,
  '@nnunet-ts/backend-tfjs': backendTfjs,
  '@nnunet-ts/backend-webgpu': backendWebgpu,
};
globalThis.__NNUNET_CASES__ = { 'conv3d.mjs': conv3d, 'device-hippocampus.mjs': deviceHippocampus };
await import('./run.mjs');
