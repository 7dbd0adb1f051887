/**
 * Device-resident compute contract (issue 9): tensors live on the backend, the host holds opaque handles.
 *
 * This is the contract every network, the trainer and the sliding window are written against, so that a GPU
 * backend keeps every tensor of a training step resident (only the input batch and its labels go up, only the
 * loss scalar comes back) and keeps the whole sliding-window accumulator on the device. It is modelled on tfjs's
 * split (ops written once, each backend owns its memory, `read()` is asynchronous, `readSync()` only where the
 * device allows it).
 *
 * ## Layout
 * - Activations are `NCDHW`: `[n, c, z, y, x]`, C order, x fastest. 2D networks use z = 1 (and kernels with
 *   kz = 1, stride/pad z = 1/0), so every op is written for rank-5 activations. Labels are `[n, 1, z, y, x]`.
 *   Sliding-window accumulators and final logits are rank 4, `[K, z, y, x]` (one case, no batch axis).
 * - Convolution weights are PyTorch's `[cOut, cIn, kz, ky, kx]`; transposed-convolution weights PyTorch's
 *   `ConvTranspose` layout `[cIn, cOut, kz, ky, kx]`. Per-channel vectors (bias, norm affine) are `[c]`.
 * - Spatial triples (`stride`, `padding`, `kernel`, `start`, axes) are `[z, y, x]`.
 *
 * ## Ownership and memory
 * - Every op that returns a tensor allocates a new handle owned by the caller, who must `dispose` it (directly,
 *   or by `endScope` of an enclosing scope). Ops never dispose their inputs.
 * - Ops documented as *in place* write into a tensor passed by the caller (parameters, gradients, momentum
 *   buffers, accumulators): these long-lived buffers are allocated once and reused every step.
 * - Gradient ops that take an `accumulate` flag add into the destination when true and overwrite it when false
 *   (PyTorch's `.grad` accumulation vs. the first write after `zero_grad`).
 * - A disposed handle throws on any use (an `Error` naming the op). Handles of one backend are never passed to
 *   another; mixing throws.
 *
 * ## Precision
 * - `float32` is mandatory. A backend may list `float16` and/or `bfloat16` in `capabilities.dtypes`; then
 *   activations may be cast to it (`cast`) and the conv / norm / activation ops accept and return it, with float32
 *   accumulation inside. Parameters, their gradients, momentum buffers, loss, softmax inputs of the loss and the
 *   sliding-window accumulator stay float32 (nnU-Net's `torch.autocast` keeps the same set in float32).
 * - Loss scaling follows nnU-Net's AMP (`torch.cuda.amp.GradScaler`: initial scale 2^16, growth 2 every 2000
 *   finite steps, backoff 0.5): `dcCeLoss` multiplies its gradients by `lossScale`, `clipGradNorm` unscales and
 *   reports whether every gradient is finite, `sgdStep` skips the update when it is not. The host adjusts the scale
 *   from the finite flag it reads together with the loss (see `AmpLossScaler` semantics in the trainer).
 *   With bfloat16, or float32, the scale is 1 and never changes.
 *
 * ## One training step on the contract (what the trainer issues)
 * `upload(batch)`, `uploadLabels(seg)`, `downsampleLabels` per deep supervision level; forward (`conv`,
 * `instanceNorm` with fused LeakyReLU, `convBackwardData` as transposed conv + `addBias`, `concatChannels`);
 * `dcCeLoss`; backward (`instanceNormBackward`, `convBackwardData`, `convBackwardFilter` into the parameter
 * gradients, `splitChannels`, `axpy`); `clipGradNorm(grads, 12, 1/scale)`; `sgdStep(..., guard)`; finally one
 * `read` of the loss values (and the guard) -- the only transfer back. Everything else is disposed by scopes.
 *
 * ## Reductions
 * Sums over many elements (norm statistics, Dice sums, gradient norm, loss) accumulate in at least float32 with
 * pairwise/blocked summation or float64; the contract suite checks results against a float64 reference with a
 * relative tolerance of 1e-4 (float32) or 2e-2 (half types).
 */

