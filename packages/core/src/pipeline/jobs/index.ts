export * from './graph.js';
export * from './execute.js';
export * from './in-process.js';
export * from './slurm.js';
export * from './queue.js';
