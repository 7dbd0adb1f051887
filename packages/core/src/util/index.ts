export * from './errors.js';
export * from './random-state.js';
export * from './atomic.js';
export * from './lock.js';
