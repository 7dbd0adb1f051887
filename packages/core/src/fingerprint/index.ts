export * from './intensity.js';
export * from './extract.js';
