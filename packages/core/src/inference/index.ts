export * from './steps.js';
export * from './gaussian.js';
export * from './flip.js';
export * from './sliding-window.js';
export * from './fold-network.js';
export * from './model.js';
export * from './predict-validation.js';
