export * from './network-cost.js';
export * from './calibrate.js';
export * from './estimate.js';
export * from './time-budget.js';
export * from './host-calibrate.js';
