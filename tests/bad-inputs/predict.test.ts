/**
 * Bad-input rows exercised through prediction: the sliding window (`predictPreprocessed`, `computeSteps`), test-time
 * and training mirroring (B35), determinism (B46) and the output geometry of written predictions (B33).
 *
 * Stub networks are pointwise (each output voxel depends only on the same input voxel), so the exact expected
 * logits are known: the sliding window must reproduce them wherever a voxel is covered.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { HostDeviceBackend, hostNetwork, referenceBackend, type ComputeBackend, type HostNetworkImpl, type Network, type Tensor } from '@nnunet-ts/core';
import { cleanupTemp, parseNiftiHeader, rng, tempDir, vol, writeNiftiFile } from './generate.js';
import { core, makeRegistry, need, niftiReader, niftiWriter } from './harness.js';

afterAll(cleanupTemp);

type AnyFn = (...args: any[]) => any;

/** Host-array stub networks on the reference device (the sliding window runs on a network's device). */
const stubDevice = new HostDeviceBackend(referenceBackend(), { name: 'reference' });
const onDevice = (impl: HostNetworkImpl): Network => hostNetwork(stubDevice, impl);

/** A pointwise 2-class "network": logits (-x, x) of channel 0, recording every input it sees. */
function pointwiseNet(seen?: Tensor[]): Network {
  return onDevice({
    parameters: [],
    forward(x: Tensor): Tensor[] {
      seen?.push({ data: new Float32Array(x.data), shape: [...x.shape] });
      const [n, c, z, y, w] = x.shape as [number, number, number, number, number];
      const N = z * y * w;
      const out = new Float32Array(n * 2 * N);
      for (let b = 0; b < n; b++) {
        for (let i = 0; i < N; i++) {
          const v = x.data[b * c * N + i]!;
          out[(b * 2) * N + i] = -v;
          out[(b * 2 + 1) * N + i] = v;
        }
      }
      return [{ data: out, shape: [n, 2, z, y, w] }];
    },
    backward() {},
    setDeepSupervision() {},
  });
}

const predictPreprocessed = () => need<AnyFn>(core as never, 'predictPreprocessed');

