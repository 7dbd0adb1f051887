// The planned Hippocampus PlainConvUNet written directly against the device contract (core contracts/device.ts),
// for the benchmark: one training iteration as nnUNetTrainer.train_step (forward with deep supervision, targets
// downsampled on the device, DC_and_CE_loss with the deep supervision weights, backward, clip_grad_norm_(12), SGD
// Nesterov), an inference forward, and nnU-Net's sliding window (Gaussian importance map, step 0.5, optional
// mirroring), all issued as device ops so that only the batch goes up and the loss (or the argmax) comes back.
// Architecture as dynamic_network_architectures' PlainConvUNet: per conv, Conv3d(bias) -> InstanceNorm3d(affine,
// eps 1e-5) -> LeakyReLU(0.01); strided first conv per encoder stage; ConvTranspose3d (kernel = stride); skip concat;
// a 1x1x1 segmentation head per decoder stage. Weights He-normal (a = 1e-2) from a fixed seed, biases 0.
import { rand } from './lib.mjs';

const prod = (s) => s.reduce((a, b) => a * b, 1);

function gaussRand(n, seed) {
  const u = rand(2 * n, seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const a = (u[2 * i] + 1) / 2 || 1e-7;
    out[i] = Math.sqrt(-2 * Math.log(a)) * Math.cos(Math.PI * (u[2 * i + 1] + 1));
  }
  return out;
}

/** Builds the network's parameters on `dev` from the plan's arch_kwargs. */
export function buildDeviceUNet(dev, arch, inputChannels, numClasses, seed = 0) {
  const k = arch.arch_kwargs;
  const feats = k.features_per_stage;
  const params = [];
  let sd = seed;
  const param = (shape, init, decay = true) => {
    const n = prod(shape);
    const data = init === 'he' ? gaussRand(n, ++sd * 7919).map((v) => v * Math.sqrt(2 / (1 + 1e-4) / (n / shape[0]))) : new Float32Array(n).fill(init);
    const p = { value: dev.upload(data, shape), grad: dev.zeros(shape), mom: dev.zeros(shape), decay };
    params.push(p);
    return p;
  };
  const conv = (cin, cout, ks, stride) => ({
    w: param([cout, cin, ...ks], 'he'), b: param([cout], 0), g: param([cout], 1), beta: param([cout], 0),
    p: { stride, padding: ks.map((v) => (v - 1) >> 1) },
  });
  const enc = [];
  let c = inputChannels;
  feats.forEach((f, s) => {
    const convs = [];
    for (let i = 0; i < k.n_conv_per_stage[s]; i++) {
      convs.push(conv(c, f, k.kernel_sizes[s], i === 0 ? k.strides[s] : [1, 1, 1]));
      c = f;
    }
    enc.push(convs);
  });
  const dec = [];
  for (let s = feats.length - 2; s >= 0; s--) {
    const st = k.strides[s + 1];
    const up = { w: param([feats[s + 1], feats[s], ...st], 'he'), b: param([feats[s]], 0), p: { stride: st, padding: [0, 0, 0] } };
    const convs = [];
    for (let i = 0; i < k.n_conv_per_stage_decoder[s]; i++) convs.push(conv(i === 0 ? 2 * feats[s] : feats[s], feats[s], k.kernel_sizes[s], [1, 1, 1]));
    const seg = { w: param([numClasses, feats[s], 1, 1, 1], 'he'), b: param([numClasses], 0), p: { stride: [1, 1, 1], padding: [0, 0, 0] } };
    dec.push({ up, convs, seg });
  }
  return { dev, enc, dec, params, numClasses };
}

function convBlockFwd(dev, blk, x, training, tape) {
  const z = dev.conv(x, blk.w.value, blk.b.value, blk.p);
  const { y, state } = dev.instanceNorm(z, blk.g.value, blk.beta.value, { eps: 1e-5, leakySlope: 0.01, training });
  dev.dispose(z);
  if (training) tape.push({ blk, x, state });
  return y;
}

