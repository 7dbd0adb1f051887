// Sliding-window prediction of one Hippocampus-sized case (1 x 36 x 50 x 35, patch 40x56x40, step 0.5) with and
// without mirroring TTA, untrained weights. Needs core's predictPreprocessed and net-unet3d in dist.
// HOOK: switch to a trained model (loadTrainedModel) and a real preprocessed case once the pipeline commits them.
import { rand, time, round, tryImport } from '../lib.mjs';

export const name = 'sliding-window';

export async function run(ctx) {
  const core = await tryImport('@nnunet-ts/core', 'predictPreprocessed');
  const net3d = await tryImport('@nnunet-ts/net-unet3d', 'buildPlainConvUNet', 'archSpec');
  if (!core.mod || !net3d.mod) return [{ case: name, skipped: core.why ?? net3d.why }];
  const backend = await ctx.getBackend(ctx.mainBackend);
  const arch = net3d.mod.archSpec([32, 64, 128, 256], [[3, 3, 3], [3, 3, 3], [3, 3, 3], [3, 3, 3]], [[1, 1, 1], [2, 2, 2], [2, 2, 2], [2, 2, 2]]);
  const net = net3d.mod.buildPlainConvUNet({ architecture: arch, inputChannels: 1, numClasses: 3, deepSupervision: false, backend, seed: 0 });
  const model = { networks: [net], patchSize: [40, 56, 40], numClasses: 3, mirrorAxes: [0, 1, 2] };
  const shape = [1, 36, 50, 35];
  const data = rand(shape.reduce((a, b) => a * b, 1), 7);
  const out = [];
  for (const mirror of [false, true]) {
    const t = await time(() => core.mod.predictPreprocessed(model, data, shape, { mirror, stepSize: 0.5 }), { reps: 1, warmup: 0 });
    out.push({ case: `${name}${mirror ? '-mirror' : ''}`, backend: ctx.mainBackend, shape, seconds: round(t.median, 3) });
    ctx.log(`sliding window mirror=${mirror}: ${round(t.median, 2)} s`);
  }
  return out;
}
