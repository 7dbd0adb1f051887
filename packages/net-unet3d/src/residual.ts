import {
  InitRng,
  LeakyReLU,
  Sequential,
  resolveDevice,
  type DeviceBackend,
  type DeviceTensor,
  type Module,
  type NetworkBuildInput,
  type NetworkFactory,
  type Parameter,
} from '@nnunet-ts/core';
import { resolveArchitecture, type ResolvedArch } from './arch.js';
import { convNormAct, stackedConvBlocks } from './blocks.js';
import { UNet } from './unet.js';

type Triple = [number, number, number];

/**
 * Average pooling with kernel = stride (no padding, floor mode): `[n, c, z, y, x] -> [n, c, z/sz, y/sy, x/sx]`.
 * Used on the skip path of a strided residual block (device ops `avgPool` / `avgPoolBackward`).
 */
export class AvgPool implements Module {
  readonly parameters: Parameter[] = [];
  private xShape: readonly number[] | null = null;

  constructor(private readonly device: DeviceBackend, readonly k: Triple) {}

  forward(x: DeviceTensor, training = false): DeviceTensor {
    this.xShape = training ? x.shape : null;
    return this.device.avgPool(x, this.k);
  }

  backward(dy: DeviceTensor): DeviceTensor {
    if (!this.xShape) throw new Error('AvgPool: backward without a training forward');
    return this.device.avgPoolBackward(dy, this.k, this.xShape);
  }
}

/**
 * ResNet-D basic block of dynamic_network_architectures (`BasicBlockD`): `conv1` (conv-norm-nonlin, carries the
 * stride) -> `conv2` (conv-norm), plus the skip (identity, or avg-pool with kernel = stride and/or a 1x1 conv
 * without bias + norm when the channels change), then the nonlinearity. PyTorch parameter names
 * `<name>.conv1.*`, `<name>.conv2.*`, `<name>.skip.<i>.*`.
 */
export class BasicBlockD implements Module {
  readonly parameters: Parameter[];
  private readonly conv1: Module;
  private readonly conv2: Module;
  private readonly pool: AvgPool | null;
  private readonly proj: Module | null;
  private readonly act: LeakyReLU;

  constructor(private readonly device: DeviceBackend, a: ResolvedArch, name: string, cin: number, cout: number, kernel: Triple, stride: Triple, rng: InitRng, needsInputGrad = true) {
    this.conv1 = convNormAct(device, a, `${name}.conv1`, cin, cout, kernel, stride, rng, needsInputGrad);
    this.conv2 = convNormAct(device, a, `${name}.conv2`, cout, cout, kernel, [1, 1, 1], rng, true, false);
    // ResidualEncoderUNet.initialize: He init, then init_last_bn_before_add_to_0 (dynamic_network_architectures
    // initialization/weight_init.py): conv2's norm starts at weight 0 and bias 0, so each block begins as its skip
    for (const p of this.conv2.parameters) if (p.name === `${name}.conv2.norm.weight` || p.name === `${name}.conv2.norm.bias`) p.value.fill(0);
    const strided = stride.some((s) => s !== 1);
    this.pool = strided ? new AvgPool(device, stride) : null;
    const projArch = { ...a, convBias: false };
    this.proj = cin !== cout ? convNormAct(device, projArch, `${name}.skip.${strided ? 1 : 0}`, cin, cout, [1, 1, 1], [1, 1, 1], rng, needsInputGrad, false) : null;
    this.act = new LeakyReLU(device, a.slope);
    this.parameters = [...this.conv1.parameters, ...this.conv2.parameters, ...(this.proj?.parameters ?? [])];
  }

  forward(x: DeviceTensor, training: boolean): DeviceTensor {
    let r = x;
    if (this.pool) r = this.pool.forward(r, training);
    if (this.proj) r = this.proj.forward(r, training);
    const main = this.conv2.forward(this.conv1.forward(x, training), training);
    const sum = this.device.add(main, r);
    return this.act.forward(sum, training);
  }

  backward(dy: DeviceTensor): DeviceTensor | null {
    const dev = this.device;
    const ds = this.act.backward(dy);
    const d2 = this.conv2.backward(ds)!;
    const dx = this.conv1.backward(d2);
    dev.dispose(d2);
    let dr: DeviceTensor | null = ds;
    if (this.proj) dr = this.proj.backward(ds);
    if (dr && this.pool) {
      const p = this.pool.backward(dr);
      if (dr !== ds) dev.dispose(dr);
      dr = p;
    }
    if (dx && dr) dev.axpy(1, dr, dx);
    if (dr && dr !== ds) dev.dispose(dr);
    dev.dispose(ds);
    return dx;
  }
}

/**
 * Builds dynamic_network_architectures' `ResidualEncoderUNet` (nnU-Net ResEnc presets, RULES.md §21): stem (one
 * conv-norm-nonlin to `features[0]`), encoder stages of `n_blocks_per_stage[s]` `BasicBlockD`s (the first with
 * `strides[s]`), and the plain `UNet` decoder. `dims` as in `buildPlainConvUNet`. Throws `NnunetError` on a bad block.
 */
export function buildResidualEncoderUNet(input: NetworkBuildInput, dims: 2 | 3 = 3): UNet {
  const a = resolveArchitecture(input.architecture, dims, 'n_blocks_per_stage');
  const rng = new InitRng(input.seed ?? 0);
  const be = resolveDevice(input);
  const stem = stackedConvBlocks(be, a, 'encoder.stem', 1, input.inputChannels, a.features[0]!, a.kernels[0]!, [1, 1, 1], rng, false);
  const encoder: Module[] = [];
  let cin = a.features[0]!;
  for (let s = 0; s < a.nStages; s++) {
    const blocks: Module[] = [];
    for (let i = 0; i < a.nConvPerStage[s]!; i++)
      blocks.push(new BasicBlockD(be, a, `encoder.stages.${s}.blocks.${i}`, i === 0 ? cin : a.features[s]!, a.features[s]!, a.kernels[s]!, i === 0 ? a.strides[s]! : [1, 1, 1], rng));
    encoder.push(s === 0 ? new Sequential(be, [stem, ...blocks]) : new Sequential(be, blocks));
    cin = a.features[s]!;
  }
  return new UNet(be, a, encoder, input.numClasses, input.deepSupervision, rng);
}

/** Network plugin `ResidualEncoderUNet` (3D). */
export const residualEncoderUNet3d: NetworkFactory = {
  name: 'ResidualEncoderUNet',
  dims: 3,
  create: (input) => buildResidualEncoderUNet(input, 3),
};
