export * from './metrics.js';
export * from './summary.js';
