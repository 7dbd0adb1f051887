/**
 * Neural-network building blocks with explicit forward and backward passes over a `ComputeBackend`
 * (NCDHW float32; 2D = z 1 with kz 1), the optimiser and schedule, checkpoints of parameters and the deep
 * supervision helpers (RULES.md §7, §15).
 */
export * from './rng.js';
export * from './reference-backend.js';
export * from './parameter.js';
export * from './module.js';
export * from './conv.js';
export * from './norm.js';
export * from './activation.js';
export * from './sgd.js';
export * from './checkpoint.js';
export * from './deep-supervision.js';
export * from './testing.js';
export * from './host.js';
