/**
 * @nnunet-ts/backend-webgpu: the device-resident compute contract in WGSL compute shaders (`webgpu`), on Dawn
 * (npm `webgpu`) in Node and on `navigator.gpu` in browsers, from one source. Nothing touches a GPU until the
 * backend is asked for.
 */
import type { PluginModule, Registry } from '@nnunet-ts/core';
import { webgpuPlugin, type WebGpuPluginOptions } from './plugin.js';

export { webgpuPlugin, type WebGpuPlugin, type WebGpuPluginOptions } from './plugin.js';
export { WebGpuBackend } from './backend.js';
export { GpuTensor } from './tensor.js';
export { Engine } from './engine.js';
export { openDevice, type OpenedDevice } from './device.js';
export { findAdapter, isSoftwareAdapter, type AdapterChoice, type SoftwarePolicy } from './gpu/adapter.js';

/** Registers the `webgpu` backend (priority 2); `auto` passes over it when only a software adapter exists. */
export function registerDefaults(registry: Registry, opts: WebGpuPluginOptions & { override?: boolean } = {}): void {
  registry.register('backend', webgpuPlugin(opts), { override: opts.override });
}

/** Plugin module object for `--plugin @nnunet-ts/backend-webgpu`. */
export const plugin: PluginModule = { name: '@nnunet-ts/backend-webgpu', register: registerDefaults };
