// Hippocampus-like 3d_fullres PlainConvUNet (nnU-Net v2 plans for Dataset004: 4 stages, features 32..256, 3x3x3
// kernels, strides 1,2,2,2, patch 40x56x40, 3 classes, deep supervision): one training step (forward + backward +
// SGD) at batch 2 and 9, and inference forward at batch 1. Needs the built dist of @nnunet-ts/net-unet3d.
// HOOK: once the planner's Hippocampus plans are committed, read `architecture` from them instead of archSpec().
import { rand, time, round, timed, tryImport } from '../lib.mjs';

export const name = 'unet3d-hippocampus';
const PATCH = [40, 56, 40];

export async function run(ctx) {
  const net3d = await tryImport('@nnunet-ts/net-unet3d', 'buildPlainConvUNet', 'archSpec');
  const core = await tryImport('@nnunet-ts/core', 'SGD');
  if (!net3d.mod || !core.mod) return [{ case: name, skipped: net3d.why ?? core.why }];
  const { backend, stats } = timed(await ctx.getBackend(ctx.mainBackend));
  const arch = net3d.mod.archSpec([32, 64, 128, 256], [[3, 3, 3], [3, 3, 3], [3, 3, 3], [3, 3, 3]], [[1, 1, 1], [2, 2, 2], [2, 2, 2], [2, 2, 2]]);
  const out = [];
  const make = (ds) => net3d.mod.buildPlainConvUNet({ architecture: arch, inputChannels: 1, numClasses: 3, deepSupervision: ds, backend, seed: 0 });
  const sp = PATCH.reduce((a, b) => a * b, 1);
  for (const batch of ctx.quick ? [2] : [2, 9]) {
    const net = make(true);
    const opt = new core.mod.SGD(net.parameters, { lr: 1e-2, momentum: 0.99, nesterov: true, weightDecay: 3e-5 });
    const x = { data: rand(batch * sp, 5), shape: [batch, 1, ...PATCH] };
    const step = () => {
      opt.zeroGrad();
      const outs = net.forward(x, true);
      // stand-in loss gradient (the loss package's own cost is small next to the network's)
      net.backward(outs.map((o) => ({ data: o.data.map((v) => v * 1e-3), shape: o.shape })));
      opt.step();
    };
    const reps = batch > 2 ? 1 : 2;
    await time(step, { reps: 0, warmup: 1 });
    stats.seconds = 0;
    const t = await time(step, { reps, warmup: 0 });
    const convSeconds = stats.seconds / reps;
    out.push({ case: `${name}-train-step`, backend: ctx.mainBackend, batch, patch: PATCH, seconds: round(t.median, 3), cpuSeconds: round(t.cpu, 3), convSeconds: round(convSeconds, 3), rssMB: round(process.memoryUsage().rss / 2 ** 20, 0) });
    ctx.log(`train step batch ${batch}: ${round(t.median, 2)} s wall, ${round(t.cpu, 2)} CPU-s (convolutions ${round(convSeconds, 2)} s wall)`);
  }
  const net = make(false);
  const x1 = { data: rand(sp, 6), shape: [1, 1, ...PATCH] };
  await time(() => net.forward(x1, false), { reps: 0, warmup: 1 });
  stats.seconds = 0;
  const t = await time(() => net.forward(x1, false), { reps: 3, warmup: 0 });
  out.push({ case: `${name}-forward`, backend: ctx.mainBackend, batch: 1, patch: PATCH, seconds: round(t.median, 3), convSeconds: round(stats.seconds / 3, 3) });
  ctx.log(`forward batch 1: ${round(t.median, 3)} s`);
  return out;
}
