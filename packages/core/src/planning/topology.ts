/**
 * Network topology rules: how many poolings per axis, the stride of every stage and the conv kernel sizes,
 * from a spacing and a patch size. All lists are in the (transposed) `[z, y, x]` / `[y, x]` order of the plans.
 */

/** Result of a topology rule. `strides[0]` is the stem stage (all ones) for the v2 rule. */
export interface Topology {
  /** Number of stride-2 stages per axis. */
  numPoolPerAxis: number[];
  /** Stride of every encoder stage, stage 0 first (v2 schema, `arch_kwargs.strides`). */
  strides: number[][];
  /** Conv kernel size of every stage, bottleneck last (`arch_kwargs.kernel_sizes`). */
  kernelSizes: number[][];
  /** The patch padded up to a multiple of `mustBeDivisibleBy` per axis (voxels). */
  patchSize: number[];
  /** `2 ** numPoolPerAxis` per axis. */
  mustBeDivisibleBy: number[];
}

/**
 * nnU-Net's `pad_shape`: round every axis UP to the next multiple of its divisor (an exact multiple stays).
 * RULES.md §6 last line.
 */
export function padShape(shape: readonly number[], divisor: readonly number[]): number[] {
  return shape.map((s, i) => {
    const d = divisor[i]!;
    return s % d === 0 ? s : s + d - (s % d);
  });
}

/**
 * v2 `get_pool_and_conv_props` (RULES.md §6): stage 0 never downsamples; an axis pools while it has >= 2*minFeatureMapSize
 * voxels and its spacing is within 2x of the finest poolable spacing; a single remaining axis needs
 * >= 3*minFeatureMapSize voxels; kernels become 3 once an axis is within 2x of the finest spacing and stay 3 (sticky);
 * the bottleneck gets an all-3 kernel. The patch is padded up to a multiple of 2**pools.
 * @param spacing mm per voxel, `[z, y, x]` (3D) or `[y, x]` (2D), transposed.
 * @param patchSize initial patch in voxels, same order.
 * @param minFeatureMapSize default 4 (`UNet_featuremap_min_edge_length`).
 * @param maxNumPool cap on poolings per axis, default 999999.
 */
export function getPoolAndConvProps(
  spacing: readonly number[],
  patchSize: readonly number[],
  minFeatureMapSize = 4,
  maxNumPool = 999999,
): Topology {
  const dim = spacing.length;
  const curSpacing = [...spacing];
  const curSize = [...patchSize];
  const strides: number[][] = [new Array<number>(dim).fill(1)];
  const kernelSizes: number[][] = [];
  const numPool = new Array<number>(dim).fill(0);
  const kernel = new Array<number>(dim).fill(1);
  for (;;) {
    let valid = range(dim).filter((i) => curSize[i]! >= 2 * minFeatureMapSize);
    if (valid.length < 1) break;
    const minValid = Math.min(...valid.map((i) => curSpacing[i]!));
    valid = valid.filter((i) => curSpacing[i]! / minValid < 2);
    valid = valid.filter((i) => numPool[i]! < maxNumPool);
    if (valid.length === 1 && !(curSize[valid[0]!]! >= 3 * minFeatureMapSize)) break;
    if (valid.length < 1) break;
    const minAll = Math.min(...curSpacing);
    for (let d = 0; d < dim; d++) {
      if (kernel[d] !== 3 && curSpacing[d]! / minAll < 2) kernel[d] = 3;
    }
    strides.push(poolAxes(valid, numPool, curSpacing, curSize));
    kernelSizes.push([...kernel]);
  }
  return finishTopology(numPool, strides, kernelSizes, patchSize);
}

/**
 * v1 `get_pool_and_conv_props` used by the v2.1 planners (RULES.md §6 v1 variant): no stem entry in the raw v1
 * output (this function prepends `[1,..]` to `strides` so the result is in the v2 schema; `v1PoolKernels()` strips it);
 * pool axes are those with `spacing / min(all spacings) < 2` and `size >= 2*minFeatureMapSize`; the kernel is 3 on the
 * largest group of axes whose spacings are mutually within 2x (recomputed per stage, not sticky); no single-axis rule.
 */
