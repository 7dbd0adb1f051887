// conv3d 32->32 3x3x3 pad 1: forward + backward-data + backward-filter GFLOP/s per available backend.
import { rand, time, round } from '../lib.mjs';

const FULL = [2, 32, 40, 56, 40];
// Backends too slow for the full shape run a smaller one; GFLOP/s is the rate, `estFullSeconds` the extrapolation.
const SMALL = [1, 32, 20, 28, 20];

function flops(xs) {
  return 2 * xs[0] * 32 * xs[2] * xs[3] * xs[4] * 32 * 27; // pad 1 stride 1: output size = input size
}

export const name = 'conv3d-32x32-3x3x3';

export async function run(ctx) {
  const out = [];
  for (const bname of ctx.backendNames) {
    const backend = await ctx.getBackend(bname);
    if (!backend) {
      const dev = bname === ctx.mainBackend ? await ctx.getDevice?.(bname) : null;
      if (dev) out.push(await deviceRow(ctx, dev));
      continue;
    }
    const fast = bname === 'cpu-native' || backend.info.gpu;
    const xs = fast ? FULL : SMALL;
    const x = { data: rand(xs.reduce((a, b) => a * b, 1), 1), shape: xs };
    const w = { data: rand(32 * 32 * 27, 2).map((v) => v * 0.05), shape: [32, 32, 3, 3, 3] };
    const p = { stride: [1, 1, 1], padding: [1, 1, 1] };
    const dy = { data: rand(x.data.length, 3), shape: [xs[0], 32, ...xs.slice(2)] };
    // the JavaScript backends take seconds per pass even on the small shape: one timed pass, no warm-up
    const slow = bname === 'cpu-js' || bname === 'tfjs-cpu';
    const reps = fast ? 3 : slow ? 1 : 2;
    const warmup = slow ? 0 : 1;
    const f = flops(xs);
    const fwd = await time(() => backend.conv3d(x, w, null, p), { reps, warmup });
    const bd = await time(() => backend.conv3dBackwardData(dy, w, xs, p), { reps, warmup });
    const bf = await time(() => backend.conv3dBackwardFilter(x, dy, w.shape, p), { reps, warmup });
    const total = fwd.median + bd.median + bf.median;
    out.push({
      case: name,
      backend: bname,
      description: backend.info.description,
      threads: backend.info.threads,
      shape: xs,
      scaledFrom: fast ? undefined : FULL,
      gflop: round((3 * f) / 1e9),
      seconds: { forward: round(fwd.median, 4), backwardData: round(bd.median, 4), backwardFilter: round(bf.median, 4) },
      gflops: {
        forward: round(f / fwd.median / 1e9, 1),
        backwardData: round(f / bd.median / 1e9, 1),
        backwardFilter: round(f / bf.median / 1e9, 1),
        fwdBwd: round((3 * f) / total / 1e9, 1),
        fwdBwdBest: round((3 * f) / (fwd.min + bd.min + bf.min) / 1e9, 1),
      },
      // FLOPs per CPU-second (user + system of all threads): robust to other processes competing for the cores
      gflopPerCpuSecond: round((3 * f) / (fwd.cpu + bd.cpu + bf.cpu) / 1e9, 1),
      estFullSeconds: round((3 * flops(FULL)) / ((3 * f) / total), 2),
    });
    ctx.log(`${name} ${bname}: ${out.at(-1).gflops.fwdBwd} GFLOP/s fwd+bwd (${out.at(-1).gflopPerCpuSecond} GFLOP per CPU-second)`);
  }
  return out;
}

/**
 * The same convolution on a device-contract backend (webgpu: no host-memory convolutions): operands uploaded once,
 * each pass timed up to `sync()` (all queued GPU work done), outputs disposed. Adds the device's peak memory when it
 * reports one (webgpu: bytes of live tensors and of all buffers held).
 */
async function deviceRow(ctx, dev) {
  const xs = dev.info.gpu ? FULL : SMALL;
  const p = { stride: [1, 1, 1], padding: [1, 1, 1] };
  const x = dev.upload(rand(xs.reduce((a, b) => a * b, 1), 1), xs);
  const w = dev.upload(rand(32 * 32 * 27, 2).map((v) => v * 0.05), [32, 32, 3, 3, 3]);
  const dy = dev.upload(rand(x.size, 3), [xs[0], 32, ...xs.slice(2)]);
  const dw = dev.zeros([32, 32, 3, 3, 3]);
  const run = (f) => async () => {
    const r = f();
    await dev.sync();
    if (r) dev.dispose(r);
  };
  const opts = dev.info.gpu ? { reps: 3, warmup: 1 } : { reps: 1, warmup: 1 };
  const fwd = await time(run(() => dev.conv(x, w, null, p)), opts);
  const bd = await time(run(() => dev.convBackwardData(dy, w, xs, p)), opts);
  const bf = await time(run(() => dev.convBackwardFilter(x, dy, p, { weight: dw, bias: null, accumulate: false })), opts);
  dev.dispose([x, w, dy, dw]);
  const f = flops(xs);
  const total = fwd.median + bd.median + bf.median;
  const eng = dev.engine;
  const row = {
    case: name, path: 'device', backend: dev.info.name, description: dev.info.description, shape: xs, scaledFrom: dev.info.gpu ? undefined : FULL,
    gflop: round((3 * f) / 1e9),
    seconds: { forward: round(fwd.median, 4), backwardData: round(bd.median, 4), backwardFilter: round(bf.median, 4) },
    gflops: { forward: round(f / fwd.median / 1e9, 1), backwardData: round(f / bd.median / 1e9, 1), backwardFilter: round(f / bf.median / 1e9, 1), fwdBwd: round((3 * f) / total / 1e9, 1) },
    estFullSeconds: round((3 * flops(FULL)) / ((3 * f) / total), 2),
    devicePeakLiveMB: eng ? round(eng.peakBytes / 2 ** 20, 1) : undefined,
    deviceHeldMB: eng ? round(eng.heldBytes / 2 ** 20, 1) : undefined,
  };
  ctx.log(`${name} ${dev.info.name} (device): ${row.gflops.fwdBwd} GFLOP/s fwd+bwd`);
  return row;
}
