import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { ComputeBackend } from '../contracts/backend.js';
import type { DeviceBackend } from '../contracts/device.js';
import type { Parameter } from '../contracts/network.js';
import type { ArchitectureSpec } from '../contracts/plans.js';
import { loadTrainedModel } from '../inference/model.js';
import type { Registry } from '../registry/registry.js';
import { writeFileAtomicSync } from '../util/atomic.js';
import { NnunetError } from '../util/errors.js';
import { encodeOnnxModel, ONNX_ATTR, ONNX_FLOAT } from './onnx-proto.js';

/** ONNX operator set and IR version written (opset 17 is IR version 8, onnx/onnx `docs/Versioning.md`). */
export const ONNX_OPSET = 17;
const IR_VERSION = 8;

/** What {@link buildOnnxModel} needs to know of a trained network. */
export interface OnnxNetworkInput {
  /** The plans' `architecture` block (PlainConvUNet or ResidualEncoderUNet, dynamic_network_architectures). */
  architecture: ArchitectureSpec;
  dims: 2 | 3;
  inputChannels: number;
  numClasses: number;
  /** The network's parameters with dynamic_network_architectures' names (2D kernels may carry a unit z axis). */
  parameters: Parameter[];
  /** `metadata_props` written into the model (plans name, configuration, fold, ...). */
  metadata?: Record<string, string>;
}

type Attr = { name: string; type: number; f?: number; i?: number; ints?: number[] };
const ints = (name: string, v: number[]): Attr => ({ name, type: ONNX_ATTR.INTS, ints: v });
const float = (name: string, v: number): Attr => ({ name, type: ONNX_ATTR.FLOAT, f: v });
const int = (name: string, v: number): Attr => ({ name, type: ONNX_ATTR.INT, i: v });

/** The architecture fields the graph uses, read from arch_kwargs with nnU-Net's defaults. */
interface Arch {
  n: number;
  features: number[];
  kernels: number[][];
  strides: number[][];
  perStage: number[];
  decoder: number[];
  convBias: boolean;
  eps: number;
  affine: boolean;
  slope: number;
  residual: boolean;
}

function readArch(spec: ArchitectureSpec, dims: 2 | 3): Arch {
  const cls = spec.network_class_name.slice(spec.network_class_name.lastIndexOf('.') + 1);
  if (cls !== 'PlainConvUNet' && cls !== 'ResidualEncoderUNet') {
    throw new NnunetError(`export-onnx supports PlainConvUNet and ResidualEncoderUNet, not ${spec.network_class_name}`, { hint: 'the plans name another network class' });
  }
  const k = spec.arch_kwargs;
  const nonlin = String(k.nonlin ?? 'LeakyReLU');
  const slope = /LeakyReLU/.test(nonlin) ? (k.nonlin_kwargs?.negative_slope ?? 0.01) : /ReLU$/.test(nonlin) ? 0 : NaN;
  if (Number.isNaN(slope) || !/InstanceNorm/.test(String(k.norm_op ?? 'InstanceNorm'))) {
    throw new NnunetError(`export-onnx: norm ${String(k.norm_op)} / nonlin ${nonlin} not supported (InstanceNorm with LeakyReLU or ReLU)`, { hint: 'the plans name a network variant we do not build' });
  }
  const residual = cls === 'ResidualEncoderUNet';
  const perStage = (residual ? k.n_blocks_per_stage : k.n_conv_per_stage) ?? [];
  const bad = [k.kernel_sizes, k.strides].some((l) => l.length !== k.n_stages || l.some((v) => v.length !== dims)) || perStage.length !== k.n_stages;
  if (bad) throw new NnunetError(`export-onnx: architecture lists do not fit n_stages ${k.n_stages} and ${dims}D`, { hint: 'check the architecture block of plans.json' });
  return {
    n: k.n_stages, features: k.features_per_stage, kernels: k.kernel_sizes, strides: k.strides, perStage, decoder: k.n_conv_per_stage_decoder,
    convBias: k.conv_bias ?? true, eps: k.norm_op_kwargs?.eps ?? 1e-5, affine: k.norm_op_kwargs?.affine ?? true, slope, residual,
  };
}

