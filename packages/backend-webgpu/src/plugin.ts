/**
 * The `webgpu` backend plugin. `--backend webgpu` takes whatever adapter exists (a real GPU, else SwiftShader or
 * another software Vulkan driver); the automatic choice (`--backend auto`) takes it only on a hardware adapter and
 * otherwise says why it skipped it (`autoSkipReason`).
 */
import type { BackendPlugin, ComputeBackend, DeviceBackend } from '@nnunet-ts/core';
import { WebGpuBackend } from './backend.js';
import { openDevice } from './device.js';
import { type AdapterChoice, type SoftwarePolicy, findAdapter } from './gpu/adapter.js';

/** Options of `webgpuPlugin`. */
export interface WebGpuPluginOptions {
  /** Software adapters: `'fallback'` (default) allows them when no GPU exists, `'never'` refuses, `'only'` forces (tests). */
  software?: SoftwarePolicy;
  /** Registry priority; default 2 (after `tensorflow`, before every CPU backend). */
  priority?: number;
}

/** The registered plugin: device contract only (`createDevice`), with the automatic choice's veto. */
export interface WebGpuPlugin extends BackendPlugin {
  createDevice(): Promise<DeviceBackend>;
  /** Why `--backend auto` should not pick this backend here (only a software adapter), or undefined. */
  autoSkipReason(): Promise<string | undefined>;
  /** Same as `createDevice` (typed as the WebGPU class). */
  createWebGpu(): Promise<WebGpuBackend>;
}

/** The `webgpu` plugin (priority 2). */
export function webgpuPlugin(opts: WebGpuPluginOptions = {}): WebGpuPlugin {
  const software = opts.software ?? 'fallback';
  let probing: Promise<AdapterChoice | null> | undefined;
  const probe = (): Promise<AdapterChoice | null> => (probing ??= findAdapter(software).catch(() => null));
  const createWebGpu = async (): Promise<WebGpuBackend> => {
    const { engine, choice } = await openDevice(software);
    return new WebGpuBackend(engine, choice);
  };
  return {
    name: 'webgpu',
    priority: opts.priority ?? 2,
    isAvailable: async () => (await probe()) != null,
    autoSkipReason: async () => {
      const a = await probe();
      if (!a) return 'no WebGPU adapter';
      return a.software
        ? `only a software WebGPU adapter exists (${a.label}): correct but slow, so auto does not pick it; use --backend webgpu to run on it anyway`
        : undefined;
    },
    create: async (): Promise<ComputeBackend> => {
      throw new Error('webgpu implements only the device contract (createDevice / selectDevice): a GPU cannot serve synchronous host-memory convolutions');
    },
    createDevice: () => createWebGpu(),
    createWebGpu: () => createWebGpu(),
  };
}
