import type { ConvParams, DeviceBackend, DeviceTensor } from '../contracts/device.js';
import type { Parameter } from '../contracts/network.js';
import { gradOf, valueOf, type Module } from './module.js';
import { createParameter, heNormalInit } from './parameter.js';
import type { InitRng } from './rng.js';

/** Options of `Conv` / `ConvTranspose`. */
export interface ConvOptions {
  /** Parameter name prefix, e.g. `encoder.stages.0.0.convs.0.conv`. */
  name: string;
  inChannels: number;
  outChannels: number;
  /** `[kz, ky, kx]` (2D: kz = 1). */
  kernel: [number, number, number];
  /** Default `[1, 1, 1]` (ConvTranspose: the kernel). */
  stride?: [number, number, number];
  /** Learnable bias (default true; nnU-Net v2 plans: `conv_bias` true). */
  bias?: boolean;
  /** When false, `backward` skips dL/dx and returns null (first layer of a network). */
  needsInputGrad?: boolean;
  /** He-normal initialisation (RULES.md §7) of the weight when given; bias starts at 0. */
  rng?: InitRng;
}

/**
 * Convolution `[n, cIn, z, y, x] -> [n, cOut, ...]` with padding `k // 2` per axis (nnU-Net's
 * `ConvDropoutNormReLU` conv) and stride; weight `[cOut, cIn, kz, ky, kx]` named `<name>.weight`, bias
 * `<name>.bias`. Runs on the device (`conv`, `convBackwardData`, `convBackwardFilter`).
 */
export class Conv implements Module {
  readonly weight: Parameter;
  readonly bias: Parameter | null;
  readonly parameters: Parameter[];
  readonly params: ConvParams;
  private x: DeviceTensor | null = null;

  constructor(private readonly device: DeviceBackend, readonly opts: ConvOptions) {
    const k = opts.kernel;
    this.weight = createParameter(`${opts.name}.weight`, [opts.outChannels, opts.inChannels, ...k]);
    this.bias = opts.bias === false ? null : createParameter(`${opts.name}.bias`, [opts.outChannels]);
    if (opts.rng) heNormalInit(this.weight, opts.rng);
    this.parameters = this.bias ? [this.weight, this.bias] : [this.weight];
    this.params = { stride: opts.stride ?? [1, 1, 1], padding: [(k[0] - 1) >> 1, (k[1] - 1) >> 1, (k[2] - 1) >> 1] };
  }

  forward(x: DeviceTensor, training: boolean): DeviceTensor {
    this.x = training ? x : null;
    return this.device.conv(x, valueOf(this.weight), this.bias ? valueOf(this.bias) : null, this.params);
  }

  backward(dy: DeviceTensor): DeviceTensor | null {
    const x = this.x;
    if (!x) throw new Error(`${this.opts.name}: backward without a training forward`);
    this.x = null;
    this.device.convBackwardFilter(x, dy, this.params, { weight: gradOf(this.weight), bias: this.bias ? gradOf(this.bias) : null, accumulate: true });
    return this.opts.needsInputGrad === false ? null : this.device.convBackwardData(dy, valueOf(this.weight), x.shape, this.params);
  }
}

/**
 * Transposed convolution with kernel = stride and no padding (nnU-Net's decoder upsampling): weight
 * `[cIn, cOut, kz, ky, kx]` (PyTorch `ConvTranspose3d` layout), output `[n, cOut, z*kz, y*ky, x*kx]`. Forward is the
 * device's `convBackwardData` plus `addBias`; backward data is a forward `conv`. Throws when stride != kernel.
 */
export class ConvTranspose implements Module {
  readonly weight: Parameter;
  readonly bias: Parameter | null;
  readonly parameters: Parameter[];
  readonly params: ConvParams;
  private x: DeviceTensor | null = null;

  constructor(private readonly device: DeviceBackend, readonly opts: ConvOptions) {
    const k = opts.kernel;
    const s = opts.stride ?? k;
    if (s.some((v, i) => v !== k[i])) throw new Error(`${opts.name}: ConvTranspose needs kernel = stride, got ${k} / ${s}`);
    this.weight = createParameter(`${opts.name}.weight`, [opts.inChannels, opts.outChannels, ...k]);
    this.bias = opts.bias === false ? null : createParameter(`${opts.name}.bias`, [opts.outChannels]);
    if (opts.rng) heNormalInit(this.weight, opts.rng);
    this.parameters = this.bias ? [this.weight, this.bias] : [this.weight];
    this.params = { stride: [...s] as [number, number, number], padding: [0, 0, 0] };
  }

  forward(x: DeviceTensor, training: boolean): DeviceTensor {
    this.x = training ? x : null;
    const [n, , d, h, w] = x.shape as [number, number, number, number, number];
    const k = this.opts.kernel;
    const y = this.device.convBackwardData(x, valueOf(this.weight), [n, this.opts.outChannels, d * k[0], h * k[1], w * k[2]], this.params);
    if (this.bias) this.device.addBias(y, valueOf(this.bias));
    return y;
  }

  backward(dy: DeviceTensor): DeviceTensor | null {
    const x = this.x;
    if (!x) throw new Error(`${this.opts.name}: backward without a training forward`);
    this.x = null;
    this.device.convBackwardFilter(dy, x, this.params, { weight: gradOf(this.weight), bias: null, accumulate: true });
    if (this.bias) this.device.biasGrad(dy, gradOf(this.bias), true);
    return this.opts.needsInputGrad === false ? null : this.device.conv(dy, valueOf(this.weight), null, this.params);
  }
}

/** nnU-Net's segmentation head: a 1x1x1 convolution with bias to `numClasses` logits (`decoder.seg_layers.<i>`). */
export class SegHead extends Conv {
  constructor(device: DeviceBackend, opts: { name: string; inChannels: number; numClasses: number; rng?: InitRng }) {
    super(device, { name: opts.name, inChannels: opts.inChannels, outChannels: opts.numClasses, kernel: [1, 1, 1], bias: true, rng: opts.rng });
  }
}
