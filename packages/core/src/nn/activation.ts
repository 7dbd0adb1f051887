import type { DeviceBackend, DeviceTensor } from '../contracts/device.js';
import type { Parameter } from '../contracts/network.js';
import type { Module } from './module.js';

/** LeakyReLU `y = x > 0 ? x : slope * x` (RULES.md §7: slope 0.01) on the device; backward from the saved output. */
export class LeakyReLU implements Module {
  readonly parameters: Parameter[] = [];
  private y: DeviceTensor | null = null;

  constructor(private readonly device: DeviceBackend, readonly slope = 0.01) {}

  forward(x: DeviceTensor, training: boolean): DeviceTensor {
    const y = this.device.leakyRelu(x, this.slope);
    this.y = training ? y : null;
    return y;
  }

  backward(dy: DeviceTensor): DeviceTensor {
    if (!this.y) throw new Error('LeakyReLU: backward without a training forward');
    const dx = this.device.leakyReluBackward(dy, this.y, this.slope);
    this.y = null;
    return dx;
  }
}
