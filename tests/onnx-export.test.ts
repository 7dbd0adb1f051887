/**
 * `export-onnx`: the networks of the three shared nnU-Net model folders (PlainConvUNet 3D, ResidualEncoderUNet 3D,
 * PlainConvUNet 2D) as ONNX graphs, run with onnxruntime-node and compared with our forward pass and with
 * nnU-Net's stored patch logits; a second input size checks the dynamic spatial axes.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { buildOnnxModel, decodeOnnxModel, forwardHost, loadTrainedModel, readNpy, selectDevice, type DeviceBackend, type TrainedModel } from '@nnunet-ts/core';
import { createDefaultRegistry, runCli } from '@nnunet-ts/cli';
import { sharedPath } from './helpers/paths.js';

const MODELS = {
  A: 'nnUNetTrainer_16x30__nnUNetPlans__3d_fullres',
  B: 'nnUNetTrainer_1x2__nnUNetResEncUNetMPlans_gpu0p1GB__3d_fullres',
  C: 'nnUNetTrainer_1x5__nnUNetPlans__2d',
} as const;
type M = keyof typeof MODELS;
const modelDir = (m: M) => sharedPath('models', 'Dataset004_Hippocampus', MODELS[m]);
const refNpy = (m: M, f: string) => readNpy(readFileSync(sharedPath('models', 'references', 'Dataset004_Hippocampus', MODELS[m], f)), f);

const registry = createDefaultRegistry();
let backend: DeviceBackend | undefined;
const be = async () => (backend ??= await selectDevice(registry, 'auto', () => {}));

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/** Our logits for `x` (`[c, ...spatial]`): the network's forward with a batch axis (2D: z = 1). */
function ourForward(model: TrainedModel, data: Float32Array, spatial: number[]): Float32Array {
  const shape = [1, model.inputChannels, ...(model.dims === 2 ? [1, ...spatial] : spatial)];
  return Float32Array.from(forwardHost(model.networks[0]!, { data, shape }, false)[0]!.data);
}

async function ortForward(file: string, data: Float32Array, shape: number[]): Promise<{ data: Float32Array; dims: readonly number[] }> {
  const session = await ort.InferenceSession.create(file);
  const r = await session.run({ input: new ort.Tensor('float32', data, shape) });
  return { data: r.logits!.data as Float32Array, dims: r.logits!.dims };
}

describe('export-onnx: ONNX graphs run by onnxruntime-node give our logits', () => {
  for (const m of ['A', 'B', 'C'] as const) {
    it(`model ${m} (${MODELS[m]})`, async () => {
      const file = join(mkdtempSync(join(tmpdir(), 'onnx-')), 'net.onnx');
      const lines: string[] = [];
      const code = await runCli(['export-onnx', '-m', modelDir(m), '-o', file, '-q'], { out: (s) => lines.push(s) });
      expect(code).toBe(0);
      expect(lines.join()).toMatch(/fold 0, ONNX opset 17/);

      const onnx = decodeOnnxModel(readFileSync(file)) as { irVersion: number; opsetImport: { version: number }[]; graph: { input: { type: { tensorType: { shape: { dim: { dimParam?: string; dimValue?: number }[] } } } }[] }; metadataProps: { key: string; value: string }[] };
      expect(onnx.opsetImport[0]!.version).toBe(17);
      const dims = onnx.graph.input[0]!.type.tensorType.shape.dim.map((d) => d.dimParam ?? d.dimValue);
      expect(dims).toEqual(m === 'C' ? ['batch', 1, 'y', 'x'] : ['batch', 1, 'z', 'y', 'x']);
      expect(onnx.metadataProps.find((p) => p.key === 'configuration')!.value).toBe(m === 'C' ? '2d' : '3d_fullres');

      const model = await loadTrainedModel(modelDir(m), [0], registry, await be());
      const input = refNpy(m, 'hippocampus_008_patch_input.npy');
      const x = Float32Array.from(input.data as Float32Array);
      const spatial = input.shape.slice(1);
      const ort1 = await ortForward(file, x, [1, ...input.shape]);
      expect(ort1.dims).toEqual([1, 3, ...spatial]);
      const ours = ourForward(model, x, spatial);
      expect(maxAbsDiff(ort1.data, ours)).toBeLessThan(5e-4);
      expect(maxAbsDiff(ort1.data, refNpy(m, 'hippocampus_008_patch_logits.npy').data as Float32Array)).toBeLessThan(1e-3);

      // dynamic axes: another size (divisible by the strides' product) and batch 2
      const other = m === 'C' ? [32, 24] : m === 'A' ? [16, 24, 32] : [12, 16, 8];
      const n = other.reduce((p, v) => p * v, 1);
      const y = Float32Array.from({ length: 2 * n }, (_, i) => Math.sin(i * 0.37) * 2);
      const ort2 = await ortForward(file, y, [2, 1, ...other]);
      expect(ort2.dims).toEqual([2, 3, ...other]);
      const second = ourForward(model, y.slice(n), other);
      expect(maxAbsDiff(ort2.data.slice(3 * n), second)).toBeLessThan(5e-4);
    }, 120_000);
  }

  it('refuses a network class it does not build, and weights that do not match the architecture', async () => {
    const model = await loadTrainedModel(modelDir('C'), [0], registry, await be());
    const input = { architecture: model.config.architecture!, dims: 2 as const, inputChannels: 1, numClasses: 3, parameters: model.networks[0]!.parameters };
    expect(() => buildOnnxModel({ ...input, architecture: { ...input.architecture, network_class_name: 'my.Net' } })).toThrow(/supports PlainConvUNet and ResidualEncoderUNet, not my\.Net/);
    expect(() => buildOnnxModel({ ...input, parameters: input.parameters.filter((p) => p.name !== 'encoder.stages.1.0.convs.0.conv.weight') })).toThrow(/no parameter encoder\.stages\.1\.0\.convs\.0\.conv\.weight/);
    const arch = structuredClone(input.architecture);
    arch.arch_kwargs.n_conv_per_stage = arch.arch_kwargs.n_conv_per_stage!.map((v, i) => (i === 3 ? 1 : v));
    expect(() => buildOnnxModel({ ...input, architecture: arch })).toThrow(/parameters the architecture does not use: encoder\.stages\.3\.0\.convs\.1/);
  });
});
