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
  /** dw = dL/dw; added to dw when `accumulate`. */
  backwardFilter(x: Float32Array, dy: Float32Array, dw: Float32Array, geo: Geometry, accumulate?: boolean): void;
  info(): { isa: string; vw: number; threads: number };
  setIsa(name: string): boolean;
  /**
   * Convolution algorithm, process-wide: 'auto' (Winograd F(2x2x2, 3x3x3) for 3x3x3 stride-1 pad-1 convolutions
   * with >= 8 input and output channels, else direct for stride 1 unless the padding waste is large, else im2col),
   * 'direct' / 'im2col' (never Winograd), 'winograd' (Winograd for every 3x3x3 stride-1 pad-1 convolution, else as
   * 'auto'). Returns false for an unknown name.
   */
  setPath(name: string): boolean;
  setThreads(n: number): void;
  // ---- the other ops (native/ops.h); N batch, C channels, S spatial size (z*y*x), arrays in C order [N, C, S] ----
  /**
   * Instance norm (biased variance, eps) + affine (null gamma/beta: 1/0) + LeakyReLU when act = 1; xhat (shape of
   * x), mean and rstd ([N*C]) written unless null.
   */
  instanceNormForward(x: Float32Array, gamma: Float32Array | null, beta: Float32Array | null, y: Float32Array, xhat: Float32Array | null, mean: Float32Array | null, rstd: Float32Array | null, N: number, C: number, S: number, eps: number, slope: number, act: 0 | 1): void;
  /**
   * Backward of instanceNormForward from its input x and saved mean/rstd, or (mean null) from the saved xhat in
   * place of x; dgamma/dbeta [C] overwritten, or added to when `accumulate` (null: skipped).
   */
  instanceNormBackward(x: Float32Array, gamma: Float32Array | null, beta: Float32Array | null, mean: Float32Array | null, rstd: Float32Array, dy: Float32Array, dx: Float32Array, dgamma: Float32Array | null, dbeta: Float32Array | null, N: number, C: number, S: number, slope: number, act: 0 | 1, accumulate: boolean): void;
  /** y = x > 0 ? x : slope x over y.length elements (in place allowed). */
  leakyReluForward(x: Float32Array, y: Float32Array, slope: number): void;
  /** dx = x > 0 ? dy : slope dy over dx.length elements; x may be the forward input or output. */
  leakyReluBackward(x: Float32Array, dy: Float32Array, dx: Float32Array, slope: number): void;
  softmax(x: Float32Array, y: Float32Array, N: number, C: number, S: number): void;
  /** dx = p (dp - sum_c p dp). */
  softmaxBackward(p: Float32Array, dp: Float32Array, dx: Float32Array, N: number, C: number, S: number): void;
  /**
   * probs = softmax(logits); stats[(n*C + c)*3 + 0..2] = sum p*y, sum p, sum y (y one-hot target), stats[N*C*3] = sum
   * of -log p_target, stats[N*C*3 + 1] = voxels counted; voxels labelled `ignore` (< 0: none) count nowhere.
   */
  dcCeForward(logits: Float32Array, target: LabelArray, N: number, C: number, S: number, ignore: number, probs: Float32Array, stats: Float64Array): void;
  /** dlogits_c = p_c (dp_c - sum_k p_k dp_k) + ceScale (p_c - y_c) with dp_c = A[n*C+c] y_c + B[n*C+c]; 0 where ignored. */
  dcCeBackward(probs: Float32Array, target: LabelArray, N: number, C: number, S: number, ignore: number, A: Float32Array, B: Float32Array, ceScale: number, dlogits: Float32Array): void;
  /** torch.optim.SGD over all tensors: d = gscale g + wd p; buf = momentum buf + d; p -= lr (nesterov ? d + momentum buf : buf). */
  sgd(params: Float32Array[], grads: Float32Array[], bufs: Float32Array[], wd: Float32Array, lr: number, momentum: number, nesterov: boolean, gscale: number): void;
  /** Sum of squares of all arrays (float64 accumulation). */
  sumSquares(arrays: Float32Array[]): number;
  scale(arrays: Float32Array[], s: number): void;
  biasAdd(y: Float32Array, b: Float32Array, N: number, C: number, S: number): void;
  /** out[c] (+)= sum over n, s of dy (bias gradient; added when `accumulate`). */
  channelSum(dy: Float32Array, out: Float32Array, N: number, C: number, S: number, accumulate: boolean): void;
  /** y = a x + b y over y.length elements. */
  axpby(x: Float32Array, y: Float32Array, a: number, b: number): void;
  /** acc[c, z0+i, y0+j, x0+k] += scale patch[c, i, j, k] g[i, j, k]; wacc (unless null) += g. Throws RangeError when the patch leaves the volume. */
  accumulateWeighted(acc: Float32Array, wacc: Float32Array | null, patch: Float32Array, g: Float32Array, C: number, Z: number, Y: number, X: number, pz: number, py: number, px: number, z0: number, y0: number, x0: number, scale: number): void;
  /** acc[c, s] /= w[s]. */
  divideWeights(acc: Float32Array, w: Float32Array, C: number, S: number): void;
  /** out[n, s] = first argmax over c of x[n, c, s]. */
  argmax(x: Float32Array, N: number, C: number, S: number, out: LabelArray): void;
  /** Channel concatenation of [N, c_i, S] arrays (c_i = length / (N S)) into dst. */
  concatChannels(srcs: Float32Array[], N: number, S: number, dst: Float32Array): void;
  splitChannels(src: Float32Array, dsts: Float32Array[], N: number, S: number): void;
  /** dst = src mirrored along the axes of `axes` (bit 1 z, 2 y, 4 x) of [NC, Z, Y, X]; dst !== src. */
  flip(src: Float32Array, dst: Float32Array, NC: number, Z: number, Y: number, X: number, axes: number): void;
  /**
   * dst[c, i, j, k] = src[c, z0+i, y0+j, x0+k] over the window [sz, sy, sx] of src [C, Z, Y, X], divided by
   * w[z0+i, y0+j, x0+k] unless w is null. Throws RangeError when the window leaves the volume.
   */
  copyWindow(src: Float32Array, C: number, Z: number, Y: number, X: number, z0: number, y0: number, x0: number, sz: number, sy: number, sx: number, dst: Float32Array, w: Float32Array | null): void;
  /** Nearest ('nearest-exact') resize of [NC, Z, Y, X] to [NC, oz, oy, ox]; src and dst of the same type. */
  resizeNearest(src: LabelArray, dst: LabelArray, NC: number, Z: number, Y: number, X: number, oz: number, oy: number, ox: number): void;
}

/** Label maps and index outputs the native ops accept. */
export type LabelArray = Float32Array | Int16Array | Uint8Array | Int32Array;

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
    createDevice: async () => (await import('./native-device.js')).createCpuNativeDevice(opts),
  };
}
