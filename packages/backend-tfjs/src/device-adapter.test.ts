/**
 * The `tensorflow` device backend's code path (`TfjsDeviceBackend`: the device contract on tfjs tensors) under
 * the float64 device contract suite, on the tfjs backends installable here: tfjs-cpu and tfjs-wasm (same tfjs ops
 * as tfjs-node-gpu, whose install downloads libtensorflow). tfjs-backend-webgpu over SwiftShader runs in
 * `device-webgpu.test.ts`.
 */
import { createDevice } from '@nnunet-ts/core';
import { describeDeviceContract } from '@nnunet-ts/core/testing';
import { tfjsCpuPlugin, tfjsWasmPlugin } from './index.js';

await describeDeviceContract('TfjsDeviceBackend on tfjs-cpu', () => createDevice(tfjsCpuPlugin()));
await describeDeviceContract('TfjsDeviceBackend on tfjs-wasm (emulated backward)', () => createDevice(tfjsWasmPlugin()));