/** Nodes and initializers of a graph under construction; parameters are taken by name and counted. */
class GraphBuilder {
  readonly nodes: Record<string, unknown>[] = [];
  readonly initializers: Record<string, unknown>[] = [];
  private readonly byName: Map<string, Parameter>;
  private readonly used = new Set<string>();
  private count = 0;

  constructor(params: Parameter[], private readonly dims: 2 | 3) {
    this.byName = new Map(params.map((p) => [p.name, p]));
  }

  /** A parameter as an initializer (2D kernels `[o, i, 1, ky, kx]` become `[o, i, ky, kx]`). */
  param(name: string): string {
    const p = this.byName.get(name);
    if (!p) throw new NnunetError(`export-onnx: the network has no parameter ${name}`, { hint: 'the weights do not match the architecture in plans.json' });
    const shape = this.dims === 2 && p.shape.length === 5 && p.shape[2] === 1 ? [p.shape[0]!, p.shape[1]!, p.shape[3]!, p.shape[4]!] : p.shape;
    this.used.add(name);
    return this.constant(name, shape, p.value);
  }

  constant(name: string, shape: number[], values: Float32Array): string {
    const bytes = new Uint8Array(values.length * 4); // raw_data: little-endian float32 (onnx.proto)
    const dv = new DataView(bytes.buffer);
    for (let i = 0; i < values.length; i++) dv.setFloat32(4 * i, values[i]!, true);
    this.initializers.push({ name, dims: shape, dataType: ONNX_FLOAT, rawData: bytes });
    return name;
  }

  node(op: string, inputs: string[], attrs: Attr[] = [], out?: string): string {
    const output = out ?? `${op.toLowerCase()}_${this.count++}`;
    this.nodes.push({ opType: op, name: output, input: inputs, output: [output], attribute: attrs });
    return output;
  }

  /** Parameters never used (the deep-supervision heads of lower resolutions are expected here). */
  unused(): string[] {
    return [...this.byName.keys()].filter((n) => !this.used.has(n));
  }
}

/**
 * `ConvDropoutNormReLU` of dynamic_network_architectures: Conv (padding `(k - 1) // 2`, bias per plans) ->
 * InstanceNormalization (affine, eps) -> LeakyRelu (absent for the second conv of a residual block and projections).
 */
function convNormAct(g: GraphBuilder, a: Arch, prefix: string, x: string, cout: number, kernel: number[], stride: number[], act: boolean, bias = a.convBias): string {
  const inputs = [x, g.param(`${prefix}.conv.weight`), ...(bias ? [g.param(`${prefix}.conv.bias`)] : [])];
  const pads = kernel.map((k) => (k - 1) >> 1);
  let h = g.node('Conv', inputs, [ints('kernel_shape', kernel), ints('strides', stride), ints('pads', [...pads, ...pads]), ints('dilations', kernel.map(() => 1))]);
  const scale = a.affine ? g.param(`${prefix}.norm.weight`) : g.constant(`${prefix}.norm.ones`, [cout], new Float32Array(cout).fill(1));
  const shift = a.affine ? g.param(`${prefix}.norm.bias`) : g.constant(`${prefix}.norm.zeros`, [cout], new Float32Array(cout));
  h = g.node('InstanceNormalization', [h, scale, shift], [float('epsilon', a.eps)]);
  return act ? g.node('LeakyRelu', [h], [float('alpha', a.slope)]) : h;
}

