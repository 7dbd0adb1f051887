/**
 * Contract suite of the `network` kind, exported as `@nnunet-ts/core/testing`: what the trainer, the sliding window
 * and the checkpoints rely on of any network plugin, checked on a tiny architecture the caller gives (the
 * architecture block is the plugin's own format; the suite reads only `arch_kwargs.strides`). Exact layer-by-layer
 * agreement with nnU-Net is the business of each network's own tests.
 */
import type { DeviceBackend } from '../contracts/device.js';
import type { Network, NetworkFactory } from '../contracts/network.js';
import type { ArchitectureSpec } from '../contracts/plans.js';
import { loadParameters, saveParameters } from '../nn/checkpoint.js';
import { InitRng } from '../nn/rng.js';

/** Options of `describeNetworkContract`. */
export interface NetworkContractOptions {
  /** The device the networks are built on (any backend's `createDevice()`, or a `HostDeviceBackend`). */
  device: DeviceBackend;
  /**
   * A tiny architecture block the factory accepts, with `arch_kwargs.strides` per stage (nnU-Net's format). The
   * gradient check uses central differences: choose a nonlinearity without kinks at the step's scale (nnU-Net's
   * LeakyReLU with `negative_slope: 1` keeps every layer, skip and head of the wiring and removes the kinks).
   */
  architecture: ArchitectureSpec;
  /** Image channels (default 2). */
  inputChannels?: number;
  /** Classes including background (default 3). */
  numClasses?: number;
  /** Channels the network's input has for `inputChannels` image channels (cascade: `+ numClasses - 1`); default identity. */
  networkInputChannels?: (inputChannels: number, numClasses: number) => number;
  /** Spatial input shape, `[z, y, x]` (2D networks: `[y, x]`); default twice the product of the strides per axis. */
  inputShape?: number[];
  /** Expected number of parameter values (e.g. the PyTorch module's `sum(p.numel())` for this architecture). */
  parameterCount?: number;
  /**
   * `he` (default): nnU-Net's `InitWeights_He(1e-2)` (RULES.md §7): weights of rank >= 3 normal with std
   * `sqrt(2 / (1 + 1e-4) / fan_in)`, biases 0, rank-1 scales constant (norm weight 1, or 0 for a zero-initialised
   * last norm of a residual block). `any`: parameters only finite.
   */
  init?: 'he' | 'any';
  /** Largest relative error of a directional finite difference per parameter tensor (default 1e-2). */
  gradientTolerance?: number;
  /** Batch size of the test input (default 2). */
  batchSize?: number;
}

interface Host {
  data: Float32Array;
  shape: number[];
}

const prod = (a: readonly number[]) => a.reduce((x, y) => x * y, 1);

/** Strides per stage as `[z, y, x]` (2D: `[1, y, x]`); integer strides repeat over the axes. */
function stageStrides(arch: ArchitectureSpec, dims: 2 | 3): number[][] {
  const s = arch.arch_kwargs.strides as (number | number[])[];
  if (!Array.isArray(s) || !s.length) throw new Error('network contract: architecture.arch_kwargs.strides is required');
  return s.map((v) => {
    const a = Array.isArray(v) ? v : new Array<number>(dims).fill(v);
    return dims === 2 ? [1, ...a] : a;
  });
}

/** Expected `[z, y, x]` of each deep-supervision level: level i is the input over the strides of stages 0..i. */
export function deepSupervisionShapes(spatial: readonly number[], strides: readonly (readonly number[])[]): number[][] {
  const out: number[][] = [];
  const f = [1, 1, 1];
  for (let i = 0; i < strides.length - 1; i++) {
    strides[i]!.forEach((s, a) => (f[a]! *= s));
    out.push(spatial.map((v, a) => v / f[a]!));
  }
  return out;
}

function randomHost(shape: number[], seed: number): Host {
  const rng = new InitRng(seed);
  return { data: Float32Array.from({ length: prod(shape) }, () => rng.normal()), shape };
}

/** The setup shared by the checks: how to build a network, its input, and its forward/backward on host arrays. */
function harness(factory: NetworkFactory, o: NetworkContractOptions) {
  const dims = factory.dims;
  const strides = stageStrides(o.architecture, dims);
  const cIn = o.inputChannels ?? 2;
  const K = o.numClasses ?? 3;
  const netIn = (o.networkInputChannels ?? ((c) => c))(cIn, K);
  const spatial3 = o.inputShape ? (dims === 2 ? [1, ...o.inputShape] : [...o.inputShape]) : [0, 1, 2].map((a) => 2 * prod(strides.map((s) => s[a]!)));
  const n = o.batchSize ?? 2;
  const d = o.device;
  const build = (seed: number, deepSupervision = true, numClasses = K): Network =>
    factory.create({ architecture: o.architecture, inputChannels: cIn, numClasses, deepSupervision, device: d, seed });
  const x = randomHost([n, netIn, ...spatial3], 101);
  /** Forward on the device, outputs read back (float32). */
  const forward = async (net: Network, training = false): Promise<Host[]> => {
    d.beginScope();
    try {
      const ys = net.forward(d.upload(x.data, x.shape), training);
      return await Promise.all(ys.map(async (y) => ({ data: await d.read(y), shape: [...y.shape] })));
    } finally {
      d.endScope();
    }
  };
  /** Forward (training) + backward of `sum_l <r_l, outputs_l>`; host grads read back (`pullParameters`). */
  const backward = async (net: Network, rs: Host[], zero = true): Promise<void> => {
    if (zero) for (const p of net.parameters) d.fill(p.gradTensor!, 0);
    d.beginScope();
    try {
      net.forward(d.upload(x.data, x.shape), true);
      net.backward(rs.map((r) => d.upload(r.data, r.shape)));
    } finally {
      d.endScope();
    }
    await net.pullParameters();
  };
  const objective = async (net: Network, rs: Host[]): Promise<number> => {
    let s = 0;
    (await forward(net)).forEach((y, l) => y.data.forEach((v, i) => (s += v * rs[l]!.data[i]!)));
    return s;
  };
  return { dims, strides, spatial3, n, K, build, forward, backward, objective };
}