/** Element type of a device tensor. `int32` holds labels and argmax results only. */
export type DeviceDType = 'float32' | 'float16' | 'bfloat16' | 'int32';

/** Floating element types a backend may compute in. */
export type DeviceFloatDType = Exclude<DeviceDType, 'int32'>;

/**
 * An opaque tensor handle owned by the backend that created it. The host sees only metadata; the storage (a
 * native buffer, a GPU buffer, a tfjs `dataId`) is private to the backend.
 */
export interface DeviceTensor {
  /** Shape, outermost first (activations `[n, c, z, y, x]`). Never mutated. */
  readonly shape: readonly number[];
  readonly dtype: DeviceDType;
  /** Number of elements (product of `shape`; 1 for a scalar of shape `[]`). */
  readonly size: number;
  /** Name of the owning backend (`DeviceBackend.info.name`). */
  readonly backend: string;
  /** True after `dispose` (directly or by a scope). */
  readonly isDisposed: boolean;
}

/** Stride and zero padding of a convolution, `[z, y, x]` each; 2D: `[1, sy, sx]` and `[0, py, px]`. */
export interface ConvParams {
  stride: [number, number, number];
  padding: [number, number, number];
}

/** What a backend offers beyond the mandatory float32 op set. */
export interface DeviceCapabilities {
  /** Floating types accepted by conv/norm/activation ops; always contains `float32`. */
  dtypes: DeviceFloatDType[];
  /** Whether `readSync` works (CPU backends, tfjs-cpu); GPU backends are asynchronous only. */
  syncRead: boolean;
  /** Largest single buffer in bytes the device accepts (WebGPU `maxStorageBufferBindingSize`), if limited. */
  maxBufferBytes?: number;
  /** Device memory budget in bytes, if known (sliding-window and batch planning use it). */
  memoryBytes?: number;
}

/** Identity and capabilities, printed at start. */
export interface DeviceInfo {
  /** Registry name, e.g. `cpu-js`, `cpu-native`, `tfjs-cpu`, `tensorflow`, `webgpu`. */
  name: string;
  /** Human description: library, device, threads, SIMD level. */
  description: string;
  gpu: boolean;
  threads?: number;
  capabilities: DeviceCapabilities;
}

/** Memory in use, for leak tests and the progress log. */
export interface DeviceMemory {
  /** Live (not disposed) tensors. */
  tensors: number;
  /** Bytes held by live tensors. */
  bytes: number;
}

/** Options of `instanceNorm` (nnU-Net: `InstanceNorm3d(eps=1e-5, affine=True)`, RULES.md §7). */
export interface DeviceInstanceNormOptions {
  /** Added to the biased variance; nnU-Net: 1e-5. */
  eps: number;
  /** When set, LeakyReLU with this negative slope is fused after the affine (nnU-Net: 0.01). */
  leakySlope?: number;
  /** When true, the returned state keeps what `instanceNormBackward` needs; otherwise `state` is null. */
  training: boolean;
}

/**
 * What a training-mode `instanceNorm` keeps for its backward: `xhat = (x - mean) * invStd` (shape of x, may be
 * stored in the activation dtype) and `invStd` (`[n, c]`, float32). Dispose both after the backward.
 */
export interface DeviceInstanceNormState {
  xhat: DeviceTensor;
  invStd: DeviceTensor;
}

/** Gradient destinations of a parameterised op's backward; `accumulate` adds instead of overwriting. */
export interface ParamGrads {
  /** `[cOut, cIn, k...]` weight gradient (conv) or `[c]` gamma gradient (norm); null to skip. */
  weight: DeviceTensor | null;
  /** `[c]` bias / beta gradient; null to skip. */
  bias: DeviceTensor | null;
  accumulate: boolean;
}

/**
 * Options of the fused Dice + cross-entropy loss with deep supervision (nnU-Net `DC_and_CE_loss` wrapped in
 * `DeepSupervisionWrapper`, RULES.md §15-§16; region-based `DC_and_BCE_loss` when `regions` is set).
 */
