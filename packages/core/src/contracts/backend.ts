/**
 * Compute backend contract: the few dense kernels that nnU-Net's networks spend their time in.
 *
 * Tensors are plain `Float32Array`s in C order with an explicit shape. Convolutions use `NCDHW` activations
 * (`[n, c, z, y, x]`, x fastest, matching the image model) and `[cOut, cIn, kz, ky, kx]` weights (PyTorch order).
 * 2D networks use the same kernels with z = 1 and kz = 1.
 *
 * Transposed convolution is expressed through the same three primitives:
 * `convTranspose(x, w) = conv3dBackwardData(x, w)` with the roles of the channel axes swapped, and so on, so a
 * backend only implements forward, backward-data and backward-filter of a strided, zero-padded convolution.
 */

import type { DeviceBackend } from './device.js';

/** A dense float32 tensor, C order. */
export interface Tensor {
  data: Float32Array;
  shape: number[];
}

/** Parameters of a 3D convolution; all triples are `[z, y, x]`. */
export interface Conv3dParams {
  /** Stride per axis (voxels). */
  stride: [number, number, number];
  /** Zero padding added on both sides per axis (voxels). */
  padding: [number, number, number];
}

/** Capabilities and identity of a backend, printed at start. */
export interface BackendInfo {
  /** Registry name, e.g. `cpu-native`, `tensorflow`, `webgpu`, `tfjs-cpu`. */
  name: string;
  /** Human description: library, device, threads, SIMD level. */
  description: string;
  /** True when it runs on a GPU. */
  gpu: boolean;
  /** Threads used for CPU kernels. */
  threads?: number;
  /**
   * Memory the device has for tensors, bytes, when the backend knows it (a GPU's memory; CPU backends leave it out:
   * the machine's available memory applies). Used by the cost model to plan for the device.
   */
  memoryBytes?: number;
}

/**
 * A compute backend. All methods are synchronous and allocate their outputs.
 *
 * Shapes (all NCDHW / OIDHW):
 * - x: `[n, cIn, d, h, w]`, w: `[cOut, cIn, kd, kh, kw]`, bias: `[cOut]` or null,
 * - y: `[n, cOut, dOut, hOut, wOut]` with `dOut = floor((d + 2*pad - kd) / stride) + 1` (per axis).
 * Throws `Error` when shapes are inconsistent.
 */
export interface ComputeBackend {
  readonly info: BackendInfo;
  /** Prepare (load native code, start workers). Called once before use. */
  init?(): Promise<void>;
  /** y = conv(x, w) + bias. */
  conv3d(x: Tensor, w: Tensor, bias: Float32Array | null, p: Conv3dParams): Tensor;
  /** dL/dx of `conv3d` given dy; `xShape` is the forward input shape. */
  conv3dBackwardData(dy: Tensor, w: Tensor, xShape: number[], p: Conv3dParams): Tensor;
  /** dL/dw of `conv3d` given x and dy; `wShape` is `[cOut, cIn, kd, kh, kw]`. */
  conv3dBackwardFilter(x: Tensor, dy: Tensor, wShape: number[], p: Conv3dParams): Tensor;
  /** Release native or GPU resources. */
  dispose?(): void;
}

/** A named, lazily created backend: the registered plugin. */
export interface BackendPlugin {
  /** Registry name (`--backend <name>`). */
  name: string;
  /** Lower is tried first by the automatic choice (GPU backends < fast CPU < reference CPU). */
  priority: number;
  /** Whether it can run here (package installed, adapter present, native addon built). Never throws. */
  isAvailable(): Promise<boolean>;
  /** Create and initialise the backend. */
  create(): Promise<ComputeBackend>;
  /**
   * Create and initialise its device-contract implementation (`contracts/device.ts`). Absent: `selectDevice`
   * wraps `create()`'s convolutions in the host-memory `HostDeviceBackend` (correct, slow).
   */
  createDevice?(): Promise<DeviceBackend>;
  /**
   * Why the automatic choice (`--backend auto`) must pass over this available backend, or undefined to allow it.
   * `webgpu` says so when its only adapter is a software one (SwiftShader, lavapipe): correct but far slower than
   * the CPU backends; asking for it by name still uses it. Never throws.
   */
  autoSkipReason?(): Promise<string | undefined>;
}

/** Output size of a convolution along one axis: `floor((n + 2*pad - k) / stride) + 1`. */
export function convOutSize(n: number, k: number, stride: number, pad: number): number {
  return Math.floor((n + 2 * pad - k) / stride) + 1;
}