/** `BasicBlockD`: conv1 (stride) -> conv2 (no nonlin) + skip (AveragePool kernel = stride, 1x1 projection when channels change), then the nonlinearity. */
function basicBlockD(g: GraphBuilder, a: Arch, prefix: string, x: string, cin: number, cout: number, kernel: number[], stride: number[]): string {
  const main = convNormAct(g, a, `${prefix}.conv2`, convNormAct(g, a, `${prefix}.conv1`, x, cout, kernel, stride, true), cout, kernel, kernel.map(() => 1), false);
  const strided = stride.some((s) => s !== 1);
  let skip = strided ? g.node('AveragePool', [x], [ints('kernel_shape', stride), ints('strides', stride)]) : x;
  if (cin !== cout) skip = convNormAct(g, a, `${prefix}.skip.${strided ? 1 : 0}`, skip, cout, kernel.map(() => 1), kernel.map(() => 1), false, false);
  return g.node('LeakyRelu', [g.node('Add', [main, skip])], [float('alpha', a.slope)]);
}

/** The encoder's stage outputs (the skips), PlainConvEncoder or ResidualEncoder. */
function encoder(g: GraphBuilder, a: Arch, x: string): string[] {
  const skips: string[] = [];
  let h = x;
  const one = a.kernels[0]!.map(() => 1);
  if (a.residual) h = convNormAct(g, a, 'encoder.stem.convs.0', h, a.features[0]!, a.kernels[0]!, one, true);
  for (let s = 0; s < a.n; s++) {
    for (let j = 0; j < a.perStage[s]!; j++) {
      const stride = j === 0 ? a.strides[s]! : one;
      if (a.residual) h = basicBlockD(g, a, `encoder.stages.${s}.blocks.${j}`, h, j === 0 ? a.features[Math.max(0, s - 1)]! : a.features[s]!, a.features[s]!, a.kernels[s]!, stride);
      else h = convNormAct(g, a, `encoder.stages.${s}.0.convs.${j}`, h, a.features[s]!, a.kernels[s]!, stride, true);
    }
    skips.push(h);
  }
  return skips;
}

/** `UNetDecoder` without deep supervision: transposed conv (kernel = stride), concat with the skip, conv blocks; the last stage's 1x1 seg layer. */
function decoder(g: GraphBuilder, a: Arch, skips: string[]): string {
  let h = skips[a.n - 1]!;
  const one = a.kernels[0]!.map(() => 1);
  for (let s = 0; s < a.n - 1; s++) {
    const st = a.strides[a.n - 1 - s]!;
    const up = g.node('ConvTranspose', [h, g.param(`decoder.transpconvs.${s}.weight`), ...(a.convBias ? [g.param(`decoder.transpconvs.${s}.bias`)] : [])], [ints('kernel_shape', st), ints('strides', st)]);
    h = g.node('Concat', [up, skips[a.n - 2 - s]!], [int('axis', 1)]);
    for (let j = 0; j < a.decoder[s]!; j++) h = convNormAct(g, a, `decoder.stages.${s}.convs.${j}`, h, a.features[a.n - 2 - s]!, a.kernels[a.n - 2 - s]!, one, true);
  }
  const last = a.n - 2;
  return g.node('Conv', [h, g.param(`decoder.seg_layers.${last}.weight`), g.param(`decoder.seg_layers.${last}.bias`)], [ints('kernel_shape', one), ints('strides', one)], 'logits');
}

function tensorValue(name: string, dims: (number | string)[]): Record<string, unknown> {
  const dim = dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d }));
  return { name, type: { tensorType: { elemType: ONNX_FLOAT, shape: { dim } } } };
}

/**
 * The network of an nnU-Net configuration as an ONNX model (opset 17, IR 8): input `input` float32
 * `[batch, channels, z, y, x]` (2D: `[batch, channels, y, x]`) with dynamic batch and spatial axes, output `logits`
 * `[batch, classes, ...]` at full resolution (deep supervision off, as nnU-Net predicts). Built from the plans'
 * architecture exactly as dynamic_network_architectures builds PlainConvUNet / ResidualEncoderUNet
 * (Conv-InstanceNormalization-LeakyRelu blocks, BasicBlockD with AveragePool shortcut, ConvTranspose + Concat
 * decoder); every spatial size must be divisible by the product of the strides, as for the PyTorch network.
 * Preprocessing, sliding window and softmax are not part of the graph.
 * @throws NnunetError for another network class, norm or nonlinearity, or parameters that do not match the
 *   architecture (a missing one, or ones the graph does not use)
 */
