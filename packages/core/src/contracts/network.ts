import type { ComputeBackend } from './backend.js';
import type { DeviceBackend, DeviceTensor } from './device.js';
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
  /**
   * The value on the network's device, the source of truth while training (`value` is its host copy, written by
   * `Network.pullParameters`; after changing `value` on the host call `Network.pushParameters`). Set by the network.
   */
  tensor?: DeviceTensor;
  /** dL/dparameter on the device (float32, shape `shape`), accumulated by `backward`; `grad` is its host copy. */
  gradTensor?: DeviceTensor;
}

/**
 * A network with explicit forward and backward passes on a device backend (`contracts/device.ts`); every
 * activation stays on the device. Input `[n, cIn, z, y, x]` (2D networks: z = 1). Outputs are logits, highest
 * resolution first: `outputs[0]` is `[n, nClasses, z, y, x]`; with deep supervision `outputs[i]` is the i-th decoder
 * stage's seg head (lower resolutions), as in nnU-Net. Tensors returned by `forward` and kept for `backward` belong
 * to the caller's device scope (wrap a step in `beginScope`/`endScope`).
 */
export interface Network {
  readonly device: DeviceBackend;
  /** Parameters in PyTorch `named_parameters()` order, each with its device `tensor` and `gradTensor`. */
  readonly parameters: Parameter[];
  /** Forward pass. `training` keeps the activations needed by `backward`. */
  forward(x: DeviceTensor, training: boolean): DeviceTensor[];
  /**
   * Backward pass from dL/d(outputs) (same length and shapes as the last `forward`, null = no gradient); adds into
   * every parameter's `gradTensor`.
   */
  backward(gradOutputs: (DeviceTensor | null)[]): void;
  /** Enable or disable deep supervision outputs. */
  setDeepSupervision(on: boolean): void;
  /** Uploads every parameter's host `value` to its device `tensor` (after init or loading a checkpoint). */
  pushParameters(): void;
  /** Reads every parameter's device value and gradient back into `value` / `grad` (before saving). */
  pullParameters(): Promise<void>;
}

/** Everything a network factory needs. */
export interface NetworkBuildInput {
  architecture: ArchitectureSpec;
  inputChannels: number;
  numClasses: number;
  deepSupervision: boolean;
  /** The device the network lives on. */
  device?: DeviceBackend;
  /** Used when `device` is absent: a device backend, or a legacy `ComputeBackend` wrapped in a `HostDeviceBackend`. */
  backend?: ComputeBackend | DeviceBackend;
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