describe('predict rows', () => {
  it('B20: an image far smaller than the patch (10x10x4 vs 32x32x16) is padded, predicted and cropped back exactly', async () => {
    const [Z, Y, X] = [4, 10, 10];
    const r = rng(20);
    const data = Float32Array.from({ length: Z * Y * X }, () => 1 + r()); // no zeros inside the image
    const seen: Tensor[] = [];
    const model = { networks: [pointwiseNet(seen)], patchSize: [16, 32, 32], numClasses: 2, mirrorAxes: [0, 1, 2] };
    const out: Float32Array = await predictPreprocessed()(model, data, [1, Z, Y, X], { stepSize: 0.5 });
    expect(out.length).toBe(2 * Z * Y * X);
    for (let i = 0; i < data.length; i++) {
      expect(Math.abs(out[Z * Y * X + i]! - data[i]!), `voxel ${i}`).toBeLessThan(1e-5);
      expect(Math.abs(out[i]! + data[i]!)).toBeLessThan(1e-5);
    }
    // the padding is constant 0 (normalized background), not a reflection of the image
    expect(seen.length).toBeGreaterThan(0);
    const first = seen[0]!;
    expect(first.shape).toEqual([1, 1, 16, 32, 32]);
    const zeros = first.data.reduce((n, v) => n + (v === 0 ? 1 : 0), 0);
    expect(zeros).toBe(16 * 32 * 32 - Z * Y * X);
  });

  it('B21: a patch of extent 1 along z (16x16x1) covers all 9 slices of a 40x32x9 image; every voxel is covered', async () => {
    const computeSteps = need<AnyFn>(core as never, 'computeSteps');
    for (const step of [0.5, 0.75, 1]) expect(computeSteps(9, 1, step)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
    const [Z, Y, X] = [9, 32, 40];
    const data = new Float32Array(Z * Y * X).fill(1);
    let calls = 0;
    const constNet: Network = onDevice({
      parameters: [],
      forward(x: Tensor) {
        calls += x.shape[0]!;
        const [n, , z, y, w] = x.shape as number[];
        const N = z! * y! * w!;
        const o = new Float32Array(n! * 2 * N);
        for (let b = 0; b < n!; b++) o.fill(1, (b * 2 + 1) * N, (b * 2 + 2) * N);
        return [{ data: o, shape: [n!, 2, z!, y!, w!] }];
      },
      backward() {},
      setDeepSupervision() {},
    });
    const model = { networks: [constNet], patchSize: [1, 16, 16], numClasses: 2, mirrorAxes: [] as number[] };
    const out: Float32Array = await predictPreprocessed()(model, data, [1, Z, Y, X], { stepSize: 0.75, mirror: false });
    const N = Z * Y * X;
    let uncovered = 0;
    for (let i = 0; i < N; i++) if (!(Math.abs(out[N + i]! - 1) < 1e-6)) uncovered++;
    expect(uncovered).toBe(0);
    const ny = computeSteps(Y, 16, 0.75).length;
    const nx = computeSteps(X, 16, 0.75).length;
    expect(calls).toBe(9 * ny * nx);
  });

  it('B35: with left-right mirroring disabled neither TTA nor training augmentation flips x; with it enabled they do', async () => {
    const [Z, Y, X] = [4, 6, 8];
    const ramp = new Float32Array(Z * Y * X);
    for (let i = 0; i < ramp.length; i++) ramp[i] = 1 + (i % X); // increases along x
    const increasingInX = (t: Tensor) => {
      const w = t.shape[t.shape.length - 1]!;
      return t.data[1]! > t.data[0]! && t.data[w - 1]! > t.data[0]!;
    };
    const seenNo: Tensor[] = [];
    const model = { networks: [pointwiseNet(seenNo)], patchSize: [Z, Y, X], numClasses: 2, mirrorAxes: [0, 1, 2] };
    await predictPreprocessed()(model, ramp, [1, Z, Y, X], { mirrorAxes: [0, 1] });
    expect(seenNo.length).toBe(4); // identity + 3 combinations of z, y
    expect(seenNo.every(increasingInX)).toBe(true);
    const seenAll: Tensor[] = [];
    await predictPreprocessed()({ ...model, networks: [pointwiseNet(seenAll)] }, ramp, [1, Z, Y, X], {});
    expect(seenAll.length).toBe(8);
    expect(seenAll.filter((t) => !increasingInX(t)).length).toBe(4);

    // training augmentation: nnUNetDefault with mirror axes [0, 1] never flips x (light: mirror + intensity only)
    const aug = (await import('@nnunet-ts/augment')) as unknown as Record<string, AnyFn>;
    const createRng = need<AnyFn>(core as never, 'createRng');
    const flips = (axes: number[]) => {
      const transforms = aug['nnUNetDefaultTransforms']!({ patchSize: [Z, Y, X], dims: 3, mirrorAxes: axes, doDummy2D: false, light: true });
      let flipped = 0;
      for (let s = 0; s < 40; s++) {
        const seg = new Int16Array(Z * Y * X);
        for (let i = 0; i < seg.length; i++) seg[i] = i % X < X / 2 ? 1 : 2; // left = 1, right = 2
        const out = aug['applyTransforms']!(transforms, { image: new Float32Array(ramp), seg, shape: [1, Z, Y, X] }, createRng(1000 + s));
        if (out.seg[0] === 2) flipped++;
      }
      return flipped;
    };
    expect(flips([0, 1])).toBe(0);
    expect(flips([0, 1, 2])).toBeGreaterThan(5);
  });

  it('B46: three predictions with the same weights are bitwise identical (tile batching varied, two backends)', async () => {
    const net3d = (await import('@nnunet-ts/net-unet3d')) as unknown as Record<string, AnyFn>;
    const backends: ComputeBackend[] = [need<AnyFn>(core as never, 'referenceBackend')()];
    try {
      const reg = makeRegistry();
      (await import('@nnunet-ts/backend-cpu')).registerDefaults(reg, { override: true });
      const b = await need<AnyFn>(core as never, 'selectBackend')(reg, 'auto', () => {});
      backends.push(b);
    } catch {
      /* only the reference backend */
    }
    const arch = net3d['archSpec']!([4, 8], [[3, 3, 3], [3, 3, 3]], [[1, 1, 1], [2, 2, 2]]);
    const r = rng(46);
    const [Z, Y, X] = [12, 12, 12];
    const data = Float32Array.from({ length: Z * Y * X }, () => r() * 2 - 1);
    for (const backend of backends) {
      const outs: Float32Array[] = [];
      for (const tileBatch of [1, 4, 3]) {
        const network = net3d['buildPlainConvUNet']!({ architecture: arch, inputChannels: 1, numClasses: 3, deepSupervision: false, backend, seed: 7 });
        const model = { networks: [network], patchSize: [8, 8, 8], numClasses: 3, mirrorAxes: [2] }; // 2 TTA passes keep it cheap
        outs.push(await predictPreprocessed()(model, data, [1, Z, Y, X], { tileBatch }));
      }
      expect(outs[0]!.some((v) => v !== 0)).toBe(true);
      expect(Buffer.from(outs[1]!.buffer).equals(Buffer.from(outs[0]!.buffer)), `${backend.info.name} run 2`).toBe(true);
      expect(Buffer.from(outs[2]!.buffer).equals(Buffer.from(outs[0]!.buffer)), `${backend.info.name} run 3`).toBe(true);
    }
  });

  it('B46 (export): exporting the same logits three times (worker-thread resampling path, 2^20 output voxels) is bitwise identical', async () => {
    const reg = makeRegistry();
    const plans = {
      dataset_name: 'b46', plans_name: 'nnUNetPlans', transpose_forward: [0, 1, 2], transpose_backward: [0, 1, 2],
      foreground_intensity_properties_per_channel: {},
      configurations: { '3d_fullres': { spacing: [2, 2, 2], resampling_fn_probabilities: 'resample_data_or_seg_to_shape', resampling_fn_probabilities_kwargs: { is_seg: false, order: 1, order_z: 0, force_separate_z: null } } },
    };
    const [Z, Y, X] = [32, 64, 64];
    const r = rng(146);
    const logits = Float32Array.from({ length: 3 * Z * Y * X }, () => r() * 4 - 2);
    const properties = {
      spacing: [1, 1, 1],
      shape_before_cropping: [64, 128, 128],
      bbox_used_for_cropping: [[0, 64], [0, 128], [0, 128]],
      shape_after_cropping_and_before_resampling: [64, 128, 128],
    };
    const exportPrediction = need<AnyFn>(core as never, 'exportPrediction');
    const runs = [0, 1, 2].map(() => exportPrediction(logits, [3, Z, Y, X], properties, plans, '3d_fullres', reg, { returnProbabilities: true }));
    const outs = await Promise.all(runs);
    expect(outs[0].seg.length).toBe(64 * 128 * 128);
    expect(new Set(outs[0].seg).size).toBe(3);
    for (const o of outs.slice(1)) {
      expect(Buffer.from(o.seg.buffer, o.seg.byteOffset, o.seg.byteLength).equals(Buffer.from(outs[0].seg.buffer, outs[0].seg.byteOffset, outs[0].seg.byteLength))).toBe(true);
      expect(Buffer.from(o.probabilities.buffer, o.probabilities.byteOffset, o.probabilities.byteLength).equals(Buffer.from(outs[0].probabilities.buffer, outs[0].probabilities.byteOffset, outs[0].probabilities.byteLength))).toBe(true);
    }
  });

  it('B33 (writer): a segmentation written with the input header keeps shape, spacing, origin (0,-318,0) and direction exactly', async () => {
    const dir = tempDir();
    const input = writeNiftiFile(
      join(dir, 'ct_0000.nii.gz'),
      vol([24, 20, 32], 'int16', (i, j, k) => i + j + k - 40, { spacing: [1, 1, 1], origin: [0, -318, 0] }),
    );
    const reg = makeRegistry();
    const img = await niftiReader(reg).read(input);
    const seg = new Uint8Array(img.data.length);
    for (let i = 0; i < seg.length; i++) seg[i] = img.data[i]! > 0 ? 1 : 0;
    const out = join(dir, 'ct.nii.gz');
    await niftiWriter(reg).write(out, { ...img, data: seg, header: undefined }, { dtype: 'uint8', template: img.header });
    const back = await niftiReader(reg).read(out);
    expect(back.shape).toEqual([1, 32, 20, 24]);
    expect(back.spacing).toEqual(img.spacing);
    expect(back.origin).toEqual(img.origin);
    expect(back.direction).toEqual(img.direction);
    expect(back.origin).toEqual([0, -318, 0]);
    const hIn = parseNiftiHeader(gunzipSync(readFileSync(input)));
    const hOut = parseNiftiHeader(gunzipSync(readFileSync(out)));
    expect(hOut.srow).toEqual(hIn.srow);
    expect(hOut.quatern).toEqual(hIn.quatern);
    expect(hOut.pixdim.slice(0, 4)).toEqual(hIn.pixdim.slice(0, 4));
    expect([hOut.qformCode, hOut.sformCode]).toEqual([hIn.qformCode, hIn.sformCode]);
    expect(Array.from(back.data)).toEqual(Array.from(seg));
  });
});
