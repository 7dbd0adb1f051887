import type { AugmentationOptions, Rng, Sample, Transform } from '../contracts/augmentation.js';
import type { CascadeTransforms } from './cascade.js';
import { assembleBatch, type PatchLoader, type PatchLoaderOptions } from './data-loader.js';
import { createRng, deriveSeed } from './rng.js';
import type { HostBatch } from './train-step.js';

/** Which batch: training (augmented) or validation, and its place in the run. */
export interface BatchRequest {
  phase: 'train' | 'val';
  /** 0-based epoch. */
  epoch: number;
  /** 0-based iteration within the epoch's phase. */
  iteration: number;
}

/**
 * The seed of one batch: a hash of the phase's base seed, the epoch and the iteration. Every batch draws its cases,
 * windows and augmentation parameters from its own generator seeded with it, so a batch does not depend on which
 * thread or worker makes it, on how many workers there are, or on whether the run was resumed.
 */
export function batchSeed(base: number, epoch: number, iteration: number): number {
  return deriveSeed(deriveSeed(base, epoch), iteration);
}

/** What making a batch needs (a fold's `TrainingContext` has all of it). */
export interface BatchEnv {
  trainLoader: PatchLoader;
  valLoader: PatchLoader | null;
  transforms: Transform[];
  cascade: CascadeTransforms | null;
  /** Patch `[z, y, x]` (2d configurations: `[1, y, x]`). */
  patch3: number[];
  /** Base seeds of the training and validation batches (`batchSeed`). */
  batchSeeds: { train: number; val: number };
}

/**
 * One batch as nnU-Net's data loader and augmenter make it: cases and windows (`PatchLoader.nextBatch`), then, for
 * training batches, the augmentation transforms per sample; stacked into `[n, c, z, y, x]` with labels
 * `[n, 1, z, y, x]`. All randomness comes from the batch's own generator (`batchSeed`).
 * @throws Error when a validation batch is asked for without a validation loader.
 */
export async function makeBatch(env: BatchEnv, r: BatchRequest, augment: (s: Sample, rng: Rng) => Sample, validation: (s: Sample) => Sample): Promise<HostBatch> {
  const train = r.phase === 'train';
  const loader = train ? env.trainLoader : env.valLoader;
  if (!loader) throw new Error('makeBatch: validation batch requested but the fold has no validation cases');
  const rng = createRng(batchSeed(train ? env.batchSeeds.train : env.batchSeeds.val, r.epoch, r.iteration));
  const { samples } = await loader.nextBatch(rng);
  const b = assembleBatch(samples.map((s) => (train ? augment(s, rng) : validation(s))));
  return { x: { data: b.data, shape: b.shape }, seg: b.seg, segShape: b.segShape };
}

/**
 * Everything a data-loading worker needs to make the same batches as the training thread (structured-clonable):
 * the preprocessed cache, the case ids and loader options of both phases, the augmentation plugin (by name, built
 * from `module` in the worker), the patch and the base seeds.
 */
export interface BatchWorkerSetup {
  preprocessedDir: string;
  /** Bytes of cases each worker keeps in memory. */
  cacheBytes: number;
  train: { ids: string[]; loader: PatchLoaderOptions };
  val: { ids: string[]; loader: PatchLoaderOptions } | null;
  augmentation: { module: string; name: string; options: AugmentationOptions };
  patch3: number[];
  batchSeeds: { train: number; val: number };
}

/**
 * A batch in one transferable buffer: an Int32 header `[xRank, ...xShape, segRank, ...segShape]` (16 slots), the
 * float32 image, then the int16 labels. Moves between threads without a copy.
 */
export function packBatch(b: HostBatch): ArrayBuffer {
  const head = new Int32Array(16);
  head.set([b.x.shape.length, ...b.x.shape]);
  head.set([b.segShape.length, ...b.segShape], 1 + b.x.shape.length);
  const buf = new ArrayBuffer(64 + b.x.data.byteLength + b.seg.byteLength);
  new Int32Array(buf, 0, 16).set(head);
  new Float32Array(buf, 64, b.x.data.length).set(b.x.data);
  new Int16Array(buf, 64 + b.x.data.byteLength, b.seg.length).set(b.seg);
  return buf;
}

/** Inverse of {@link packBatch} (views on `buf`, no copy). */
export function unpackBatch(buf: ArrayBuffer): HostBatch {
  const head = new Int32Array(buf, 0, 16);
  const xr = head[0]!;
  const shape = Array.from(head.subarray(1, 1 + xr));
  const sr = head[1 + xr]!;
  const segShape = Array.from(head.subarray(2 + xr, 2 + xr + sr));
  const nx = shape.reduce((a, v) => a * v, 1);
  const data = new Float32Array(buf, 64, nx);
  const seg = new Int16Array(buf, 64 + nx * 4, segShape.reduce((a, v) => a * v, 1));
  return { x: { data, shape }, seg, segShape };
}
