import type { Tensor } from '../contracts/backend.js';
import type { DcCeLossResult, DeviceBackend, DeviceTensor } from '../contracts/device.js';
import type { Loss } from '../contracts/loss.js';
import type { Network } from '../contracts/network.js';
import { gradOf } from '../nn/module.js';
import type { DeviceSGD } from '../nn/sgd.js';

/** One assembled batch on the host: image `[n, c, z, y, x]` and labels `[n, 1, z, y, x]`. */
export interface HostBatch {
  x: Tensor;
  seg: Int16Array;
  segShape: number[];
}

/** Targets per output level, downsampled on the device (nearest-exact as nnU-Net's DownsampleSegForDSTransform). */
export function deviceTargets(device: DeviceBackend, outputs: DeviceTensor[], seg: DeviceTensor): DeviceTensor[] {
  return outputs.map((o) => {
    const shape = [seg.shape[0]!, 1, ...o.shape.slice(2)];
    return shape.join() === seg.shape.join() ? seg : device.downsampleLabels(seg, shape);
  });
}

/**
 * The loss on the device: the fused `dcCeLoss` when the loss plugin declares its device form, else the host
 * `compute` on logits read back (gradients uploaded). Returns the device result (values `[loss, ce, dice]`).
 */
export async function deviceLoss(device: DeviceBackend, loss: Loss, outputs: DeviceTensor[], targets: DeviceTensor[], ignoreLabel: number | undefined): Promise<DcCeLossResult> {
  if (loss.device) return device.dcCeLoss(outputs, targets, { ...loss.device, ignoreLabel: ignoreLabel ?? loss.device.ignoreLabel });
  const host = await Promise.all(outputs.map(async (o) => ({ data: await device.read(o), shape: [...o.shape] })));
  const tg = await Promise.all(targets.map(async (t) => ({ data: Int16Array.from(await device.readInt(t)), shape: [...t.shape] })));
  const r = loss.compute({ outputs: host, targets: tg, ignoreLabel });
  const values = device.upload(Float32Array.of(r.loss, r.parts?.ce ?? NaN, r.parts?.dice ?? NaN), [3]);
  return { values, grads: r.grads.map((g) => (g ? device.upload(g.data, g.shape) : null)) };
}

/**
 * One training iteration entirely on the device (RULES.md §15): upload the batch and labels, zero the gradients,
 * forward, deep-supervision targets, loss, backward, gradient norm clipped to `clipNorm` (12), SGD step; the only
 * transfer back is the loss value. Every temporary is disposed by a device scope. Returns the loss.
 */
export async function trainStep(network: Network, optimizer: DeviceSGD, loss: Loss, batch: HostBatch, ignoreLabel: number | undefined, clipNorm = 12): Promise<number> {
  const dev = network.device;
  dev.beginScope();
  try {
    const x = dev.upload(batch.x.data, batch.x.shape);
    const seg = dev.uploadLabels(batch.seg, batch.segShape);
    optimizer.zeroGrad();
    const outputs = network.forward(x, true);
    const res = await deviceLoss(dev, loss, outputs, deviceTargets(dev, outputs, seg), ignoreLabel);
    network.backward(res.grads);
    dev.clipGradNorm(network.parameters.map(gradOf), clipNorm, 1);
    optimizer.step();
    return (await dev.read(res.values))[0]!;
  } finally {
    dev.endScope();
  }
}

/**
 * One validation forward on the device: loss value and the highest-resolution logits and labels read back (for the
 * pseudo Dice counts). Temporaries disposed.
 */
export async function validationStep(network: Network, loss: Loss, batch: HostBatch, ignoreLabel: number | undefined): Promise<{ loss: number; logits: Tensor; seg: Int16Array }> {
  const dev = network.device;
  dev.beginScope();
  try {
    const x = dev.upload(batch.x.data, batch.x.shape);
    const seg = dev.uploadLabels(batch.seg, batch.segShape);
    const outputs = network.forward(x, false);
    const targets = deviceTargets(dev, outputs, seg);
    const res = await deviceLoss(dev, loss, outputs, targets, ignoreLabel);
    const logits = { data: await dev.read(outputs[0]!), shape: [...outputs[0]!.shape] };
    const t0 = Int16Array.from(await dev.readInt(targets[0]!));
    return { loss: (await dev.read(res.values))[0]!, logits, seg: t0 };
  } finally {
    dev.endScope();
  }
}
