export * from './pickle.js';
export * from './torch-checkpoint.js';
export * from './nnunet-checkpoint.js';
export * from './nnunet-model.js';
export * from "./npy.js";
export * from './postprocessing-pkl.js';
export * from './pickle-write.js';
export * from './nnunet-export.js';

export * from './onnx-proto.js';
export * from './onnx-export.js';
