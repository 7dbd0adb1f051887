// Sliding-window prediction of one real Hippocampus case (the first imagesTs case of
// examples/Task04_Hippocampus_subset, z-scored as its plan says; spacing 1 mm so no resampling) with the planned
// 3d_fullres network (patch 40x56x40, step 0.5), with and without mirroring TTA. Untrained weights: the cost
// does not depend on them. Needs core's predictPreprocessed, io-nifti and net-unet3d in dist.
import { time, round } from '../lib.mjs';
import { hippocampusPlan } from '../hippocampus.mjs';

export const name = 'sliding-window';

export async function run(ctx) {
  let p;
  try {
    p = await hippocampusPlan();
  } catch (e) {
    return [{ case: name, skipped: `${String(e.message).split('\n')[0]}; run npm run build` }];
  }
  const { core, registry, dataset } = p;
  const net3d = await import('@nnunet-ts/net-unet3d');
  const backend = await ctx.getBackend(ctx.mainBackend);
  const net = net3d.buildPlainConvUNet({ architecture: p.arch, inputChannels: 1, numClasses: p.numClasses, deepSupervision: false, device: core.resolveDevice({ backend }), seed: 0 });
  const model = { networks: [net], patchSize: p.cfg.patch_size, numClasses: p.numClasses, mirrorAxes: [0, 1, 2] };
  const tc = dataset.testCases?.[0] ?? dataset.cases[0];
  const c = await core.readCase(registry, tc);
  const src = c.image.data;
  const shape = c.image.shape; // [1, z, y, x]
  // z-score over the case (ZScoreNormalization without mask, as the plan for this MRI dataset)
  const data = new Float32Array(src.length);
  let m = 0;
  for (let i = 0; i < src.length; i++) m += src[i];
  m /= src.length;
  let v = 0;
  for (let i = 0; i < src.length; i++) v += (src[i] - m) ** 2;
  const sd = Math.sqrt(v / src.length) || 1;
  for (let i = 0; i < src.length; i++) data[i] = (src[i] - m) / sd;
  const out = [];
  for (const mirror of [false, true]) {
    const t = await time(() => core.predictPreprocessed(model, data, shape, { mirror, stepSize: 0.5 }), { reps: 1, warmup: 0 });
    out.push({ case: `${name}${mirror ? '-mirror' : ''}`, backend: ctx.mainBackend, caseId: tc.id, shape, patch: p.cfg.patch_size, stepSize: 0.5, seconds: round(t.median, 3), cpuSeconds: round(t.cpu, 3) });
    ctx.log(`sliding window ${tc.id} ${shape.join('x')} mirror=${mirror}: ${round(t.median, 2)} s`);
  }
  return out;
}