type Harness = ReturnType<typeof harness>;

/** Problems of parameter bookkeeping: unique names, consistent shapes, device tensors present. */
export function parameterProblems(net: Network): string[] {
  const out: string[] = [];
  const names = new Set<string>();
  for (const p of net.parameters) {
    if (!p.name || names.has(p.name)) out.push(`parameter name '${p.name}' empty or repeated`);
    names.add(p.name);
    const n = prod(p.shape);
    if (p.value.length !== n || p.grad.length !== n) out.push(`${p.name}: value ${p.value.length} / grad ${p.grad.length} values for shape [${p.shape}]`);
    if (!p.tensor || !p.gradTensor) out.push(`${p.name}: no device tensor or gradTensor`);
    else if (p.tensor.shape.join() !== p.shape.join() || p.gradTensor.shape.join() !== p.shape.join()) out.push(`${p.name}: device tensors are not [${p.shape}]`);
    if (!p.value.every(Number.isFinite)) out.push(`${p.name}: non-finite values`);
  }
  return out;
}

/**
 * Problems with nnU-Net's initialisation (`InitWeights_He(1e-2)`, RULES.md §7): biases 0, rank-1 scales constant,
 * weights of rank >= 3 with He's std (all such weights pooled within 15% or 4 standard errors, each tensor of
 * >= 100 values within a factor 1.5).
 */
export function heInitProblems(net: Network): string[] {
  const out: string[] = [];
  let sumZ2 = 0;
  let count = 0;
  for (const p of net.parameters) {
    if (p.shape.length === 1) {
      if (/bias$/.test(p.name) && p.value.some((v) => v !== 0)) out.push(`${p.name}: bias not initialised to 0`);
      if (!/bias$/.test(p.name) && p.value.some((v) => v !== p.value[0])) out.push(`${p.name}: rank-1 scale not constant`);
      continue;
    }
    if (p.shape.length < 3) continue;
    const std = Math.sqrt(2 / (1 + 1e-4) / prod(p.shape.slice(1)));
    let z2 = 0;
    for (const v of p.value) z2 += (v / std) ** 2;
    sumZ2 += z2;
    count += p.value.length;
    const ratio = Math.sqrt(z2 / p.value.length);
    if (p.value.length >= 100 && (ratio < 1 / 1.5 || ratio > 1.5)) out.push(`${p.name}: std ${(ratio * std).toPrecision(3)}, He's is ${std.toPrecision(3)}`);
  }
  if (!count) out.push('no weight of rank >= 3 (convolutions) to check');
  // the sample std of `count` normal values has a relative spread of 1 / sqrt(2 count): 4 of them, at least 15%
  else if (Math.abs(Math.sqrt(sumZ2 / count) - 1) > Math.max(0.15, 4 / Math.sqrt(2 * count))) out.push(`pooled weights: std ${Math.sqrt(sumZ2 / count).toFixed(3)} x He's`);
  return out;
}

async function checkShapes(h: Harness, expect: typeof import('vitest').expect): Promise<void> {
  const net = h.build(1, true);
  const levels = deepSupervisionShapes(h.spatial3, h.strides).map((s) => [h.n, h.K, ...s]);
  const on = await h.forward(net);
  expect(on.map((y) => y.shape)).toEqual(levels);
  for (const y of on) expect(y.data.every(Number.isFinite)).toBe(true);
  net.setDeepSupervision(false);
  const off = await h.forward(net);
  expect(off.map((y) => y.shape)).toEqual([levels[0]]);
  expect(off[0]!.data).toEqual(on[0]!.data);
  expect((await h.forward(h.build(1, false))).map((y) => y.shape)).toEqual([levels[0]]);
}

/**
 * Gradient problems of `factory`'s network on `o`'s architecture: per parameter tensor, the analytic directional
 * derivative `<grad, d>` (random normal `d`) against the central difference of `sum_l <r_l, outputs_l>` with step
 * 1e-3 (relative error over `o.gradientTolerance`, default 1e-2, beyond an absolute floor of 1e-3 x the largest),
 * and a second backward without zeroing that must double every gradient. Empty when the gradients are right.
 */
