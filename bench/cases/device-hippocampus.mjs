// The Hippocampus 3d_fullres network of the trainer on the main backend's device implementation (`cpu-native`: every
// op native): net-unet3d's PlainConvUNet and core's trainStep (what `trainFold` runs: batch up, forward with deep
// supervision, DC_and_CE_loss, backward, clip, SGD, loss back) at batch 2 (the plan's) and 9, one inference forward
// at batch 1, and core's predictPreprocessed sliding window over the real test case without / with mirroring. These
// are the rows bench/run.mjs compares with PyTorch (bench/torch_hippocampus.py) in the same run.
import { rand, round, time } from '../lib.mjs';
import { hippocampusPlan, trainingStep } from '../hippocampus.mjs';

export const name = 'device-hippocampus';

/** The test case of the sliding-window case, z-scored (as cases/sliding-window.mjs). */
async function testImage(p) {
  const tc = p.dataset.testCases?.[0] ?? p.dataset.cases[0];
  const c = await p.core.readCase(p.registry, tc);
  const src = c.image.data;
  let m = 0;
  for (const v of src) m += v;
  m /= src.length;
  let v2 = 0;
  for (const v of src) v2 += (v - m) ** 2;
  const sd = Math.sqrt(v2 / src.length) || 1;
  return { id: tc.id, data: Float32Array.from(src, (v) => (v - m) / sd), shape: c.image.shape };
}

/** The first `size` voxels of each spatial axis of a one-channel `[1, z, y, x]` image (one tile on a software adapter). */
function cropTo(img, size) {
  const [, Z, Y, X] = img.shape;
  const [z, y, x] = size.map((v, i) => Math.min(v, img.shape[i + 1]));
  const data = new Float32Array(z * y * x);
  for (let a = 0; a < z; a++) for (let b = 0; b < y; b++) data.set(img.data.subarray((a * Y + b) * X, (a * Y + b) * X + x), (a * y + b) * x);
  return { ...img, data, shape: [1, z, y, x], croppedFrom: [1, Z, Y, X] };
}

async function deviceOf(ctx) {
  const plugin = ctx.registry.get('backend', ctx.mainBackend);
  if (!plugin.createDevice) throw new Error(`backend ${ctx.mainBackend} has no device implementation`);
  return plugin.createDevice();
}

export async function run(ctx) {
  let p;
  try {
    p = await hippocampusPlan();
  } catch (e) {
    return [{ case: name, skipped: `${String(e.message).split('\n')[0]}; run npm run build` }];
  }
  const dev = await deviceOf(ctx);
  // a software GPU (SwiftShader: every shader on the CPU, ~1000x slower) runs the same network on a 16^3 patch, one
  // batch size, no mirroring: a correctness run of the case, its numbers say nothing about speed
  const software = dev.adapter?.software === true;
  const patch = software ? [16, 16, 16] : p.cfg.patch_size;
  const out = [];
  const rowBase = { backend: dev.info.name, device: dev.info.description, patch, ...(software ? { scaledFrom: p.cfg.patch_size, softwareAdapter: true } : {}) };
  if (software) ctx.log(`device-hippocampus: software adapter, patch ${patch.join('x')} instead of ${p.cfg.patch_size.join('x')}, batch 2 only, no mirroring`);
  for (const batch of ctx.quick || software ? [2] : [2, 9]) {
    const { step } = await trainingStep(p, dev, batch, { patch });
    const first = (await step()).loss;
    const t = await time(step, { reps: batch > 2 || software ? 1 : 3, warmup: 0 });
    out.push({ case: 'unet3d-hippocampus-train-step', path: 'device', network: 'net-unet3d PlainConvUNet + core trainStep', batch, ...rowBase, firstLoss: round(first, 4), seconds: round(t.median, 3), cpuSeconds: round(t.cpu, 3), rssMB: round(process.memoryUsage().rss / 2 ** 20, 0) });
    ctx.log(`device train step batch ${batch}: ${round(t.median, 3)} s wall, ${round(t.cpu, 3)} CPU-s, first loss ${round(first, 4)}`);
  }
  const net3d = await import('@nnunet-ts/net-unet3d');
  const net = net3d.buildPlainConvUNet({ architecture: p.arch, inputChannels: 1, numClasses: p.numClasses, deepSupervision: false, device: dev, seed: 0 });
  const x1 = rand(patch.reduce((a, b) => a * b, 1), 6);
  const fwd = async () => {
    dev.beginScope();
    try {
      await dev.read(net.forward(dev.upload(x1, [1, 1, ...patch]), false)[0]);
    } finally {
      dev.endScope();
    }
  };
  await fwd();
  const tf = await time(fwd, { reps: software ? 1 : 5, warmup: 0 });
  out.push({ case: 'unet3d-hippocampus-forward', path: 'device', batch: 1, ...rowBase, seconds: round(tf.median, 3), cpuSeconds: round(tf.cpu, 3) });
  ctx.log(`device forward batch 1: ${round(tf.median, 3)} s`);
  const img = software ? cropTo(await testImage(p), patch) : await testImage(p);
  const model = { networks: [net], patchSize: patch, numClasses: p.numClasses, mirrorAxes: [0, 1, 2] };
  for (const mirror of software ? [false] : [false, true]) {
    const t = await time(() => p.core.predictPreprocessed(model, img.data, img.shape, { mirror, stepSize: 0.5 }), { reps: mirror || software ? 1 : 3, warmup: software ? 0 : 1 });
    out.push({ case: `sliding-window${mirror ? '-mirror' : ''}`, path: 'device', ...rowBase, caseId: img.id, shape: img.shape, stepSize: 0.5, seconds: round(t.median, 3), cpuSeconds: round(t.cpu, 3) });
    ctx.log(`device sliding window ${img.id} mirror=${mirror}: ${round(t.median, 3)} s`);
  }
  // device memory where the backend reports it (webgpu: peak bytes of live tensors, and every buffer held incl. the pool)
  if (dev.engine) out.push({ case: 'device-peak-memory', backend: dev.info.name, peakLiveMB: round(dev.engine.peakBytes / 2 ** 20, 1), heldMB: round(dev.engine.heldBytes / 2 ** 20, 1) });
  dev.destroy?.();
  return out;
}
