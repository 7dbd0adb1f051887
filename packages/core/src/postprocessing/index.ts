export * from './components.js';
export * from './plugins.js';
export * from './determine.js';
export * from './best.js';
export * from './ensemble.js';
export * from './check.js';
