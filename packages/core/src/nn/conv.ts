import type { ComputeBackend, Conv3dParams, Tensor } from '../contracts/backend.js';
import type { Parameter } from '../contracts/network.js';
import type { Module } from './module.js';
import { createParameter, heNormalInit } from './parameter.js';
import type { InitRng } from './rng.js';

/** Options shared by `Conv` and `ConvTranspose`. Triples are `[z, y, x]`; 2D layers use kz = 1, stride z = 1. */
export interface ConvOptions {
  /** Parameter name prefix, e.g. `encoder.stages.0.0.convs.0.conv`. */
  name: string;
  inChannels: number;
  outChannels: number;
  kernel: [number, number, number];
  stride?: [number, number, number];
  bias?: boolean;
  /** Return dL/dx from `backward` (false for a network's first layer saves one backward-data conv). */
  needsInputGrad?: boolean;
  /** Seeded RNG for He init (spec 1.7); zero weights when absent. */
  rng?: InitRng;
}

/** Adds sum over batch and space of `dy [n, c, ...]` into `grad[c]` (bias gradient), float64 per channel. */
export function accumulateBiasGrad(dy: Tensor, grad: Float32Array): void {
  const n = dy.shape[0]!;
  const c = dy.shape[1]!;
  const sp = dy.data.length / (n * c);
  const d = dy.data;
  for (let ch = 0; ch < c; ch++) {
    // four independent float64 accumulators (the add latency, not memory, bounds a single chain)
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    for (let b = 0; b < n; b++) {
      const o = (b * c + ch) * sp;
      const end = o + sp;
      let i = o;
      for (; i + 3 < end; i += 4) {
        s0 += d[i]!;
        s1 += d[i + 1]!;
        s2 += d[i + 2]!;
        s3 += d[i + 3]!;
      }
      for (; i < end; i++) s0 += d[i]!;
    }
    grad[ch]! += s0 + s1 + s2 + s3;
  }
}

function addInto(dst: Float32Array, src: Float32Array): void {
  for (let i = 0; i < dst.length; i++) dst[i]! += src[i]!;
}

/**
 * 3D convolution `[n, cIn, z, y, x] -> [n, cOut, z', y', x']` with weight `[cOut, cIn, kz, ky, kx]`, optional bias,
 * the given stride and padding `k // 2` per axis (nnU-Net's `(k - 1) // 2` for odd kernels). All arithmetic goes
 * through the backend.
 */
export class Conv implements Module {
  readonly weight: Parameter;
  readonly bias: Parameter | null;
  readonly parameters: Parameter[];
  readonly params: Conv3dParams;
  private x: Tensor | null = null;

  constructor(private readonly backend: ComputeBackend, readonly opts: ConvOptions) {
    const k = opts.kernel;
    this.weight = createParameter(`${opts.name}.weight`, [opts.outChannels, opts.inChannels, ...k]);
    this.bias = opts.bias === false ? null : createParameter(`${opts.name}.bias`, [opts.outChannels]);
    if (opts.rng) heNormalInit(this.weight, opts.rng);
    this.parameters = this.bias ? [this.weight, this.bias] : [this.weight];
    this.params = { stride: opts.stride ?? [1, 1, 1], padding: [(k[0] - 1) >> 1, (k[1] - 1) >> 1, (k[2] - 1) >> 1] };
  }

  forward(x: Tensor, training: boolean): Tensor {
    this.x = training ? x : null;
    return this.backend.conv3d(x, { data: this.weight.value, shape: this.weight.shape }, this.bias?.value ?? null, this.params);
  }

  backward(dy: Tensor): Tensor | null {
    const x = this.x;
    if (!x) throw new Error(`${this.opts.name}: backward without a training forward`);
    const w = { data: this.weight.value, shape: this.weight.shape };
    addInto(this.weight.grad, this.backend.conv3dBackwardFilter(x, dy, this.weight.shape, this.params).data);
    if (this.bias) accumulateBiasGrad(dy, this.bias.grad);
    return this.opts.needsInputGrad === false ? null : this.backend.conv3dBackwardData(dy, w, x.shape, this.params);
  }
}

/**
 * Transposed convolution with kernel = stride (nnU-Net's decoder upsampling, spec 1.7):
 * `[n, cIn, z, y, x] -> [n, cOut, z*sz, y*sy, x*sx]`, weight `[cIn, cOut, kz, ky, kx]` (PyTorch layout), bias `[cOut]`.
 * Forward is the backend's `conv3dBackwardData` of a conv whose weight is this one (channel roles swapped),
 * backward-data is `conv3d`, and the weight gradient is `conv3dBackwardFilter(dy, x)` (roles swapped).
 */
export class ConvTranspose implements Module {
  readonly weight: Parameter;
  readonly bias: Parameter | null;
  readonly parameters: Parameter[];
  readonly params: Conv3dParams;
  private x: Tensor | null = null;

  constructor(private readonly backend: ComputeBackend, readonly opts: ConvOptions) {
    const k = opts.kernel;
    const s = opts.stride ?? k;
    if (s.some((v, i) => v !== k[i])) throw new Error(`${opts.name}: ConvTranspose needs kernel = stride, got ${k} / ${s}`);
    this.weight = createParameter(`${opts.name}.weight`, [opts.inChannels, opts.outChannels, ...k]);
    this.bias = opts.bias === false ? null : createParameter(`${opts.name}.bias`, [opts.outChannels]);
    if (opts.rng) heNormalInit(this.weight, opts.rng);
    this.parameters = this.bias ? [this.weight, this.bias] : [this.weight];
    this.params = { stride: [...s] as [number, number, number], padding: [0, 0, 0] };
  }

  forward(x: Tensor, training: boolean): Tensor {
    this.x = training ? x : null;
    const [n, , d, h, w] = x.shape as [number, number, number, number, number];
    const k = this.opts.kernel;
    const outShape = [n, this.opts.outChannels, d * k[0], h * k[1], w * k[2]];
    const y = this.backend.conv3dBackwardData(x, { data: this.weight.value, shape: this.weight.shape }, outShape, this.params);
    if (this.bias) {
      const b = this.bias.value;
      const c = this.opts.outChannels;
      const sp = outShape[2]! * outShape[3]! * outShape[4]!;
      const yd = y.data;
      for (let bi = 0; bi < n; bi++)
        for (let ch = 0; ch < c; ch++) {
          const v = b[ch]!;
          const o = (bi * c + ch) * sp;
          for (let i = 0; i < sp; i++) yd[o + i]! += v;
        }
    }
    return y;
  }

  backward(dy: Tensor): Tensor | null {
    const x = this.x;
    if (!x) throw new Error(`${this.opts.name}: backward without a training forward`);
    addInto(this.weight.grad, this.backend.conv3dBackwardFilter(dy, x, this.weight.shape, this.params).data);
    if (this.bias) accumulateBiasGrad(dy, this.bias.grad);
    if (this.opts.needsInputGrad === false) return null;
    return this.backend.conv3d(dy, { data: this.weight.value, shape: this.weight.shape }, null, this.params);
  }
}

/** 1x1(x1) convolution with bias: nnU-Net's segmentation head (`[n, c, ...] -> [n, nClasses, ...]`). */
export class SegHead extends Conv {
  constructor(backend: ComputeBackend, opts: { name: string; inChannels: number; numClasses: number; rng?: InitRng }) {
    super(backend, { name: opts.name, inChannels: opts.inChannels, outChannels: opts.numClasses, kernel: [1, 1, 1], bias: true, rng: opts.rng });
  }
}