/** Forward; returns the segmentation outputs, highest resolution first (all of them with deep supervision). */
export function forward(net, x, { training, deepSupervision }) {
  const { dev } = net;
  const tape = { enc: [], dec: [] };
  const skips = [];
  let h = x;
  for (const convs of net.enc) {
    const t = [];
    for (const blk of convs) h = convBlockFwd(dev, blk, h, training, t);
    tape.enc.push(t);
    skips.push(h);
  }
  const outs = [];
  net.dec.forEach((d, i) => {
    const skip = skips[skips.length - 2 - i];
    const up = dev.convBackwardData(h, d.up.w.value, [skip.shape[0], skip.shape[1], ...skip.shape.slice(2)], d.up.p);
    dev.addBias(up, d.up.b.value);
    const cat = dev.concatChannels([up, skip]);
    const t = { upIn: h, cUp: up.shape[1], blocks: [], segIn: null };
    h = cat;
    for (const blk of d.convs) h = convBlockFwd(dev, blk, h, training, t.blocks);
    if (deepSupervision || i === net.dec.length - 1) {
      outs.push(dev.conv(h, d.seg.w.value, d.seg.b.value, d.seg.p));
      t.segIn = h;
    }
    tape.dec.push(t);
  });
  return { outs: outs.reverse(), tape };
}

// Tensors are disposed as soon as the backward no longer needs them (the buffer pool then reuses their storage):
// a block's input x, its norm state and the incoming gradient are used by this block's backward only.
function convBlockBwd(dev, { blk, x, state }, dy, needDx) {
  const dz = dev.instanceNormBackward(dy, state, blk.g.value, blk.beta.value, 0.01, { weight: blk.g.grad, bias: blk.beta.grad, accumulate: false });
  dev.dispose([dy, state.xhat, state.invStd]);
  dev.convBackwardFilter(x, dz, blk.p, { weight: blk.w.grad, bias: blk.b.grad, accumulate: false });
  const dx = needDx ? dev.convBackwardData(dz, blk.w.value, x.shape, blk.p) : null;
  dev.dispose([dz, x]);
  return dx;
}

/** Backward from the output gradients (highest resolution first, null where the weight is 0). */
export function backward(net, tape, grads) {
  const { dev } = net;
  const g = [...grads].reverse(); // decoder order: lowest resolution first
  const dSkips = [];
  let dh = null;
  for (let i = net.dec.length - 1; i >= 0; i--) {
    const d = net.dec[i];
    const t = tape.dec[i];
    if (t.segIn && g[i]) {
      dev.convBackwardFilter(t.segIn, g[i], d.seg.p, { weight: d.seg.w.grad, bias: d.seg.b.grad, accumulate: false });
      const ds = dev.convBackwardData(g[i], d.seg.w.value, t.segIn.shape, d.seg.p);
      dev.dispose(g[i]);
      if (dh) {
        dev.axpy(1, ds, dh);
        dev.dispose(ds);
      } else dh = ds;
    } else if (t.segIn) {
      dev.fill(d.seg.w.grad, 0);
      dev.fill(d.seg.b.grad, 0);
    }
    for (let j = t.blocks.length - 1; j >= 0; j--) dh = convBlockBwd(dev, t.blocks[j], dh, true);
    const [dUp, dSkip] = dev.splitChannels(dh, [t.cUp, dh.shape[1] - t.cUp]);
    dev.dispose(dh);
    dSkips[i] = dSkip;
    dev.convBackwardFilter(dUp, t.upIn, d.up.p, { weight: d.up.w.grad, bias: null, accumulate: false });
    dev.biasGrad(dUp, d.up.b.grad, false);
    dh = dev.conv(dUp, d.up.w.value, null, d.up.p);
    dev.dispose(dUp);
  }
  for (let s = net.enc.length - 1; s >= 0; s--) {
    if (s < net.enc.length - 1) {
      dev.axpy(1, dSkips[net.enc.length - 2 - s], dh);
      dev.dispose(dSkips[net.enc.length - 2 - s]);
    }
    const t = tape.enc[s];
    for (let j = t.length - 1; j >= 0; j--) dh = convBlockBwd(dev, t[j], dh, s > 0 || j > 0);
  }
}

/** nnU-Net's deep supervision weights for n outputs: 1/2^i, lowest 0, normalised. */
export function dsWeights(n) {
  const w = Array.from({ length: n }, (_, i) => 1 / 2 ** i);
  if (n > 1) w[n - 1] = 0;
  const s = w.reduce((a, b) => a + b, 0);
  return w.map((v) => v / s);
}

