import { HostDeviceBackend, type DeviceBackend } from '@nnunet-ts/core';
import { createCpuNativeBackend, type CpuNativeOptions } from './native.js';

/**
 * `cpu-native` on the device contract: host-memory tensors, the convolutions (forward, backward data, backward
 * filter) in the native C++ kernels, every other op in the JavaScript of `HostDeviceBackend` until native kernels
 * replace them (override the op methods here). Throws `Error` when the addon is not built.
 */
export class CpuNativeDevice extends HostDeviceBackend {
  constructor(opts: CpuNativeOptions = {}) {
    const compute = createCpuNativeBackend(opts);
    super(compute, { name: 'cpu-native', description: `${compute.info.description}; other ops JavaScript` });
  }
}

/** Creates the `cpu-native` device backend (see `CpuNativeDevice`). */
export async function createCpuNativeDevice(opts: CpuNativeOptions = {}): Promise<DeviceBackend> {
  return new CpuNativeDevice(opts);
}
