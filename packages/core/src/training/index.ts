export * from './rng.js';
export * from './mt19937.js';
export * from './splits.js';
export * from './da-settings.js';
