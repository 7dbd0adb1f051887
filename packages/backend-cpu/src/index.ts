/**
 * @nnunet-ts/backend-cpu: the `cpu-native` backend (C++ addon, SIMD implicit-GEMM convolutions, multi-threaded)
 * and the `cpu-js` fallback (pure JavaScript, always available).
 */
import type { PluginModule, Registry } from '@nnunet-ts/core';
import { cpuJsPlugin } from './js.js';
import { cpuNativePlugin, type CpuNativeOptions } from './native.js';

export { createCpuJsBackend, createCpuJsDevice, cpuJsPlugin } from './js.js';
export { CpuNativeDevice, createCpuNativeDevice } from './native-device.js';
export {
  createCpuNativeBackend,
  cpuNativePlugin,
  loadAddon,
  addonLoadError,
  ADDON_PATH,
  type CpuNativeOptions,
  type NativeAddon,
} from './native.js';

/** Registers `cpu-native` (priority 10) and `cpu-js` (priority 50). */
export function registerDefaults(registry: Registry, opts: { override?: boolean; native?: CpuNativeOptions } = {}): void {
  for (const p of [cpuNativePlugin(opts.native), cpuJsPlugin()]) registry.register('backend', p, { override: opts.override });
}

/** Plugin module object for `--plugin @nnunet-ts/backend-cpu`. */
export const plugin: PluginModule = { name: '@nnunet-ts/backend-cpu', register: registerDefaults };
