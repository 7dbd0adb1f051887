/**
 * @nnunet-ts/web: nnunet-ts in the browser. `exportWeb` (Node; the CLI's `nnunet-ts export-web`) writes a static
 * site holding a trained model and the prebuilt app; the app (`src/app`, bundled by esbuild into `dist/site`)
 * runs the page's inference with the browser-safe engine (`src/engine`, bundled into the site only).
 */
export { exportWeb, defaultSiteDir, type ExportWebOptions, type ExportWebResult } from './export-web.js';
export { WEB_MODEL_FORMAT, WEB_MODEL_DIR, DEFAULT_MAX_VOXELS, type WebModelManifest, type WebModelWeights } from './model-format.js';
