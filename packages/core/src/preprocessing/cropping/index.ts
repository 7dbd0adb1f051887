export * from './crop.js';
export * from './fill-holes.js';
