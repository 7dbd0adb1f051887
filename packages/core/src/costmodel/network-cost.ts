/**
 * Analytic cost of one nnU-Net network at one patch: multiply-add FLOPs of every convolution and the number of
 * activation elements the normalisation / nonlinearity layers touch. Used to scale a measured calibration to other
 * patch sizes and to compare candidate configurations; never as a time on its own.
 *
 * Structure counted (dynamic_network_architectures `PlainConvUNet` / `ResidualEncoderUNet`, as nnU-Net v2 builds them
 * from the plans' `arch_kwargs`):
 * - encoder stage s: `n_conv_per_stage[s]` convs (the first with `strides[s]`), kernel `kernel_sizes[s]`; ResEnc: a
 *   stem conv, then `n_blocks_per_stage[s]` BasicBlockD (two convs, plus a 1x1 projection when shape or channels change);
 * - decoder stage (bottom up): a transposed conv with kernel = stride, concatenation with the skip, then
 *   `n_conv_per_stage_decoder` convs at the skip resolution, and a 1x1 segmentation head (every stage with deep
 *   supervision, only the last without).
 */
import type { ArchitectureSpec } from '../contracts/plans.js';

/** Cost of a network at a patch (per sample: multiply by the batch size). */
export interface NetworkCost {
  /** FLOPs (2 per multiply-add) of one forward pass of one sample. */
  forwardFlops: number;
  /** Activation elements written by convolutions in one forward pass of one sample (norm + nonlinearity touch each). */
  activationElements: number;
  /** Learnable parameters (conv weights and biases, norm affine). */
  parameters: number;
}

const prod = (a: readonly number[]): number => a.reduce((p, v) => p * v, 1);

/** Output size of a strided, 'same'-padded conv (nnU-Net pads `(k - 1) / 2`): `ceil(n / stride)` per axis. */
function strided(size: readonly number[], stride: readonly number[]): number[] {
  return size.map((n, i) => Math.floor((n - 1) / stride[i]!) + 1);
}

/**
 * FLOPs and activation elements of the network described by `arch` at `patch` (spatial, `[z, y, x]` or `[y, x]`).
 * @param inputChannels image channels (plus one-hot previous-stage channels for the cascade).
 * @param numClasses output channels of the segmentation heads.
 * @param deepSupervision count every decoder stage's head (training) or only the last (inference).
 * @throws Error when `patch` and the architecture's kernel sizes disagree in dimension.
 */
export function networkCost(arch: ArchitectureSpec, patch: readonly number[], inputChannels: number, numClasses: number, deepSupervision = true): NetworkCost {
  const k = arch.arch_kwargs;
  const f = k.features_per_stage;
  const nStages = f.length;
  if (k.kernel_sizes[0]?.length !== patch.length) {
    throw new Error(`patch [${patch.join(', ')}] does not match the architecture's ${k.kernel_sizes[0]?.length}-D kernels`);
  }
  let flops = 0;
  let act = 0;
  let params = 0;
  const conv = (cin: number, cout: number, kernel: readonly number[], out: readonly number[]) => {
    flops += 2 * cin * cout * prod(kernel) * prod(out);
    act += cout * prod(out);
    params += cin * cout * prod(kernel) + 3 * cout;
  };
  const sizes: number[][] = [];
  let size = [...patch];
  let cin = inputChannels;
  const residual = Array.isArray(k.n_blocks_per_stage);
  if (residual) {
    conv(cin, f[0]!, k.kernel_sizes[0]!, size);
    cin = f[0]!;
  }
  for (let s = 0; s < nStages; s++) {
    const out = strided(size, k.strides[s]!);
    if (residual) {
      for (let b = 0; b < k.n_blocks_per_stage![s]!; b++) {
        const blockIn = b === 0 ? cin : f[s]!;
        conv(blockIn, f[s]!, k.kernel_sizes[s]!, out);
        conv(f[s]!, f[s]!, k.kernel_sizes[s]!, out);
        if (b === 0 && (blockIn !== f[s]! || out.some((v, i) => v !== size[i]))) conv(blockIn, f[s]!, out.map(() => 1), out);
      }
    } else {
      const n = k.n_conv_per_stage?.[s] ?? 2;
      for (let c = 0; c < n; c++) conv(c === 0 ? cin : f[s]!, f[s]!, k.kernel_sizes[s]!, out);
    }
    sizes.push(out);
    cin = f[s]!;
    size = out;
  }
  for (let d = 0; d < nStages - 1; d++) {
    const s = nStages - 2 - d;
    const skip = sizes[s]!;
    // transposed conv f[s+1] -> f[s], kernel = stride of stage s+1
    conv(f[s + 1]!, f[s]!, k.strides[s + 1]!, skip);
    const n = k.n_conv_per_stage_decoder[d] ?? 2;
    for (let c = 0; c < n; c++) conv(c === 0 ? 2 * f[s]! : f[s]!, f[s]!, k.kernel_sizes[s]!, skip);
    if (deepSupervision || s === 0) {
      flops += 2 * f[s]! * numClasses * prod(skip);
      act += numClasses * prod(skip);
    }
    params += f[s]! * numClasses + numClasses;
  }
  return { forwardFlops: flops, activationElements: act, parameters: params };
}

/**
 * Relative cost of one training iteration (forward with deep supervision + backward, both gradients) at `batch`
 * samples: `3 x forward FLOPs x batch`, the usual fwd : bwd-data : bwd-filter = 1 : 1 : 1 split.
 */
export function trainingUnits(arch: ArchitectureSpec, patch: readonly number[], batch: number, inputChannels: number, numClasses: number): number {
  return 3 * networkCost(arch, patch, inputChannels, numClasses, true).forwardFlops * batch;
}

/**
 * Memory a training iteration adds to the process, bytes, float32: the activations kept for the backward (conv
 * output, normalised values, nonlinearity output) plus the gradients flowing back through them (about 6 copies of
 * every activation element), and parameters with their gradients and momentum buffers (3 copies).
 */
export function trainingBytes(arch: ArchitectureSpec, patch: readonly number[], batch: number, inputChannels: number, numClasses: number): number {
  const c = networkCost(arch, patch, inputChannels, numClasses, true);
  return 4 * (6 * c.activationElements * batch + 3 * c.parameters);
}
