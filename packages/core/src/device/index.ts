/** Device-contract implementations on host memory (`cpu-js`, the base of `cpu-native` and the tfjs adapters). */
export * from './host-backend.js';
export * from './host-tensor.js';
export { softmaxDcCeLevel, sigmoidDcBceLevel, type LevelOptions, type LevelLoss } from './host-loss.js';
