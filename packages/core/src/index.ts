/**
 * @nnunet-ts/core: image model, plugin contracts and tokens, the registry, planners, preprocessing, the
 * training and inference machinery written against contracts, and the pipeline.
 * Side-effect free: nothing is registered until a package's `registerDefaults` runs.
 */
export * from './image/image.js';
export * from './image/reorient.js';
export * from './contracts/index.js';
export * from './registry/tokens.js';
export * from './registry/registry.js';
export * from './util/index.js';
export * from './dataset/index.js';
export * from './fingerprint/index.js';
export * from './planning/index.js';
export * from './preprocessing/index.js';
export * from './nn/index.js';
export * from './compute/index.js';
export * from './training/index.js';
export * from './inference/index.js';
export * from './evaluation/index.js';
export * from './postprocessing/index.js';
export * from './pipeline/index.js';
export * from './device/index.js';
export * from './interop/index.js';
export * from './costmodel/index.js';
export * from './probabilities/index.js';
