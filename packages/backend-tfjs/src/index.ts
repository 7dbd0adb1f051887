/**
 * @nnunet-ts/backend-tfjs: compute backends on TensorFlow.js - `tensorflow` (tfjs-node-gpu / tfjs-node, optional),
 * `tfjs-webgpu` (tfjs-backend-webgpu on Dawn, optional), `tfjs-wasm` and `tfjs-cpu`. Nothing is imported from tfjs
 * until a backend is asked for.
 */
import type { PluginModule, Registry } from '@nnunet-ts/core';
import { tensorflowPlugin, tfjsCpuPlugin, tfjsWasmPlugin, tfjsWebgpuPlugin } from './plugins.js';

export { tensorflowPlugin, tfjsCpuPlugin, tfjsWasmPlugin, tfjsWebgpuPlugin, type Importer } from './plugins.js';
export { createTfjsConvBackend, hasConvKernels, TFJS_CONV_KERNELS, type TfApi } from './tfjs-backend.js';
export { TfjsDeviceBackend, type TfjsDeviceOptions } from './device/backend.js';
export { createMatMulConvBackend, tfjsMatMul, type MatMul } from './matmul-backend.js';
export { im2colTile, col2imTile, im2colRows } from './im2col.js';
export { toNdhwcPadded, fromNdhwcCropped, oidhwToDhwio, dhwioToOidhw } from './layout.js';

/** Registers `tensorflow` (1), `tfjs-webgpu` (3), `tfjs-wasm` (60) and `tfjs-cpu` (90). */
export function registerDefaults(registry: Registry, opts: { override?: boolean } = {}): void {
  for (const p of [tensorflowPlugin(), tfjsWebgpuPlugin(), tfjsWasmPlugin(), tfjsCpuPlugin()]) {
    registry.register('backend', p, { override: opts.override });
  }
}

/** Plugin module object for `--plugin @nnunet-ts/backend-tfjs`. */
export const plugin: PluginModule = { name: '@nnunet-ts/backend-tfjs', register: registerDefaults };