/** One training iteration; returns the loss (the one value read back). */
export async function trainStep(net, xHost, xShape, segHost, segShape, { batchDice = true, lr = 1e-2 } = {}) {
  const { dev } = net;
  dev.beginScope();
  try {
    const x = dev.upload(xHost, xShape);
    const lab = dev.uploadLabels(segHost, segShape);
    const { outs, tape } = forward(net, x, { training: true, deepSupervision: true });
    const weights = dsWeights(outs.length);
    const targets = outs.map((o) => (o.shape.slice(2).join() === segShape.slice(2).join() ? lab : dev.downsampleLabels(lab, [segShape[0], 1, ...o.shape.slice(2)])));
    const loss = dev.dcCeLoss(outs, targets, { weights, batchDice, doBackground: false, smooth: 1e-5 });
    backward(net, tape, loss.grads);
    const grads = net.params.map((p) => p.grad);
    const clip = dev.clipGradNorm(grads, 12, 1);
    dev.sgdStep(net.params.map((p) => p.value), grads, net.params.map((p) => p.mom), net.params.map((p) => p.decay), { lr, momentum: 0.99, nesterov: true, weightDecay: 3e-5 }, clip);
    return (await dev.read(loss.values))[0];
  } finally {
    dev.endScope();
  }
}

/** Inference forward of one batch; returns the logits tensor (kept by the caller's scope). */
export function predictTile(net, x) {
  return forward(net, x, { training: false, deepSupervision: false }).outs[0];
}

/** nnU-Net compute_steps_for_sliding_window along one axis. */
function steps1d(size, patch, step = 0.5) {
  if (size <= patch) return [0];
  const n = Math.ceil((size - patch) / (patch * step)) + 1;
  const actual = (size - patch) / (n - 1);
  return Array.from({ length: n }, (_, i) => Math.round(actual * i));
}

/** nnU-Net's Gaussian importance map (sigma = patch / 8, max 1, zeros raised to the smallest non-zero value). */
export function gaussianMap(patch) {
  const ax = patch.map((p) => Float64Array.from({ length: p }, (_, i) => Math.exp(-(((i - (p - 1) / 2) / (p / 8)) ** 2) / 2)));
  const g = new Float32Array(prod(patch));
  let o = 0;
  for (let z = 0; z < patch[0]; z++) for (let y = 0; y < patch[1]; y++) for (let x = 0; x < patch[2]; x++) g[o++] = ax[0][z] * ax[1][y] * ax[2][x];
  let m = 0;
  for (const v of g) m = Math.max(m, v);
  for (let i = 0; i < g.length; i++) g[i] /= m;
  return g;
}

/** Sliding-window prediction of one image [c, z, y, x] (padded to the patch when smaller); returns the argmax. */
export async function slidingWindow(net, img, shape, patch, { mirror = false } = {}) {
  const { dev } = net;
  dev.beginScope();
  try {
    const [c, ...dims] = shape;
    const full = dims.map((d, i) => Math.max(d, patch[i]));
    const lo = full.map((f, i) => (f - dims[i]) >> 1);
    const padded = new Float32Array(c * prod(full));
    for (let ch = 0; ch < c; ch++)
      for (let z = 0; z < dims[0]; z++)
        for (let y = 0; y < dims[1]; y++) {
          const src = ((ch * dims[0] + z) * dims[1] + y) * dims[2];
          padded.set(img.subarray(src, src + dims[2]), ((ch * full[0] + z + lo[0]) * full[1] + y + lo[1]) * full[2] + lo[2]);
        }
    const x = dev.upload(padded, [1, c, ...full]);
    const acc = dev.zeros([net.numClasses, ...full]);
    const wsum = dev.zeros([1, ...full]);
    const gauss = dev.upload(gaussianMap(patch), patch);
    const flips = mirror ? [[], [0], [1], [2], [0, 1], [0, 2], [1, 2], [0, 1, 2]] : [[]];
    const starts = [];
    for (const z of steps1d(full[0], patch[0])) for (const y of steps1d(full[1], patch[1])) for (const xx of steps1d(full[2], patch[2])) starts.push([z, y, xx]);
    for (const st of starts) {
      dev.beginScope();
      const tile = dev.crop(x, [st], patch);
      let sum = null;
      for (const f of flips) {
        const inp = f.length ? dev.flip(tile, f) : tile;
        const out = predictTile(net, inp);
        const back = f.length ? dev.flip(out, f) : out;
        if (sum) dev.axpy(1, back, sum);
        else sum = back;
      }
      dev.accumulateTiles(acc, wsum, sum, gauss, [st], 1 / flips.length);
      dev.endScope();
    }
    const logits = dev.normalizeAccumulator(acc, wsum, lo, dims);
    return { labels: await dev.readInt(dev.argmax(logits)), tiles: starts.length };
  } finally {
    dev.endScope();
  }
}