export function getPoolAndConvPropsV1(
  spacing: readonly number[],
  patchSize: readonly number[],
  minFeatureMapSize = 4,
  maxNumPool = 999,
): Topology {
  const dim = spacing.length;
  const curSpacing = [...spacing];
  const curSize = [...patchSize];
  const strides: number[][] = [new Array<number>(dim).fill(1)];
  const kernelSizes: number[][] = [];
  const numPool = new Array<number>(dim).fill(0);
  for (;;) {
    const minSpacing = Math.min(...curSpacing);
    let valid = range(dim).filter((i) => curSpacing[i]! / minSpacing < 2);
    let axes: number[] = [];
    for (let a = 0; a < dim; a++) {
      const my = curSpacing[a]!;
      const partners = range(dim).filter((i) => curSpacing[i]! / my < 2 && my / curSpacing[i]! < 2);
      if (partners.length > axes.length) axes = partners;
    }
    const kernel = range(dim).map((i) => (axes.includes(i) ? 3 : 1));
    valid = valid.filter((i) => curSize[i]! >= 2 * minFeatureMapSize);
    valid = valid.filter((i) => numPool[i]! < maxNumPool);
    if (valid.length === 0) break;
    strides.push(poolAxes(valid, numPool, curSpacing, curSize));
    kernelSizes.push(kernel);
  }
  return finishTopology(numPool, strides, kernelSizes, patchSize);
}

/**
 * The original (2018/2019) v1 rule `get_pool_and_conv_props_poolLateV2`: poolings per axis =
 * `floor(log2(size / minFeatureMapSize))` capped at `maxNumPool`; an axis pools in the LAST `n_axis` stages
 * ("pool late"); while some axis is still finer than half the coarsest spacing, the coarse axes (spacing > half the
 * coarsest) get kernel 1 and the fine ones 3, else all 3.
 * `strides` gets the stem `[1,..]` prepended (v2 schema).
 */
export function getPoolAndConvPropsPoolLate(
  spacing: readonly number[],
  patchSize: readonly number[],
  minFeatureMapSize = 4,
  maxNumPool = 999,
): Topology {
  const dim = spacing.length;
  const reach = Math.max(...spacing);
  const numPool = patchSize.map((s) => Math.min(Math.floor(Math.log(s / minFeatureMapSize) / Math.log(2)), maxNumPool));
  const netNumPool = Math.max(...numPool);
  const strides: number[][] = [new Array<number>(dim).fill(1)];
  const kernelSizes: number[][] = [];
  let cur = [...spacing];
  for (let p = 0; p < netNumPool; p++) {
    const reached = cur.map((s) => s / reach > 0.5);
    const pool = numPool.map((n) => (n + p >= netNumPool ? 2 : 1));
    const conv = reached.every(Boolean) ? new Array<number>(dim).fill(3) : reached.map((r) => (r ? 1 : 3));
    strides.push(pool);
    kernelSizes.push(conv);
    cur = cur.map((s, i) => s * pool[i]!);
  }
  return finishTopology(numPool, strides, kernelSizes, patchSize);
}

/** v1 plans store `pool_op_kernel_sizes` without the stem stage: drop `strides[0]`. */
export function v1PoolKernels(t: Topology): number[][] {
  return t.strides.slice(1);
}

/**
 * One pooling stage: stride 2 on the `valid` axes (1 elsewhere); updates the running pool counts, spacings (x2) and
 * sizes (ceil /2) in place and returns the stride (RULES.md §6).
 */
function poolAxes(valid: number[], numPool: number[], curSpacing: number[], curSize: number[]): number[] {
  const stride = new Array<number>(curSpacing.length).fill(1);
  for (const v of valid) {
    stride[v] = 2;
    numPool[v]! += 1;
    curSpacing[v]! *= 2;
    curSize[v] = Math.ceil(curSize[v]! / 2);
  }
  return stride;
}

/** Appends the 3x3(x3) bottleneck kernel and pads the patch to a multiple of `2^pools` per axis (RULES.md §6). */
function finishTopology(numPool: number[], strides: number[][], kernelSizes: number[][], patchSize: readonly number[]): Topology {
  kernelSizes.push(new Array<number>(numPool.length).fill(3));
  const mustBeDivisibleBy = numPool.map((n) => 2 ** n);
  return { numPoolPerAxis: numPool, strides, kernelSizes, patchSize: padShape(patchSize, mustBeDivisibleBy), mustBeDivisibleBy };
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}
