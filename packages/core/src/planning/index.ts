/** Experiment planning (RULES.md §4-§11, §21): planners, topology / memory rules, plans files. */
export * from './decisions.js';
export { getPoolAndConvProps, getPoolAndConvPropsV1, getPoolAndConvPropsPoolLate, v1PoolKernels, type Topology } from './topology.js';
export { computeVramEstimate, computeVramEstimateV1, type VramArch } from './vram.js';
export * from './planner-v2.js';
export * from './planner-v1.js';
export { registerPlanners, allPlanners } from './register.js';
export * from './plans-io.js';
export * from './plans-file.js';
export * from './load-plans.js';
export * from './v1-plans.js';
export * from './architecture.js';
