import type { DeviceTensor } from '../contracts/device.js';
import type { Network } from '../contracts/network.js';
import { NnunetError } from '../util/errors.js';
import { mirrorCombinations } from './flip.js';
import { accumulateFp16 } from './fp16-window.js';
import { computeGaussian } from './gaussian.js';
import { computeSteps, padAmounts } from './steps.js';

/** What the sliding window needs of a trained model (one network per fold, same configuration). */
export interface PredictorModel {
  /** One network per fold, deep supervision off. Input `[n, c, z, y, x]` (2D: z = 1), output[0] `[n, K, z, y, x]`. */
  networks: Network[];
  /** Patch `[z, y, x]` (3D) or `[y, x]` (2d configurations: applied slice by slice along axis 0). */
  patchSize: number[];
  /** Output channels K (label count including background). */
  numClasses: number;
  /** Mirror axes allowed for TTA, axes of the patch (`inference_allowed_mirroring_axes`). */
  mirrorAxes: number[];
}

/** Options of {@link predictPreprocessed}. */
export interface PredictOptions {
  /** Tile step as a fraction of the patch (RULES.md §18 default 0.5). */
  stepSize?: number;
  /** Mirroring test-time augmentation (default true). */
  mirror?: boolean;
  /** Override the model's mirror axes (patch axes); must be a subset for lateralized data (B35). */
  mirrorAxes?: number[];
  /** Tiles per forward call (default 4). Does not change the result. */
  tileBatch?: number;
  /** Gaussian weighting (default true); false weights all tile voxels equally. */
  useGaussian?: boolean;
  /** Called after each tile batch with tiles done and total. */
  onProgress?: (done: number, total: number) => void;
  /**
   * How tile predictions are accumulated: `float32` (ours, default) or `nnunet-fp16`, nnU-Net v2's float16 sums
   * (per fold, see `fp16-window.ts`), which reproduces nnU-Net's logits to its float16 rounding step.
   */
  accumulation?: 'float32' | 'nnunet-fp16';
}

/**
 * Sliding-window prediction in preprocessed space (RULES.md §18). `data` is `[c, z, y, x]` float32 (`shape`); it is
 * padded with 0 to at least the patch (centred, as `pad_nd_image`), tiled with {@link computeSteps} (fixed z, y, x
 * order: deterministic, B46), each tile predicted by every fold network under every mirroring combination, the
 * logits averaged over TTA and folds, weighted by the Gaussian importance map, accumulated, divided by the summed
 * weights and cropped back. 2d configurations tile `[1, py, px]` windows over every slice of axis 0 and batch
 * windows of several slices together. Returns logits `Float32Array [K, z, y, x]` (same spatial shape as the input).
 * Throws `NnunetError` when `data` does not match `shape`, a mirror axis is not an axis of the patch, or a network
 * output shape does not fit.
 */
export async function predictPreprocessed(
  model: PredictorModel | PredictorModel[],
  data: Float32Array,
  shape: number[],
  opts: PredictOptions = {},
): Promise<Float32Array> {
  const models = Array.isArray(model) ? model : [model];
  const m0 = models[0]!;
  const networks = models.flatMap((m) => m.networks);
  if (!networks.length) throw new NnunetError('no networks to predict with (no folds loaded)');
  const [C, Z, Y, X] = shape as [number, number, number, number];
  if (data.length !== C * Z * Y * X) throw new NnunetError(`data length ${data.length} does not match shape [${shape}]`);
  const is2d = m0.patchSize.length === 2;
  const patch = is2d ? [1, ...m0.patchSize] : [...m0.patchSize];
  const K = m0.numClasses;
  const pads = padAmounts([Z, Y, X], patch);
  const [Zp, Yp, Xp] = [Z + pads[0]![0] + pads[0]![1], Y + pads[1]![0] + pads[1]![1], X + pads[2]![0] + pads[2]![1]];
  const padded = padVolume(data, C, [Z, Y, X], pads);
  const steps = [computeSteps(Zp, patch[0]!, opts.stepSize), computeSteps(Yp, patch[1]!, opts.stepSize), computeSteps(Xp, patch[2]!, opts.stepSize)];
  const tiles: [number, number, number][] = [];
  for (const z of steps[0]!) for (const y of steps[1]!) for (const x of steps[2]!) tiles.push([z, y, x]);
  const tileN = patch[0]! * patch[1]! * patch[2]!;
  const gauss = opts.useGaussian === false ? new Float32Array(tileN).fill(1) : computeGaussian(m0.patchSize);
  const patchAxes = opts.mirror === false ? [] : (opts.mirrorAxes ?? m0.mirrorAxes);
  if (patchAxes.some((a) => !Number.isInteger(a) || a < 0 || a >= m0.patchSize.length)) {
    throw new NnunetError(`mirror axes [${patchAxes}] are not axes of the ${m0.patchSize.length}D patch`);
  }
  const axes = [...new Set(patchAxes)].map((a) => (is2d ? a + 1 : a));
  const combos = mirrorCombinations([...axes].sort((a, b) => a - b));
  const tb = Math.max(1, opts.tileBatch ?? 4);
  const grid: Grid = { C, K, padded: [Zp, Yp, Xp], patch: patch as [number, number, number] };
  const out = { size: [Z, Y, X], lo: pads.map((p) => p[0]) };
  if (opts.accumulation === 'nnunet-fp16') return accumulateFp16OnDevice(networks, combos, padded, gauss, tiles, grid, tb, out, opts.onProgress);
  return accumulateOnDevice(networks, combos, padded, gauss, tiles, grid, tb, out, opts.onProgress);
}

/** Sizes shared by the tile helpers: channels in/out, padded volume `[z, y, x]`, tile `[z, y, x]`. */
interface Grid {
  C: number;
  K: number;
  padded: [number, number, number];
  patch: [number, number, number];
}

