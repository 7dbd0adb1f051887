import type { ComputeBackend, DeviceBackend } from '@nnunet-ts/core';
import { createTfjsConvBackend, hasConvKernels, tfjsWasmPlugin, type TfApi } from '@nnunet-ts/backend-tfjs';

/** The page's compute backends, in the order `auto` tries them. */
export const WEB_BACKENDS = ['webgpu', 'webgl', 'wasm'] as const;
export type WebBackendName = (typeof WEB_BACKENDS)[number];

/** A backend the page runs the networks on. */
export interface WebBackend {
  name: WebBackendName;
  /** Library, adapter or SIMD level, shown on the page. */
  description: string;
  compute: ComputeBackend | DeviceBackend;
}

/** Options of {@link selectWebBackend}. */
export interface WebBackendOptions {
  /** URL prefix of tfjs-backend-wasm's `.wasm` files (the site's `tfjs/`). */
  wasmPrefix: string;
  /** Let `webgpu` (also under `auto`) use a software adapter such as SwiftShader (tests). Default: only when named. */
  allowSoftwareGpu?: boolean;
}

/**
 * Networks run on device backends (`DeviceBackend`, issue 9), so WebGPU (device contract only) runs them; host-memory
 * backends (tfjs wasm / WebGL convolutions) are wrapped in core's `HostDeviceBackend`.
 */
export const NETWORKS_ON_DEVICE = true;

type Tf = TfApi & { setBackend(n: string): Promise<boolean>; env(): { getBool(f: string): boolean } };

async function webgpu(opts: WebBackendOptions, named: boolean): Promise<WebBackend> {
  if (!NETWORKS_ON_DEVICE) throw new Error('the networks do not run on the WebGPU device contract in this build');
  const gpu = (globalThis as { navigator?: { gpu?: GPU } }).navigator?.gpu;
  if (!gpu) throw new Error('this browser has no WebGPU (navigator.gpu)');
  const { webgpuPlugin } = await import('@nnunet-ts/backend-webgpu');
  const software = named || opts.allowSoftwareGpu ? 'fallback' : 'never';
  const device = await webgpuPlugin({ software }).createDevice();
  return { name: 'webgpu', description: device.info.description, compute: device };
}

async function webgl(): Promise<WebBackend> {
  if (typeof OffscreenCanvas === 'undefined' || !new OffscreenCanvas(1, 1).getContext('webgl2')) throw new Error('no WebGL2 here');
  const tf = (await import('@tensorflow/tfjs-core')) as unknown as Tf;
  await import('@tensorflow/tfjs-backend-webgl');
  if (!(await tf.setBackend('webgl')) || !hasConvKernels(tf, 'webgl')) throw new Error("tfjs's WebGL backend did not initialise");
  const compute = createTfjsConvBackend(tf, 'webgl', { name: 'tfjs-webgl', description: "tfjs's WebGL backend (Conv3D kernels)", gpu: true });
  return { name: 'webgl', description: "@tensorflow/tfjs-backend-webgl Conv3D kernels", compute };
}

async function wasm(opts: WebBackendOptions): Promise<WebBackend> {
  const importer = async (s: string): Promise<unknown> => {
    if (s === '@tensorflow/tfjs-core') return import('@tensorflow/tfjs-core');
    if (s === '@tensorflow/tfjs-backend-wasm') {
      const m = await import('@tensorflow/tfjs-backend-wasm');
      m.setWasmPaths(opts.wasmPrefix);
      return m;
    }
    throw new Error(`${s} is not bundled in the page`);
  };
  const compute = await tfjsWasmPlugin({ importer }).create();
  return { name: 'wasm', description: compute.info?.description ?? 'tfjs-wasm', compute };
}

/**
 * Opens the backend `want`, or with `auto` the first that works of WebGPU (a hardware adapter; a software one only
 * with `allowSoftwareGpu`), WebGL2 (tfjs's WebGL backend) and wasm (tfjs's wasm backend: XNNPACK matrix products
 * on im2col tiles, SIMD, one thread since a static server gives no cross-origin isolation).
 * @throws Error listing why each tried backend failed.
 */
export async function selectWebBackend(want: WebBackendName | 'auto', opts: WebBackendOptions): Promise<WebBackend> {
  const order: WebBackendName[] = want === 'auto' ? [...WEB_BACKENDS] : [want];
  const why: string[] = [];
  for (const name of order) {
    try {
      if (name === 'webgpu') return await webgpu(opts, want === 'webgpu');
      if (name === 'webgl') return await webgl();
      return await wasm(opts);
    } catch (e) {
      why.push(`${name}: ${(e as Error).message}`);
    }
  }
  throw new Error(`no compute backend could start (${why.join('; ')})`);
}
