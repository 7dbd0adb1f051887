/**
 * Opening a WebGPU device on the best adapter, with the limits the kernels need.
 */
import { Engine } from './engine.js';
import { type AdapterChoice, type SoftwarePolicy, findAdapter } from './gpu/adapter.js';

/** An open device plus how it was found. */
export interface OpenedDevice {
  engine: Engine;
  choice: AdapterChoice;
}

/**
 * Opens a device on `findAdapter(software)`, asking for the adapter's largest storage-buffer limits and
 * `shader-f16` when offered. Throws when there is no adapter (message names the cause and the fix).
 */
export async function openDevice(software: SoftwarePolicy = 'fallback'): Promise<OpenedDevice> {
  const choice = await findAdapter(software);
  if (!choice) {
    throw new Error(
      'webgpu: no WebGPU adapter found (Node: install the `webgpu` package and a Vulkan driver with libvulkan1, ' +
        'or chromium for its SwiftShader software driver; browsers: enable WebGPU)',
    );
  }
  const a = choice.adapter;
  const requiredFeatures: GPUFeatureName[] = a.features.has('shader-f16') ? ['shader-f16'] : [];
  const device = await a.requestDevice({
    requiredFeatures,
    requiredLimits: {
      maxStorageBufferBindingSize: a.limits.maxStorageBufferBindingSize,
      maxBufferSize: a.limits.maxBufferSize,
      maxStorageBuffersPerShaderStage: Math.min(a.limits.maxStorageBuffersPerShaderStage, 10),
      maxComputeWorkgroupStorageSize: a.limits.maxComputeWorkgroupStorageSize,
    },
  });
  return { engine: new Engine(device, { software: choice.software }), choice };
}
