/**
 * The page's inference engine, browser-safe (bundled with core's and io-nifti's `browser`
 * entries; no Node built-in). Read picked files, check them against the model, rebuild the model, segment a case,
 * encode the segmentation with the input's header.
 */
export { createWebRegistry } from './registry.js';
export { readImageFile, readImageFiles, gunzipCapped, PAGE_FORMATS, type InputFile, type PickedImage, type ReadImagesOptions } from './read-image.js';
export { caseFromImages, orderChannelFiles, type InputSpec } from './check-input.js';
export { readManifest, loadWebModel, type WebModel, type ModelFetch } from './model.js';
export { segmentCase, type SegmentOptions } from './segment.js';
export { selectWebBackend, WEB_BACKENDS, NETWORKS_ON_DEVICE, type WebBackend, type WebBackendName, type WebBackendOptions } from './backends.js';
export { encodeSegmentation, encodeSegmentationAs, gzipBytes, type SegmentationFormat } from './write-seg.js';
