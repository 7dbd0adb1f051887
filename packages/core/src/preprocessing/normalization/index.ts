export * from './stats.js';
export * from './zscore.js';
export * from './ct.js';
export * from './simple.js';
export * from './scheme.js';
