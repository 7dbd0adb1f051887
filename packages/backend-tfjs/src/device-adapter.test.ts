import { createDevice } from '@nnunet-ts/core';
import { describeDeviceContract } from '@nnunet-ts/core/testing';
import { tfjsCpuPlugin } from './index.js';

// Minimal adapter (issue 9): tfjs convolutions inside the host-memory device contract, until the native
// tensorflow/webgpu device backends (issue 10) replace it.
await describeDeviceContract('tfjs-cpu via HostDeviceBackend', () => createDevice(tfjsCpuPlugin()));
