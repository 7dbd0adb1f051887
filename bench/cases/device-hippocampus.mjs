// The Hippocampus 3d_fullres network on the device contract (bench/device-unet.mjs) on the main backend's device
// implementation (`cpu-native`: every op native): the training iteration at batch 2 (the plan's) and 9, one
// inference forward at batch 1, and the sliding window over the real test case without / with mirroring. These are
// the rows bench/run.mjs compares with PyTorch (bench/torch_hippocampus.py) in the same run.
import { rand, round, time } from '../lib.mjs';
import { hippocampusPlan, labels } from '../hippocampus.mjs';
import { buildDeviceUNet, predictTile, slidingWindow, trainStep } from '../device-unet.mjs';

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
    const net = buildDeviceUNet(dev, p.arch, 1, p.numClasses, 0);
    const x = rand(batch * patch.reduce((a, b) => a * b, 1), 5);
    const seg = labels(batch, patch);
    const step = () => trainStep(net, x, [batch, 1, ...patch], seg.data, seg.shape, { batchDice: p.cfg.batch_dice ?? true });
    const first = await step();
    const t = await time(step, { reps: batch > 2 || software ? 1 : 3, warmup: 0 });
    out.push({ case: 'unet3d-hippocampus-train-step', path: 'device', batch, ...rowBase, firstLoss: round(first, 4), seconds: round(t.median, 3), cpuSeconds: round(t.cpu, 3), rssMB: round(process.memoryUsage().rss / 2 ** 20, 0) });
    ctx.log(`device train step batch ${batch}: ${round(t.median, 3)} s wall, ${round(t.cpu, 3)} CPU-s, first loss ${round(first, 4)}`);
    dev.dispose(net.params.flatMap((q) => [q.value, q.grad, q.mom]));
  }
  const net = buildDeviceUNet(dev, p.arch, 1, p.numClasses, 0);
  const x1 = rand(patch.reduce((a, b) => a * b, 1), 6);
  const fwd = async () => {
    dev.beginScope();
    const y = predictTile(net, dev.upload(x1, [1, 1, ...patch]));
    await dev.read(y);
    dev.endScope();
  };
  await fwd();
  const tf = await time(fwd, { reps: software ? 1 : 5, warmup: 0 });
  out.push({ case: 'unet3d-hippocampus-forward', path: 'device', batch: 1, ...rowBase, seconds: round(tf.median, 3), cpuSeconds: round(tf.cpu, 3) });
  ctx.log(`device forward batch 1: ${round(tf.median, 3)} s`);
  const img = software ? cropTo(await testImage(p), patch) : await testImage(p);
  for (const mirror of software ? [false] : [false, true]) {
    let tiles = 0;
    const t = await time(async () => (tiles = (await slidingWindow(net, img.data, img.shape, patch, { mirror })).tiles), { reps: mirror || software ? 1 : 3, warmup: software ? 0 : 1 });
    out.push({ case: `sliding-window${mirror ? '-mirror' : ''}`, path: 'device', ...rowBase, caseId: img.id, shape: img.shape, tiles, seconds: round(t.median, 3), cpuSeconds: round(t.cpu, 3) });
    ctx.log(`device sliding window ${img.id} mirror=${mirror}: ${round(t.median, 3)} s (${tiles} tiles)`);
  }
  // device memory where the backend reports it (webgpu: peak bytes of live tensors, and every buffer held incl. the pool)
  if (dev.engine) out.push({ case: 'device-peak-memory', backend: dev.info.name, peakLiveMB: round(dev.engine.peakBytes / 2 ** 20, 1), heldMB: round(dev.engine.heldBytes / 2 ** 20, 1) });
  dev.destroy?.();
  return out;
}
