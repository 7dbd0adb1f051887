import type { DeviceBackend, DeviceTensor } from '../contracts/device.js';
import type { Parameter } from '../contracts/network.js';
import { gradOf, valueOf } from './module.js';

/** SGD options (RULES.md §15 defaults: lr 1e-2, momentum 0.99, nesterov, weight decay 3e-5). */
export interface SgdOptions {
  lr: number;
  momentum: number;
  nesterov: boolean;
  weightDecay: number;
}

/** nnU-Net v2's optimiser settings (RULES.md §15): SGD lr 1e-2, momentum 0.99, nesterov, weight decay 3e-5. */
export const NNUNET_SGD_DEFAULTS: Readonly<SgdOptions> = Object.freeze({ lr: 1e-2, momentum: 0.99, nesterov: true, weightDecay: 3e-5 });

/** nnU-Net v2's gradient clipping norm (RULES.md §15). */
export const NNUNET_GRAD_CLIP_NORM = 12;

/** Polynomial learning rate `initialLr * (1 - epoch / maxEpochs) ^ exponent` (RULES.md §15, stepped per epoch). */
export function polyLR(initialLr: number, epoch: number, maxEpochs: number, exponent = 0.9): number {
  return initialLr * Math.pow(Math.max(0, 1 - epoch / maxEpochs), exponent);
}

/**
 * Stochastic gradient descent with PyTorch's update rule (`torch.optim.SGD`, RULES.md §15), run by the device's
 * `sgdStep`: `g = grad + wd * p` (L2 added to the gradient, for parameters with `decay`), `buf = momentum * buf + g`
 * (the first step sets `buf = g`, which a zero buffer gives), `p -= lr * (nesterov ? g + momentum * buf : buf)`.
 * Momentum buffers are float32 device tensors, gradients each parameter's `gradTensor`; parameters must be on
 * `device` (`Network.pushParameters`).
 */
export class DeviceSGD {
  lr: number;
  private momenta: DeviceTensor[];

  constructor(readonly device: DeviceBackend, readonly params: Parameter[], readonly o: SgdOptions) {
    this.lr = o.lr;
    this.momenta = params.map((p) => device.zeros(p.shape));
  }

  /** One update of every parameter; with `guard` (a `clipGradNorm` result) skipped when the gradients are not finite. */
  step(guard?: DeviceTensor): void {
    const { momentum, nesterov, weightDecay } = this.o;
    this.device.sgdStep(this.params.map(valueOf), this.params.map(gradOf), this.momenta, this.params.map((p) => p.decay), { lr: this.lr, momentum, nesterov, weightDecay }, guard);
  }

  /** Sets every device gradient to 0. */
  zeroGrad(): void {
    for (const p of this.params) this.device.fill(gradOf(p), 0);
  }

  /** Momentum buffers read back (parameter order), for checkpoints. */
  async state(): Promise<Float32Array[]> {
    const out: Float32Array[] = [];
    for (const m of this.momenta) out.push(await this.device.read(m));
    return out;
  }

  /** Restores momentum buffers (uploads copies). Throws `Error` when the count or a length differs. */
  loadState(s: Float32Array[]): void {
    if (s.length !== this.momenta.length) throw new Error(`SGD.loadState: ${s.length} buffers, expected ${this.momenta.length}`);
    s.forEach((b, i) => {
      const p = this.params[i]!;
      if (b.length !== this.momenta[i]!.size) throw new Error(`SGD.loadState: buffer ${i} (${p.name}) has length ${b.length}, expected ${this.momenta[i]!.size}`);
    });
    this.device.dispose(this.momenta);
    this.momenta = s.map((b, i) => this.device.upload(b, this.params[i]!.shape));
  }
}