export interface DcCeLossOptions {
  /**
   * Weight per level, highest resolution first, as nnU-Net: `1/2^i`, lowest level set to 0, normalised to sum 1
   * (`deepSupervisionWeights`). Levels with weight 0 get no gradient (null) and cost nothing.
   */
  weights: number[];
  /** nnU-Net `batch_dice`: Dice sums over the batch and space (true) or per sample (false). */
  batchDice: boolean;
  /** nnU-Net `do_bg`: false for softmax (background channel 0 excluded from Dice); BCE regions always true. */
  doBackground: boolean;
  /** Added to numerator and denominator of the soft Dice; nnU-Net: 1e-5. Denominator clamped to >= 1e-8. */
  smooth: number;
  /** Voxels with this label are excluded from CE and Dice, and get zero gradient. */
  ignoreLabel?: number;
  /** Region-based training: channel r is sigmoid(logit) vs. `label in regions[r]` (BCE + Dice, do_bg true). */
  regions?: number[][];
  /** Loss scale of mixed precision: gradients are multiplied by it (the returned loss is not). Default 1. */
  lossScale?: number;
  /**
   * nnU-Net `DC_and_CE_loss(weight_ce, weight_dice)` (both default 1): each level's loss is
   * `weightCe * ce + weightDice * dice`, its gradient weighted alike; `values` reports `ce` and `dice` weighted too.
   */
  weightCe?: number;
  weightDice?: number;
}

/**
 * Result of `dcCeLoss`. `values` is a float32 device tensor `[3]` = `[loss, ce, dice]` (weighted over levels,
 * dice being the negative soft Dice term as nnU-Net logs it), read back with one `read`. `grads[l]` is
 * `lossScale * dLoss/dLogits[l]` (shape of `logits[l]`, float32) or null where the weight is 0.
 */
export interface DcCeLossResult {
  values: DeviceTensor;
  grads: (DeviceTensor | null)[];
}

/** SGD hyper-parameters of one step (nnU-Net: momentum 0.99, nesterov, weight decay 3e-5; lr from poly LR). */
export interface SgdStepOptions {
  lr: number;
  momentum: number;
  nesterov: boolean;
  weightDecay: number;
}

/**
 * The device compute backend. Every op validates shapes and throws `Error` naming the op and the shapes when they
 * are inconsistent. Ops are issued synchronously and may execute asynchronously (a GPU queues them): results are
 * observable only through `read`/`readSync`, which wait for all preceding work. CPU backends may run eagerly.
 */
export interface DeviceBackend {
  readonly info: DeviceInfo;
  /** Prepare (load native code, request the adapter, start threads). Called once before any other method. */
  init?(): Promise<void>;
  /** Releases every tensor and the device. The backend is unusable afterwards. */
  destroy?(): void;

  // ---------------------------------------------------------------- memory
  /** Copies host data to a new tensor of `dtype` (default float32; half types are rounded to nearest even). */
  upload(data: Float32Array, shape: readonly number[], dtype?: DeviceFloatDType): DeviceTensor;
  /** Copies integer labels (`[n, 1, z, y, x]`, values -1..32767) to a new `int32` tensor. */
  uploadLabels(data: Int16Array | Int32Array | Uint8Array, shape: readonly number[]): DeviceTensor;
  /** New float tensor filled with `value` (default 0). */
  zeros(shape: readonly number[], dtype?: DeviceFloatDType, value?: number): DeviceTensor;
  /** Reads a float tensor back as float32 (half types widened), after all queued work. */
  read(t: DeviceTensor): Promise<Float32Array>;
  /** Reads an `int32` tensor (labels, argmax) back. */
  readInt(t: DeviceTensor): Promise<Int32Array>;
  /** Synchronous `read`; only when `capabilities.syncRead`, otherwise throws. */
  readSync?(t: DeviceTensor): Float32Array;
  /** Frees one or more tensors. Disposing twice is a no-op. */
  dispose(t: DeviceTensor | readonly (DeviceTensor | null | undefined)[]): void;
  /**
   * Opens a scope: tensors created until the matching `endScope` are disposed by it, except those passed in
   * `keep` (which move to the enclosing scope). Scopes nest; the core's `tidy(backend, fn)` wraps the pair.
   */
  beginScope(): void;
  endScope(keep?: readonly (DeviceTensor | null | undefined)[]): void;
  /** Live tensors and bytes. */
  memory(): DeviceMemory;
  /** Resolves when all queued work is done (timing, before `destroy`). */
  sync(): Promise<void>;

