export * from './shape.js';
export * from './spline.js';
export { resampleChannel, prefilterAxis0 } from './volume.js';
export { resampleSegmentation, uniqueLabels } from './seg.js';
export * from './default-resampler.js';
export { allocFloat32, isShared, PARALLEL_MAX_VOXELS, PARALLEL_MIN_VOXELS } from './pool.js';
