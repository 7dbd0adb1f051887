/** nnU-Net's files for probabilities: `.npz` arrays (fflate zip of `.npy`), the `.pkl` properties (a small pickle writer). */
export * from './npy.js';
export * from './npz.js';
export * from './pickle-writer.js';
export * from './properties-pkl.js';
