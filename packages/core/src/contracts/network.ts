import type { ComputeBackend, Tensor } from './backend.js';
import type { ArchitectureSpec } from './plans.js';

/** A trainable parameter with its gradient buffer (same length). */
export interface Parameter {
  /** Stable name used in checkpoints, e.g. `encoder.stages.0.0.conv.weight`. */
  name: string;
  value: Float32Array;
  grad: Float32Array;
  shape: number[];
  /** Whether weight decay applies (nnU-Net applies it to all parameters). */
  decay: boolean;
}

/**
 * A network with explicit forward and backward passes.
 * Input `[n, cIn, z, y, x]` (2D networks: z = 1). Outputs are logits, highest resolution first:
 * `outputs[0]` is `[n, nClasses, z, y, x]`; with deep supervision `outputs[i]` is the i-th decoder stage's seg head
 * (lower resolutions), as in nnU-Net.
 */
export interface Network {
  readonly parameters: Parameter[];
  /** Forward pass. `training` keeps the activations needed by `backward`. */
  forward(x: Tensor, training: boolean): Tensor[];
  /** Backward pass from dL/d(outputs) (same length and shapes as the last `forward`); accumulates into `grad`. */
  backward(gradOutputs: (Tensor | null)[]): void;
  /** Enable or disable deep supervision outputs. */
  setDeepSupervision(on: boolean): void;
}

/** Everything a network factory needs. */
export interface NetworkBuildInput {
  architecture: ArchitectureSpec;
  inputChannels: number;
  numClasses: number;
  deepSupervision: boolean;
  backend: ComputeBackend;
  /** Seed for He initialisation. */
  seed?: number;
}

/**
 * Network plugin, registered by `network_class_name` (short or dotted) and dimensionality, e.g.
 * `PlainConvUNet` with `dims: 3` (net-unet3d) and `dims: 2` (net-unet2d).
 */
export interface NetworkFactory {
  name: string;
  dims: 2 | 3;
  create(input: NetworkBuildInput): Network;
}
