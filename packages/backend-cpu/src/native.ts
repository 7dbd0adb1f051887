import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { cpus } from 'node:os';
import { checkTensor, type BackendPlugin, type ComputeBackend, type Conv3dParams, type Tensor } from '@nnunet-ts/core';
import { checkDy, geometry, numel, outShape, type Geometry } from './geometry.js';

/** The functions of `build/Release/nnunet_cpu.node` (see native/addon.cpp). */
export interface NativeAddon {
  forward(x: Float32Array, w: Float32Array, bias: Float32Array | null, y: Float32Array, geo: Geometry): void;
  backwardData(dy: Float32Array, w: Float32Array, dx: Float32Array, geo: Geometry): void;
  backwardFilter(x: Float32Array, dy: Float32Array, dw: Float32Array, geo: Geometry): void;
  info(): { isa: string; vw: number; threads: number };
  setIsa(name: string): boolean;
  /** Stride-1 algorithm: 'auto' (direct unless padding waste > 30%), 'direct' or 'im2col'. Process-wide. */
  setPath(name: string): boolean;
  setThreads(n: number): void;
}

/** Absolute path of the compiled addon (built by `npm run build` of this package). */
export const ADDON_PATH = fileURLToPath(new URL('../build/Release/nnunet_cpu.node', import.meta.url));

let cached: NativeAddon | null | undefined;
let loadError: string | undefined;

/** Loads the addon once; `null` when the file is missing or does not load (the reason is in `addonLoadError()`). */
export function loadAddon(): NativeAddon | null {
  if (cached !== undefined) return cached;
  if (!existsSync(ADDON_PATH)) {
    loadError = `${ADDON_PATH} not found (run npm run build in packages/backend-cpu)`;
    return (cached = null);
  }
  try {
    cached = createRequire(import.meta.url)(ADDON_PATH) as NativeAddon;
  } catch (e) {
    loadError = (e as Error).message;
    cached = null;
  }
  return cached;
}

/** Why `loadAddon()` returned null, if it did. */
export function addonLoadError(): string | undefined {
  return loadError;
}

/** Options of the cpu-native backend. */
export interface CpuNativeOptions {
  /** Worker threads (process-wide setting of the addon). Default: env NNUNET_NUM_THREADS, else usable cores. */
  threads?: number;
  /** Micro-kernel level; default 'auto' (AVX-512 > AVX2+FMA > generic), env NNUNET_CPU_ISA overrides 'auto'. */
  isa?: 'auto' | 'avx512' | 'avx2' | 'generic';
}

/**
 * Creates the native backend (throws `Error` when the addon is not built or the ISA is not supported here).
 * All three kernels are synchronous and multi-threaded; inputs are NCDHW float32 (see `ComputeBackend`).
 */
export function createCpuNativeBackend(opts: CpuNativeOptions = {}): ComputeBackend {
  const addon = loadAddon();
  if (!addon) throw new Error(`cpu-native: addon unavailable: ${loadError}`);
  if (opts.isa && opts.isa !== 'auto' && !addon.setIsa(opts.isa)) {
    throw new Error(`cpu-native: instruction set '${opts.isa}' is not supported on this CPU`);
  }
  if (opts.threads !== undefined) addon.setThreads(opts.threads);
  const inf = addon.info();
  return {
    info: {
      name: 'cpu-native',
      description: `native C++ implicit-GEMM convolution, ${inf.isa} micro-kernels, ${inf.threads} threads on ${cpus()[0]?.model.trim() ?? 'cpu'}`,
      gpu: false,
      threads: inf.threads,
    },
    conv3d(x: Tensor, w: Tensor, bias: Float32Array | null, p: Conv3dParams): Tensor {
      checkTensor(x, 'x');
      checkTensor(w, 'w');
      const g = geometry(x.shape, w.shape, p);
      if (bias && bias.length !== w.shape[0]) throw new Error(`conv3d: bias has ${bias.length} values, cOut is ${w.shape[0]}`);
      const shape = outShape(g);
      const y = new Float32Array(numel(shape));
      addon.forward(x.data, w.data, bias, y, g);
      return { data: y, shape };
    },
    conv3dBackwardData(dy: Tensor, w: Tensor, xShape: number[], p: Conv3dParams): Tensor {
      checkTensor(w, 'w');
      const g = geometry(xShape, w.shape, p);
      checkDy(dy, g);
      const dx = new Float32Array(numel(xShape));
      addon.backwardData(dy.data, w.data, dx, g);
      return { data: dx, shape: [...xShape] };
    },
    conv3dBackwardFilter(x: Tensor, dy: Tensor, wShape: number[], p: Conv3dParams): Tensor {
      checkTensor(x, 'x');
      const g = geometry(x.shape, wShape, p);
      checkDy(dy, g);
      const dw = new Float32Array(numel(wShape));
      addon.backwardFilter(x.data, dy.data, dw, g);
      return { data: dw, shape: [...wShape] };
    },
  };
}

/** The `cpu-native` plugin (priority 10): available when the addon file exists and loads. */
export function cpuNativePlugin(opts: CpuNativeOptions = {}): BackendPlugin {
  return {
    name: 'cpu-native',
    priority: 10,
    isAvailable: async () => loadAddon() !== null,
    create: async () => createCpuNativeBackend(opts),
  };
}