  // ---------------------------------------------------------------- elementwise helpers
  /** New tensor `a + b` (same shape and dtype). Residual blocks. */
  add(a: DeviceTensor, b: DeviceTensor): DeviceTensor;
  /** In place: `y += alpha * x` (same shape). Gradient sums (skip connections, residual branches). */
  axpy(alpha: number, x: DeviceTensor, y: DeviceTensor): void;
  /** In place: `x *= alpha`. */
  scale(x: DeviceTensor, alpha: number): void;
  /** In place: every element of `x` set to `value`. `zero_grad`, accumulator reset. */
  fill(x: DeviceTensor, value: number): void;
  /** In place: `dst` := `src` (same shape; dtypes may differ, converting). */
  copy(src: DeviceTensor, dst: DeviceTensor): void;
  /** New tensor: `x` converted to `dtype` (float types; round to nearest even). */
  cast(x: DeviceTensor, dtype: DeviceFloatDType): DeviceTensor;

  // ---------------------------------------------------------------- convolution
  /**
   * `y = conv(x, w) + bias`: x `[n, cIn, z, y, x]`, w `[cOut, cIn, kz, ky, kx]`, bias `[cOut]` or null,
   * y `[n, cOut, zo, yo, xo]` with `o = floor((i + 2 pad - k) / stride) + 1` per axis (cross-correlation, zero
   * padding, PyTorch `Conv3d`). Strided convolutions are nnU-Net's downsampling.
   */
  conv(x: DeviceTensor, w: DeviceTensor, bias: DeviceTensor | null, p: ConvParams): DeviceTensor;
  /**
   * dL/dx of `conv` given dy `[n, cOut, zo, yo, xo]`; `xShape` is the forward input shape (it disambiguates the
   * strided size). Also the forward of a transposed convolution: `convTranspose(x, wT)` with wT
   * `[cIn, cOut, k...]` (PyTorch `ConvTranspose3d`) is `convBackwardData(x, wT, outShape, p)`.
   */
  convBackwardData(dy: DeviceTensor, w: DeviceTensor, xShape: readonly number[], p: ConvParams): DeviceTensor;
  /**
   * Weight (and bias) gradients of `conv`: `grads.weight` `[cOut, cIn, k...]` gets `sum_n x (*) dy`,
   * `grads.bias` `[cOut]` gets `sum over n, z, y, x of dy`. Destinations are float32 whatever the input dtype.
   * For a transposed convolution call it with the roles swapped: `convBackwardFilter(dOut, xIn, p, {weight,
   * bias: null})` gives wT's gradient `[cIn, cOut, k...]` (its bias gradient comes from `biasGrad(dOut)`).
   */
  convBackwardFilter(x: DeviceTensor, dy: DeviceTensor, p: ConvParams, grads: ParamGrads): void;
  /** In place: `x[:, c, ...] += bias[c]` (transposed convolution's bias). */
  addBias(x: DeviceTensor, bias: DeviceTensor): void;
  /** `grad` `[c]` (+)= sum over n and space of `dy[:, c, ...]` (bias gradient of a transposed convolution). */
  biasGrad(dy: DeviceTensor, grad: DeviceTensor, accumulate: boolean): void;

