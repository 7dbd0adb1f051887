// Hippocampus 3d_fullres PlainConvUNet as the project's nnUNetPlanner plans it from the fingerprint of
// examples/Task04_Hippocampus_subset (patch 40x56x40, 4 stages, features 32..256, strides 1,2,2,2, 3 classes; see
// ../hippocampus.mjs): one training step exactly as train-fold.ts does it (forward with deep supervision,
// DC_and_CE_loss with deep supervision weights, backward, gradient clipping, SGD) at batch 2 (the plan's) and 9,
// and one inference forward at batch 1. Needs the built dist of core, io-nifti, net-unet3d and loss.
import { time, round, timed } from '../lib.mjs';
import { hippocampusPlan, planSummary, trainingStep } from '../hippocampus.mjs';

export const name = 'unet3d-hippocampus';

export async function run(ctx) {
  let p;
  try {
    p = await hippocampusPlan();
  } catch (e) {
    return [{ case: name, skipped: `${String(e.message).split('\n')[0]}; run npm run build` }];
  }
  ctx.log(`plan: nnUNetPlanner 3d_fullres patch ${p.cfg.patch_size.join('x')}, features ${p.arch.arch_kwargs.features_per_stage.join(',')} (fingerprint ${round(p.fingerprintSeconds, 1)} s)`);
  const plan = planSummary(p);
  const { backend, stats } = timed(await ctx.getBackend(ctx.mainBackend));
  const PATCH = p.cfg.patch_size;
  const out = [];
  for (const batch of ctx.quick ? [2] : [2, 9]) {
    const { step } = await trainingStep(p, backend, batch);
    const reps = batch > 2 ? 1 : 2;
    let first;
    await time(async () => (first = await step()), { reps: 0, warmup: 1 });
    stats.seconds = 0;
    const t = await time(step, { reps, warmup: 0 });
    const convSeconds = stats.seconds / reps;
    out.push({
      case: `${name}-train-step`, backend: ctx.mainBackend, batch, patch: PATCH, loss: 'DC_and_CE_loss + deep supervision', firstLoss: round(first.loss, 4),
      seconds: round(t.median, 3), cpuSeconds: round(t.cpu, 3), convSeconds: round(convSeconds, 3), rssMB: round(process.memoryUsage().rss / 2 ** 20, 0), plan,
    });
    ctx.log(`train step batch ${batch}: ${round(t.median, 2)} s wall, ${round(t.cpu, 2)} CPU-s (convolutions ${round(convSeconds, 2)} s wall), first loss ${round(first.loss, 4)}`);
  }
  const net3d = await import('@nnunet-ts/net-unet3d');
  const net = net3d.buildPlainConvUNet({ architecture: p.arch, inputChannels: 1, numClasses: p.numClasses, deepSupervision: false, device: p.core.resolveDevice({ backend }), seed: 0 });
  const fwd = () => p.core.tidy(net.device, () => p.core.forwardHost(net, x1, false));
  const { rand } = await import('../lib.mjs');
  const x1 = { data: rand(PATCH.reduce((a, b) => a * b, 1), 6), shape: [1, 1, ...PATCH] };
  await time(fwd, { reps: 0, warmup: 1 });
  stats.seconds = 0;
  const t = await time(fwd, { reps: 3, warmup: 0 });
  out.push({ case: `${name}-forward`, backend: ctx.mainBackend, batch: 1, patch: PATCH, seconds: round(t.median, 3), cpuSeconds: round(t.cpu, 3), convSeconds: round(stats.seconds / 3, 3) });
  ctx.log(`forward batch 1: ${round(t.median, 3)} s`);
  return out;
}
