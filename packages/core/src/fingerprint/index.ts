export * from './intensity.js';
export * from './extract.js';
export * from './check.js';