  // ---------------------------------------------------------------- normalisation and activation
  /**
   * Instance norm over each `(n, c)` plane: `xhat = (x - mean) / sqrt(var + eps)` (biased variance),
   * `z = gamma[c] xhat + beta[c]` (gamma/beta null: affine off), then LeakyReLU when `leakySlope` is set.
   * Returns the output (dtype of x) and, in training, the state for the backward.
   */
  instanceNorm(x: DeviceTensor, gamma: DeviceTensor | null, beta: DeviceTensor | null, o: DeviceInstanceNormOptions): { y: DeviceTensor; state: DeviceInstanceNormState | null };
  /**
   * Backward of `instanceNorm` (with the same `leakySlope`): returns dx; writes `dgamma = sum dz * xhat` and
   * `dbeta = sum dz` per channel (over n and space) into `grads`, where dz is dy masked by the LeakyReLU
   * derivative at z. `dx = gamma invStd (dz - mean(dz) - xhat mean(dz xhat))` per plane.
   */
  instanceNormBackward(dy: DeviceTensor, state: DeviceInstanceNormState, gamma: DeviceTensor | null, beta: DeviceTensor | null, leakySlope: number | undefined, grads: ParamGrads): DeviceTensor;
  /** `y = x > 0 ? x : slope x` (nnU-Net: `LeakyReLU(0.01)`). */
  leakyRelu(x: DeviceTensor, slope: number): DeviceTensor;
  /** `dx = dy * (y > 0 ? 1 : slope)` from the forward output y (valid for slope > 0). */
  leakyReluBackward(dy: DeviceTensor, y: DeviceTensor, slope: number): DeviceTensor;
  /** Average pooling with kernel = stride (no padding, floor): residual encoder skip path. */
  avgPool(x: DeviceTensor, kernel: [number, number, number]): DeviceTensor;
  /** Backward of `avgPool`: each input voxel of a window gets `dy / prod(kernel)`; `xShape` the input shape. */
  avgPoolBackward(dy: DeviceTensor, kernel: [number, number, number], xShape: readonly number[]): DeviceTensor;

  // ---------------------------------------------------------------- channels
  /** Concatenation along the channel axis (decoder skip). Same n and spatial shape. */
  concatChannels(xs: readonly DeviceTensor[]): DeviceTensor;
  /** Inverse of `concatChannels`: `sizes` channel counts summing to `c`. */
  splitChannels(x: DeviceTensor, sizes: readonly number[]): DeviceTensor[];
  /** Softmax over the channel axis per voxel (float32 out): axis 1 of `[n, K, z, y, x]`, axis 0 of `[K, z, y, x]`. */
  softmax(x: DeviceTensor): DeviceTensor;
  /** Elementwise logistic sigmoid (float32 out): region-based prediction. */
  sigmoid(x: DeviceTensor): DeviceTensor;

  // ---------------------------------------------------------------- loss and deep supervision
  /**
   * Nearest-neighbour label downsampling to `[n, 1, zo, yo, xo]` as nnU-Net's `DownsampleSegForDSTransform`
   * (`nearest-exact`: source index `min(in - 1, floor((i + 0.5) in / out))` per axis). Int32 in and out.
   */
  downsampleLabels(labels: DeviceTensor, outShape: readonly number[]): DeviceTensor;
  /**
   * Dice + CE (or + BCE with `regions`) over the deep supervision levels: `logits[l]` `[n, K, z, y, x]` (float32
   * or half; computed in float32), `targets[l]` int32 `[n, 1, z, y, x]` of the same spatial shape. Per level,
   * softmax CE is the mean over voxels (masked mean with an ignore label), Dice per channel is
   * `(2 tp + smooth) / max(2 tp + fp + fn + smooth, 1e-8)` with soft tp/fp/fn, averaged over the included channels
   * (and samples without batch Dice), loss = weightCe ce - weightDice dice; total = sum_l weights[l] loss_l (nnU-Net's
   * `DC_and_CE_loss(weight_ce, weight_dice)`, default 1 and 1, and `MemoryEfficientSoftDiceLoss`).
   */
  dcCeLoss(logits: readonly DeviceTensor[], targets: readonly DeviceTensor[], o: DcCeLossOptions): DcCeLossResult;

  // ---------------------------------------------------------------- optimiser
  /**
   * Gradient-norm clipping as `torch.nn.utils.clip_grad_norm_` after `GradScaler.unscale_`: every gradient is
   * first multiplied by `invScale` (1 / loss scale), then `norm = sqrt(sum g^2)` over all of them and, when
   * `maxNorm / (norm + 1e-6) < 1`, scaled by that factor, in place (nnU-Net: maxNorm 12). Returns a float32
   * tensor `[2]` = `[norm before clipping, finite]` with finite 1 when every gradient is finite, else 0 (then the
   * gradients are left unscaled by the clip factor).
   */
  clipGradNorm(grads: readonly DeviceTensor[], maxNorm: number, invScale: number): DeviceTensor;
  /**
   * One SGD step of PyTorch's rule, in place on `params[i]` and `momenta[i]`: `g = grad + wd p` (wd = weightDecay
   * where `decay[i]`, else 0), `buf = momentum buf + g`, `p -= lr (nesterov ? g + momentum buf : buf)`. When
   * `guard` (the result of `clipGradNorm`) says non-finite, nothing changes (GradScaler's skipped step).
   */
  sgdStep(params: readonly DeviceTensor[], grads: readonly DeviceTensor[], momenta: readonly DeviceTensor[], decay: readonly boolean[], o: SgdStepOptions, guard?: DeviceTensor): void;

