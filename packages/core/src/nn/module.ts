import type { Tensor } from '../contracts/backend.js';
import type { Parameter } from '../contracts/network.js';

/**
 * A layer with an explicit backward pass. `forward(x, training)` keeps what `backward` needs only when
 * `training`; `backward(dy)` accumulates parameter gradients into `Parameter.grad` and returns dL/dx
 * (or null when the layer was built with `needsInputGrad = false`, e.g. the first conv of a network).
 * Returned tensors may be layer-owned buffers reused by the next call: copy them to keep them.
 */
export interface Module {
  readonly parameters: Parameter[];
  forward(x: Tensor, training: boolean): Tensor;
  backward(dy: Tensor): Tensor | null;
}

/** Modules applied in order. */
export class Sequential implements Module {
  readonly parameters: Parameter[];
  constructor(readonly layers: Module[]) {
    this.parameters = layers.flatMap((l) => l.parameters);
  }
  forward(x: Tensor, training: boolean): Tensor {
    let h = x;
    for (const l of this.layers) h = l.forward(h, training);
    return h;
  }
  backward(dy: Tensor): Tensor | null {
    let g: Tensor | null = dy;
    for (let i = this.layers.length - 1; i >= 0 && g; i--) g = this.layers[i]!.backward(g);
    return g;
  }
}
