export * from './errors.js';
export * from './random-state.js';