/**
 * The sliding window on the networks' device: the padded image and the Gaussian go up once, tiles are cut on the
 * device (`crop`), predicted, and accumulated into a device accumulator (`accumulateTiles`); only the normalised,
 * cropped logits `[K, ...out.size]` come back.
 */
async function accumulateOnDevice(networks: Network[], combos: number[][], padded: Float32Array, gauss: Float32Array, tiles: [number, number, number][], g: Grid, tb: number, out: { size: number[]; lo: number[] }, onProgress?: (done: number, total: number) => void): Promise<Float32Array> {
  const dev = networks[0]!.device;
  if (networks.some((n) => n.device !== dev)) throw new NnunetError('all fold networks must live on one device');
  dev.beginScope();
  try {
    const img = dev.upload(padded, [1, g.C, ...g.padded]);
    const gaussT = dev.upload(gauss, g.patch);
    const acc = dev.zeros([g.K, ...g.padded]);
    const wsum = dev.zeros([1, ...g.padded]);
    for (let t0 = 0; t0 < tiles.length; t0 += tb) {
      const batch = tiles.slice(t0, t0 + tb);
      dev.beginScope();
      try {
        const sum = predictTiles(networks, combos, dev.crop(img, batch, g.patch), batch.length, g);
        dev.accumulateTiles(acc, wsum, sum, gaussT, batch, 1 / (networks.length * combos.length));
      } finally {
        dev.endScope();
      }
      onProgress?.(Math.min(t0 + tb, tiles.length), tiles.length);
    }
    return await dev.read(dev.normalizeAccumulator(acc, wsum, out.lo, out.size));
  } finally {
    dev.endScope();
  }
}

/**
 * nnU-Net's float16 accumulation (`fp16-window.ts`): tiles are cut and predicted on the networks' device (mirror
 * passes summed there in float32, in nnU-Net's order), each network's tile sums read back and accumulated on the host
 * in float16 steps; returns the cropped logits `[K, ...out.size]`.
 */
async function accumulateFp16OnDevice(networks: Network[], combos: number[][], padded: Float32Array, gauss: Float32Array, tiles: [number, number, number][], g: Grid, tb: number, out: { size: number[]; lo: number[] }, onProgress?: (done: number, total: number) => void): Promise<Float32Array> {
  const dev = networks[0]!.device;
  if (networks.some((n) => n.device !== dev)) throw new NnunetError('all fold networks must live on one device');
  dev.beginScope();
  try {
    const img = dev.upload(padded, [1, g.C, ...g.padded]);
    const logits = await accumulateFp16({
      networks, tiles, padded: g.padded, patch: g.patch, K: g.K, gauss, tileBatch: tb, nPasses: combos.length, onProgress,
      predict: async (net, batch) => {
        dev.beginScope();
        try {
          return await dev.read(predictTiles([net], combos, dev.crop(img, batch, g.patch), batch.length, g));
        } finally {
          dev.endScope();
        }
      },
    });
    return cropHost(logits, g, out.size, out.lo);
  } finally {
    dev.endScope();
  }
}

/** `[K, ...padded]` cropped to `size` (`[z, y, x]`) with the padding below `lo` cut away: `[K, ...size]`. */
function cropHost(a: Float32Array, g: Grid, size: number[], lo: number[]): Float32Array {
  const [Z, Y, X] = size as [number, number, number];
  const [Zp, Yp, Xp] = g.padded;
  const result = new Float32Array(g.K * Z * Y * X);
  for (let k = 0; k < g.K; k++)
    for (let z = 0; z < Z; z++)
      for (let y = 0; y < Y; y++) {
        const src = ((k * Zp + z + lo[0]!) * Yp + y + lo[1]!) * Xp + lo[2]!;
        result.set(a.subarray(src, src + X), ((k * Z + z) * Y + y) * X);
      }
  return result;
}

/** Sum (device tensor `[n, K, ...patch]`) of the logits of every network under every mirror combination, flipped back. */
function predictTiles(networks: Network[], combos: number[][], input: DeviceTensor, n: number, g: Grid): DeviceTensor {
  const dev = networks[0]!.device;
  const want = [n, g.K, ...g.patch].join(',');
  const sum = dev.zeros([n, g.K, ...g.patch]);
  for (const net of networks)
    for (const comb of combos) {
      dev.beginScope();
      try {
        const x = comb.length ? dev.flip(input, comb) : input;
        const y = net.forward(x, false)[0];
        if (!y || y.shape.join(',') !== want) throw new NnunetError(`network output shape [${y?.shape}] != expected [${want}]`);
        dev.axpy(1, comb.length ? dev.flip(y, comb) : y, sum);
      } finally {
        dev.endScope();
      }
    }
  return sum;
}

/** Constant-0 padding of `[C, z, y, x]` by `pads` (`[below, above]` per spatial axis). */
export function padVolume(data: Float32Array, C: number, size: number[], pads: [number, number][]): Float32Array {
  if (pads.every(([a, b]) => a === 0 && b === 0)) return data;
  const [Z, Y, X] = size as [number, number, number];
  const [Zp, Yp, Xp] = size.map((s, i) => s + pads[i]![0] + pads[i]![1]) as [number, number, number];
  const out = new Float32Array(C * Zp * Yp * Xp);
  for (let c = 0; c < C; c++)
    for (let z = 0; z < Z; z++)
      for (let y = 0; y < Y; y++) {
        const src = ((c * Z + z) * Y + y) * X;
        out.set(data.subarray(src, src + X), ((c * Zp + z + pads[0]![0]) * Yp + y + pads[1]![0]) * Xp + pads[2]![0]);
      }
  return out;
}
