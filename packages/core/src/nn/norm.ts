import type { DeviceBackend, DeviceInstanceNormState, DeviceTensor } from '../contracts/device.js';
import type { Parameter } from '../contracts/network.js';
import { gradOf, valueOf, type Module } from './module.js';
import { createParameter } from './parameter.js';

/** Options of `InstanceNorm`. */
export interface InstanceNormOptions {
  /** Parameter name prefix, e.g. `encoder.stages.0.0.convs.0.norm`. */
  name: string;
  channels: number;
  /** Added to the variance (RULES.md §7: 1e-5). */
  eps?: number;
  /** Learnable per-channel scale (init 1) and shift (init 0) (RULES.md §7: true). */
  affine?: boolean;
  /**
   * When set, a LeakyReLU with this negative slope is fused after the norm (nnU-Net's norm -> nonlin pair,
   * slope 0.01): the device's fused `instanceNorm` / `instanceNormBackward`.
   */
  leakySlope?: number;
}

/**
 * Instance normalisation over `[n, c, z, y, x]` on the device: per sample and channel `(x - mean) / sqrt(var + eps)`
 * (biased variance), then `gamma * xhat + beta`, then the optional fused LeakyReLU (contract op `instanceNorm`).
 */
export class InstanceNorm implements Module {
  readonly weight: Parameter | null;
  readonly bias: Parameter | null;
  readonly parameters: Parameter[];
  private readonly eps: number;
  private state: DeviceInstanceNormState | null = null;

  constructor(private readonly device: DeviceBackend, readonly opts: InstanceNormOptions) {
    this.eps = opts.eps ?? 1e-5;
    if (opts.affine === false) {
      this.weight = this.bias = null;
      this.parameters = [];
    } else {
      this.weight = createParameter(`${opts.name}.weight`, [opts.channels]);
      this.weight.value.fill(1);
      this.bias = createParameter(`${opts.name}.bias`, [opts.channels]);
      this.parameters = [this.weight, this.bias];
    }
  }

  forward(x: DeviceTensor, training: boolean): DeviceTensor {
    const c = x.shape[1]!;
    if (c !== this.opts.channels) throw new Error(`${this.opts.name}: expected ${this.opts.channels} channels, got ${c}`);
    const r = this.device.instanceNorm(x, this.weight && valueOf(this.weight), this.bias && valueOf(this.bias), { eps: this.eps, leakySlope: this.opts.leakySlope, training });
    this.state = r.state;
    return r.y;
  }

  backward(dy: DeviceTensor): DeviceTensor {
    const st = this.state;
    if (!st) throw new Error(`${this.opts.name}: backward without a training forward`);
    const w = this.weight;
    const b = this.bias;
    const dx = this.device.instanceNormBackward(dy, st, w && valueOf(w), b && valueOf(b), this.opts.leakySlope, { weight: w && gradOf(w), bias: b && gradOf(b), accumulate: true });
    this.device.dispose([st.xhat, st.invStd]);
    this.state = null;
    return dx;
  }
}
