/**
 * @nnunet-ts/core for browsers and bundlers (the `browser` condition of the package's `.` export): the Node-free
 * part of core, from the same sources as the Node entry (`index.ts`). It holds what a page needs to run a trained
 * model: the image model, contracts, registry, plans lookup, label handling, preprocessing (crop, normalise,
 * resample), the cascade's previous-stage input (its segmentation on the case's grid as one-hot channels), the
 * networks' building blocks, the sliding window, export to the input grid and postprocessing.
 * Nothing here imports a Node built-in (the registry's tsyringe loader and the resampler's threads come through
 * the `#tsyringe-container` / `#resample-threads` import conditions); `@nnunet-ts/web`'s bundle build fails if
 * one does. Reading and writing files, training, planning from disk and the pipeline stay Node-only.
 */
export * from './image/image.js';
export * from './contracts/index.js';
export * from './registry/tokens.js';
export * from './registry/registry.js';
export * from './util/errors.js';
export * from './util/random-state.js';
export * from './dataset/label-manager.js';
export * from './dataset/geometry.js';
export * from './planning/plans-io.js';
export * from './preprocessing/types.js';
export * from './preprocessing/cropping/index.js';
export * from './preprocessing/normalization/index.js';
export * from './preprocessing/resampling/index.js';
export * from './preprocessing/transpose.js';
export * from './preprocessing/resample-config.js';
export * from './preprocessing/preprocess-case.js';
export * from './preprocessing/export-prediction.js';
export * from './preprocessing/register.js';
export * from './preprocessing/previous-stage.js';
export * from './training/cascade.js';
export * from './nn/index.js';
export * from './compute/select.js';
export * from './compute/reference.js';
export * from './device/index.js';
export * from './inference/steps.js';
export * from './inference/gaussian.js';
export * from './inference/flip.js';
export * from './inference/sliding-window.js';
export * from './postprocessing/components.js';
export * from './postprocessing/plugins.js';
export * from './postprocessing/determine.js';
