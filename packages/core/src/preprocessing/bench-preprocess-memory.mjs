// Peak-memory check of preprocessCase on a 512x512x400 CT-like case (task: within 4x its float32 size).
// Build first (npx tsc -p packages/core/tsconfig.json --outDir /tmp/nnts-core), then run one scenario per process:
//   node packages/core/src/preprocessing/bench-preprocess-memory.mjs /tmp/nnts-core [resample|same] [consume]
// Peak = VmHWM (peak resident set) of this process from /proc/self/status, which includes the input arrays the caller
// holds (image float32 + label int16), Node's own ~50 MB, and everything preprocessCase allocates.
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const root = resolve(process.argv[2] ?? join(import.meta.dirname, '../../dist'));
const mode = process.argv[3] ?? 'resample';
const consume = process.argv[4] === 'consume';
const core = await import(pathToFileURL(join(root, 'index.js')).href);
const mb = () => Math.round(Number(/VmHWM:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))[1]) / 1024);
const rss = () => Math.round(process.memoryUsage().rss / 2 ** 20);

const Z = 400, Y = 512, X = 512;
const n = Z * Y * X;
const startMb = rss();
const image = new Float32Array(n).fill(-1024);
const seg = new Int16Array(n);
for (let z = 0, i = 0; z < Z; z++) for (let y = 0; y < Y; y++) for (let x = 0; x < X; x++, i++) {
  const r = ((y - 256) / 200) ** 2 + ((x - 256) / 230) ** 2;
  if (r < 1) image[i] = 40 + ((i * 2654435761) % 61) - 30;
  if (r < 0.05 && z > 150 && z < 250) { seg[i] = 1; image[i] += 60; }
}
const inputMb = rss();
const registry = new core.Registry();
core.registerPreprocessingDefaults(registry);
const spacing = mode === 'same' ? [1.25, 0.7, 0.7] : [1.0, 0.8, 0.8];
const plans = {
  dataset_name: 'bench', plans_name: 'nnUNetPlans', original_median_spacing_after_transp: [1.25, 0.7, 0.7],
  original_median_shape_after_transp: [Z, Y, X], image_reader_writer: 'x', transpose_forward: [0, 1, 2],
  transpose_backward: [0, 1, 2], experiment_planner_used: 'x', label_manager: 'LabelManager',
  foreground_intensity_properties_per_channel: { '0': { mean: 40, std: 20, median: 40, min: -100, max: 200,
    percentile_00_5: -20, percentile_99_5: 120 } },
  configurations: { '3d_fullres': { spacing, normalization_schemes: ['CTNormalization'], use_mask_for_norm: [false],
    resampling_fn_data_kwargs: { order: 3, order_z: 0, force_separate_z: null },
    resampling_fn_seg_kwargs: { order: 1, order_z: 0, force_separate_z: null } } },
};
const t = Date.now();
const c0 = process.cpuUsage();
const res = core.preprocessCase({ image, shape: [1, Z, Y, X], spacing: [1.25, 0.7, 0.7], seg }, plans, '3d_fullres',
  registry, { consumeInput: consume, labels: [1] });
const f32Mb = (n * 4) / 2 ** 20;
console.log(JSON.stringify({
  bench: 'preprocessCase 512x512x400 CT', mode, consumeInput: consume, out_shape: res.shape, seconds: (Date.now() - t) / 1000,
  cpu_seconds: (() => { const c = process.cpuUsage(c0); return (c.user + c.system) / 1e6; })(),
  float32_size_mb: f32Mb, node_baseline_mb: startMb, rss_after_inputs_mb: inputMb, peak_rss_mb: mb(),
  peak_over_float32: +(mb() / f32Mb).toFixed(2), peak_minus_baseline_over_float32: +((mb() - startMb) / f32Mb).toFixed(2),
}));
