export * from './shape.js';
export * from './spline.js';
export { resampleChannel, runZRange, type ZJob } from './volume.js';
export { prefilterAxis0, type PlaneStack } from './zfilter.js';
export { resampleSegmentation, uniqueLabels } from './seg.js';
export * from './default-resampler.js';
export { allocFloat32, isShared, PARALLEL_MAX_VOXELS, PARALLEL_MIN_VOXELS } from './pool.js';
