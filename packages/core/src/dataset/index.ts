export * from './types.js';
export * from './dataset-json.js';
export * from './files.js';
export * from './geometry.js';
export * from './load.js';
export * from './read.js';
export * from './validate.js';
export * from './convert.js';