export function buildOnnxModel(net: OnnxNetworkInput): Uint8Array {
  const a = readArch(net.architecture, net.dims);
  const g = new GraphBuilder(net.parameters, net.dims);
  const logits = decoder(g, a, encoder(g, a, 'input'));
  const extra = g.unused().filter((n) => !/^decoder\.seg_layers\.\d+\./.test(n));
  if (extra.length) throw new NnunetError(`export-onnx: parameters the architecture does not use: ${extra.slice(0, 8).join(', ')}${extra.length > 8 ? ', ...' : ''}`, { hint: 'the weights do not match the architecture in plans.json' });
  const spatial = net.dims === 3 ? ['z', 'y', 'x'] : ['y', 'x'];
  return encodeOnnxModel({
    irVersion: IR_VERSION,
    opsetImport: [{ domain: '', version: ONNX_OPSET }],
    producerName: 'nnunet-ts',
    producerVersion: '0.1.0',
    docString: `${net.architecture.network_class_name} (nnU-Net), logits at full resolution; inputs preprocessed as the plans say`,
    metadataProps: Object.entries(net.metadata ?? {}).map(([key, value]) => ({ key, value })),
    graph: {
      name: net.architecture.network_class_name.slice(net.architecture.network_class_name.lastIndexOf('.') + 1),
      node: g.nodes,
      initializer: g.initializers,
      input: [tensorValue('input', ['batch', net.inputChannels, ...spatial])],
      output: [tensorValue(logits, ['batch', net.numClasses, ...spatial])],
    },
  });
}

/** Options of {@link exportOnnxModel}. */
export interface ExportOnnxOptions {
  /** The fold whose network is exported (default: the first trained fold). */
  fold?: number | 'all';
  /** final (default), best, latest, or nnU-Net's `checkpoint_best.pth` style name. */
  checkpoint?: string;
}

/**
 * Write the network of one fold of a model folder (ours or an nnU-Net v2 results folder) as an ONNX file
 * (see {@link buildOnnxModel}), atomically. Metadata props say what the graph expects: configuration, plans name,
 * fold, patch size, spacing, normalisation schemes, mirror axes, and that softmax/sigmoid is not applied.
 * @returns the fold exported
 * @throws DataError / NnunetError from loading the model folder, or for a network the exporter does not support
 */
export async function exportOnnxModel(modelDir: string, outFile: string, registry: Registry, backend: ComputeBackend | DeviceBackend, opts: ExportOnnxOptions = {}): Promise<number | 'all'> {
  const m = await loadTrainedModel(modelDir, opts.fold === undefined ? undefined : [opts.fold], registry, backend, { checkpoint: opts.checkpoint });
  const fold = m.folds[0]!;
  if (!m.config.architecture) throw new NnunetError(`configuration '${m.configuration}' has no architecture block`, { file: modelDir });
  const bytes = buildOnnxModel({
    architecture: m.config.architecture, dims: m.dims, inputChannels: m.inputChannels, numClasses: m.numClasses, parameters: m.networks[0]!.parameters,
    metadata: {
      configuration: m.configuration, plans_name: String(m.plans.plans_name ?? ''), fold: String(fold), patch_size: JSON.stringify(m.patchSize),
      spacing: JSON.stringify(m.config.spacing ?? null), normalization_schemes: JSON.stringify(m.config.normalization_schemes ?? null),
      inference_allowed_mirroring_axes: JSON.stringify(m.mirrorAxes), output: 'logits (apply softmax, or sigmoid per region, yourself)',
    },
  });
  mkdirSync(dirname(outFile), { recursive: true });
  writeFileAtomicSync(outFile, bytes);
  return fold;
}
