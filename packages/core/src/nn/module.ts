import type { DeviceBackend, DeviceTensor } from '../contracts/device.js';
import type { Parameter } from '../contracts/network.js';

/**
 * A layer with an explicit backward pass on a device backend. `forward(x, training)` keeps what `backward` needs
 * only when `training`; `backward(dy)` adds parameter gradients into each `Parameter.gradTensor` and returns
 * dL/dx as a new tensor (or null when the layer was built with `needsInputGrad = false`, e.g. the first conv of a
 * network). Inputs are never modified or disposed; outputs belong to the caller's device scope.
 */
export interface Module {
  readonly parameters: Parameter[];
  forward(x: DeviceTensor, training: boolean): DeviceTensor;
  backward(dy: DeviceTensor): DeviceTensor | null;
}

/** Modules applied in order; intermediate gradients are disposed as soon as they are consumed. */
export class Sequential implements Module {
  readonly parameters: Parameter[];
  constructor(readonly device: DeviceBackend, readonly layers: Module[]) {
    this.parameters = layers.flatMap((l) => l.parameters);
  }
  forward(x: DeviceTensor, training: boolean): DeviceTensor {
    let h = x;
    for (const l of this.layers) h = l.forward(h, training);
    return h;
  }
  backward(dy: DeviceTensor): DeviceTensor | null {
    let g: DeviceTensor | null = dy;
    for (let i = this.layers.length - 1; i >= 0 && g; i--) {
      const next: DeviceTensor | null = this.layers[i]!.backward(g);
      if (g !== dy) this.device.dispose(g);
      g = next;
    }
    return g;
  }
}

/** The parameter's device value; throws when the network has not attached it to a device yet. */
export function valueOf(p: Parameter): DeviceTensor {
  if (!p.tensor) throw new Error(`parameter ${p.name} is not on a device (Network.pushParameters not called)`);
  return p.tensor;
}

/** The parameter's device gradient; throws when it has none. */
export function gradOf(p: Parameter): DeviceTensor {
  if (!p.gradTensor) throw new Error(`parameter ${p.name} has no device gradient (Network.pushParameters not called)`);
  return p.gradTensor;
}

/**
 * Uploads each parameter's host `value` to a new device tensor (disposing the previous one) and gives it a zero
 * device gradient when it has none. Used by networks after initialisation and after loading weights.
 */
export function pushParameters(device: DeviceBackend, params: Parameter[]): void {
  for (const p of params) {
    if (p.tensor) device.dispose(p.tensor);
    p.tensor = device.upload(p.value, p.shape);
    p.gradTensor ??= device.zeros(p.shape);
  }
}

/** Reads each parameter's device value and gradient into its host `value` / `grad`. */
export async function pullParameters(device: DeviceBackend, params: Parameter[]): Promise<void> {
  for (const p of params) {
    p.value.set(await device.read(valueOf(p)));
    if (p.gradTensor) p.grad.set(await device.read(p.gradTensor));
  }
}