  // ---------------------------------------------------------------- sliding window
  /** New tensor with the given spatial axes (`0` = z, `1` = y, `2` = x) reversed: test-time mirroring. */
  flip(x: DeviceTensor, axes: readonly number[]): DeviceTensor;
  /**
   * New tensor `[B, c, ...size]`: the windows of `x` (`[1, c, z, y, x]`) starting at `starts[b]` (`[z, y, x]`,
   * each window inside `x`), stacked along n. The image is uploaded once (padded to at least the patch size) and
   * the tiles of one network batch are cut on the device.
   */
  crop(x: DeviceTensor, starts: readonly (readonly number[])[], size: readonly number[]): DeviceTensor;
  /**
   * In place, Gaussian-weighted accumulation of one tile batch (nnU-Net `predict_sliding_window_return_logits`):
   * for each b, `acc[:, start_b + p] += scale * tile[b, :, p] * gauss[p]` and `weight[start_b + p] += gauss[p]`.
   * acc `[K, Z, Y, X]` float32, weight `[1, Z, Y, X]` float32, tile `[B, K, pz, py, px]`, gauss `[pz, py, px]`,
   * `starts[b]` `[z, y, x]`. `scale` folds the mirroring average (1 / number of mirror combinations).
   */
  accumulateTiles(acc: DeviceTensor, weight: DeviceTensor, tile: DeviceTensor, gauss: DeviceTensor, starts: readonly (readonly number[])[], scale: number): void;
  /**
   * New tensor `[K, ...size]` = `acc / weight` over the window `[start, start + size)`: the final logits, the
   * padding of the grid cut away.
   */
  normalizeAccumulator(acc: DeviceTensor, weight: DeviceTensor, start: readonly number[], size: readonly number[]): DeviceTensor;
  /** Int32 `[1, z, y, x]` index of the largest channel of `[K, z, y, x]` (first on ties, as `torch.argmax`). */
  argmax(x: DeviceTensor): DeviceTensor;
}

/** A named, lazily created device backend: the registered plugin (`--backend <name>`). */
export interface DeviceBackendPlugin {
  name: string;
  /** Lower is tried first by the automatic choice (GPU < fast CPU < reference CPU). */
  priority: number;
  /** Whether it can run here (package installed, adapter present, native addon built). Never throws. */
  isAvailable(): Promise<boolean>;
  /** Creates and initialises the backend. */
  create(): Promise<DeviceBackend>;
}

/**
 * Runs `fn` inside a scope of `backend`: every tensor it creates is disposed afterwards, except the returned
 * tensors (a tensor, or arrays/objects holding tensors, up to 4 levels deep) which
 * move to the enclosing scope. Synchronous functions only (as tfjs `tidy`).
 */
export function tidy<T>(backend: DeviceBackend, fn: () => T): T {
  backend.beginScope();
  let result: T;
  try {
    result = fn();
  } catch (e) {
    backend.endScope();
    throw e;
  }
  backend.endScope(collectTensors(result));
  return result;
}

function isTensor(v: unknown): v is DeviceTensor {
  return typeof v === 'object' && v !== null && 'isDisposed' in v && 'dtype' in v && 'shape' in v;
}

function collectTensors(v: unknown, depth = 0): DeviceTensor[] {
  if (isTensor(v)) return [v];
  if (depth > 3 || typeof v !== 'object' || v === null) return [];
  return (Array.isArray(v) ? v : Object.values(v)).flatMap((x: unknown) => collectTensors(x, depth + 1));
}
