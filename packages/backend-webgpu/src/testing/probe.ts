/**
 * A fixed sequence of contract ops on deterministic inputs, run once in Node (Dawn) and once in a browser
 * (`navigator.gpu`) by the browser test, whose results must agree. Imports nothing Node-specific.
 */
import { webgpuPlugin } from '../plugin.js';

const r = (n: number, s: number): Float32Array => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 1.37 + s));

/** Runs the probe on a fresh `webgpu` backend; returns the adapter label and each op's output as plain arrays. */
export async function runProbe(): Promise<{ adapter: string; via: string; out: Record<string, number[]> }> {
  const be = await webgpuPlugin({ software: 'fallback' }).createDevice();
  const p = { stride: [1, 1, 1] as [number, number, number], padding: [1, 1, 1] as [number, number, number] };
  const x = be.upload(r(2 * 3 * 4 * 5 * 6, 1), [2, 3, 4, 5, 6]);
  const w = be.upload(r(4 * 3 * 27, 2), [4, 3, 3, 3, 3]);
  const bias = be.upload(r(4, 3), [4]);
  const y = be.conv(x, w, bias, p);
  const { y: z, state } = be.instanceNorm(y, be.upload(r(4, 4), [4]), be.upload(r(4, 5), [4]), { eps: 1e-5, leakySlope: 0.01, training: true });
  const head = be.conv(z, be.upload(r(3 * 4, 6), [3, 4, 1, 1, 1]), null, { stride: [1, 1, 1], padding: [0, 0, 0] });
  const labels = be.uploadLabels(Int32Array.from({ length: 2 * 120 }, (_, i) => (i * 7) % 3), [2, 1, 4, 5, 6]);
  const loss = be.dcCeLoss([head], [labels], { weights: [1], batchDice: true, doBackground: false, smooth: 1e-5 });
  const dw = be.zeros([4, 3, 3, 3, 3]);
  const dz = be.convBackwardData(loss.grads[0]!, be.upload(r(3 * 4, 6), [3, 4, 1, 1, 1]), z.shape, { stride: [1, 1, 1], padding: [0, 0, 0] });
  const dy = be.instanceNormBackward(dz, state!, be.upload(r(4, 4), [4]), be.upload(r(4, 5), [4]), 0.01, { weight: null, bias: null, accumulate: false });
  be.convBackwardFilter(x, dy, p, { weight: dw, bias: null, accumulate: false });
  const dx = be.convBackwardData(dy, w, x.shape, p);
  const out: Record<string, number[]> = {};
  for (const [k, t] of Object.entries({ y, z, loss: loss.values, dw, dx })) out[k] = Array.from(await be.read(t));
  be.destroy?.();
  return { adapter: be.info.description, via: be.info.description.split(' via ')[1] ?? '', out };
}
