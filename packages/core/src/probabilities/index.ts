/** nnU-Net's files for probabilities: `.npz` arrays (fflate zip of `.npy`, see `interop/npy`), the `.pkl` properties (a small pickle writer). */
export * from './npz.js';
export * from './pickle-writer.js';
export * from './properties-pkl.js';
export * from './properties-read.js';