export async function networkGradientProblems(factory: NetworkFactory, o: NetworkContractOptions): Promise<string[]> {
  const h = harness(factory, o);
  const tol = o.gradientTolerance ?? 1e-2;
  const net = h.build(3, true);
  const outs = await h.forward(net);
  const rs = outs.map((y, l) => randomHost(y.shape, 200 + l));
  await h.backward(net, rs);
  const grads = net.parameters.map((p) => Float32Array.from(p.grad));
  const rng = new InitRng(17);
  const eps = 1e-3;
  const rows: { name: string; analytic: number; numeric: number }[] = [];
  for (const [k, p] of net.parameters.entries()) {
    const dir = Float32Array.from(p.value, () => rng.normal());
    const v0 = Float32Array.from(p.value);
    const at = async (t: number) => {
      p.value.set(v0.map((v, i) => v + t * dir[i]!));
      net.pushParameters();
      return h.objective(net, rs);
    };
    const numeric = ((await at(eps)) - (await at(-eps))) / (2 * eps);
    p.value.set(v0);
    net.pushParameters();
    rows.push({ name: p.name, analytic: grads[k]!.reduce((s, g, i) => s + g * dir[i]!, 0), numeric });
  }
  const scale = Math.max(...rows.map((r) => Math.abs(r.analytic)));
  const out = rows
    .filter((r) => !(Math.abs(r.analytic - r.numeric) <= tol * Math.max(Math.abs(r.analytic), Math.abs(r.numeric)) + 1e-3 * scale))
    .map((r) => `${r.name}: directional derivative ${r.analytic.toPrecision(6)}, central difference ${r.numeric.toPrecision(6)}`);
  // backward adds into gradTensor (PyTorch's .grad semantics)
  await h.backward(net, rs, false);
  for (const [k, p] of net.parameters.entries()) {
    if (p.grad.some((g, i) => Math.abs(g - 2 * grads[k]![i]!) > 1e-5 * (1 + Math.abs(g)))) out.push(`${p.name}: a second backward did not add into the gradient`);
  }
  return out;
}

async function checkDeterminismAndRoundTrip(h: Harness, expect: typeof import('vitest').expect): Promise<void> {
  const a = h.build(7);
  const b = h.build(7);
  await a.pullParameters();
  await b.pullParameters();
  a.parameters.forEach((p, i) => expect(p.value).toEqual(b.parameters[i]!.value));
  const ya = await h.forward(a);
  expect(await h.forward(b)).toEqual(ya);
  const c = h.build(8);
  await c.pullParameters();
  expect(c.parameters.some((p, i) => p.shape.length >= 2 && p.value.some((v, j) => v !== a.parameters[i]!.value[j]))).toBe(true);
  // serialisation: saveParameters (the checkpoint's `parameters` blob) into a network of another seed
  const bytes = saveParameters(a.parameters);
  loadParameters(c.parameters, bytes);
  c.pushParameters();
  expect(await h.forward(c)).toEqual(ya);
  await c.pullParameters();
  expect(saveParameters(c.parameters)).toEqual(bytes);
  expect(() => loadParameters(h.build(7, true, h.K + 1).parameters, bytes)).toThrow(/checkpoint/);
}

/**
 * Network contract: outputs `[n, K, z, y, x]` per deep-supervision level (level i is the input over the strides of
 * stages 0..i; one level with deep supervision off, equal to level 0 with it on), consistent parameters (unique
 * names, value/grad/device tensors of the declared shape, the expected count) initialised as nnU-Net does, the
 * same parameters and outputs for the same seed and different ones for another, analytic gradients that match
 * central differences along a random direction in every parameter tensor and accumulate over backward calls, and
 * a `saveParameters` / `loadParameters` round trip that reproduces the outputs bit for bit.
 */
export async function describeNetworkContract(factory: NetworkFactory, o: NetworkContractOptions): Promise<void> {
  const { describe, it, expect } = await import('vitest');
  const h = harness(factory, o);
  describe(`Network contract: ${factory.name} (${factory.dims}D)`, () => {
    it('declares a name and dimensionality', () => {
      expect(factory.name.length).toBeGreaterThan(0);
      expect([2, 3]).toContain(factory.dims);
    });
    it('output shapes per deep-supervision level; deep supervision off gives level 0', () => checkShapes(h, expect));
    it('parameters: names, shapes, device tensors, count and initialisation', () => {
      const net = h.build(5);
      expect(parameterProblems(net)).toEqual([]);
      if (o.parameterCount !== undefined) expect(net.parameters.reduce((s, p) => s + p.value.length, 0)).toBe(o.parameterCount);
      if ((o.init ?? 'he') === 'he') expect(heInitProblems(net)).toEqual([]);
    });
    it('analytic gradients match central differences in every parameter tensor; backward accumulates', async () => expect(await networkGradientProblems(factory, o)).toEqual([]));
    it('same seed, same network; another seed, another; parameters round-trip through saveParameters', () => checkDeterminismAndRoundTrip(h, expect));
  });
}
