// Resampling a 120x256x256 CT-like volume to 150x332x332 (third-order spline, data), as preprocessing does.
// Needs core's defaultResampler in dist. Runs once (it is single-threaded JavaScript).
import { rand, time, round, tryImport } from '../lib.mjs';

const SKIMAGE_SECONDS = 6;

export const name = 'resampling-120x256x256-to-150x332x332';

export async function run(ctx) {
  const core = await tryImport('@nnunet-ts/core', 'defaultResampler');
  if (!core.mod) return [{ case: name, skipped: core.why }];
  const r = core.mod.defaultResampler();
  const shape = [1, 120, 256, 256];
  const data = rand(shape.reduce((a, b) => a * b, 1), 8);
  const t = await time(() => r.resampleData(data, shape, [150, 332, 332], { order: 3, orderZ: 0, separateZAxis: null }), { reps: 1, warmup: 0 });
  ctx.log(`resampling: ${round(t.median, 2)} s`);
  // scikit-image's order-3 resize of the same volume (nnU-Net's resample_data_or_seg) takes ~6 s on one core
  return [{ case: name, order: 3, from: [120, 256, 256], to: [150, 332, 332], dtype: 'float32', seconds: round(t.median, 2), cpuSeconds: round(t.cpu, 2), skimageSeconds: SKIMAGE_SECONDS, ratioToSkimage: round(t.median / SKIMAGE_SECONDS, 3), speedupVsSkimage: round(SKIMAGE_SECONDS / t.median, 1) }];
}
