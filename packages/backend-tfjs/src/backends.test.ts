import { describe, expect, it } from 'vitest';
import { Registry, selectBackend } from '@nnunet-ts/core';
import { describeBackendContract } from '@nnunet-ts/core/testing';
import { registerDefaults, tensorflowPlugin, tfjsCpuPlugin, tfjsWasmPlugin, tfjsWebgpuPlugin } from './index.js';
import { createMatMulConvBackend, type MatMul } from './matmul-backend.js';

await describeBackendContract('tfjs-cpu', () => tfjsCpuPlugin().create());

const wasm = tfjsWasmPlugin();
if (await wasm.isAvailable()) {
  await describeBackendContract('tfjs-wasm (im2col + BatchMatMul)', () => wasm.create());
  await describeBackendContract('tfjs-wasm (Conv3D kernels)', () => tfjsWasmPlugin({ useConv3dKernels: true }).create());
} else describe.skip('tfjs-wasm (did not initialise here)', () => it('skipped', () => {}));

// The tiled im2col + matmul adapter with tiny tiles (many tiles per sample, partial last tile), on a plain JS matmul.
const jsMatMul: MatMul = (a, [m, k], b, [k2, n]) => {
  if (k !== k2) throw new Error('inner dimensions differ');
  const out = new Float32Array(m * n);
  for (let i = 0; i < m; i++) for (let l = 0; l < k; l++) for (let j = 0; j < n; j++) out[i * n + j]! += a[i * k + l]! * b[l * n + j]!;
  return out;
};
await describeBackendContract('matmul adapter, 7-column tiles', async () =>
  createMatMulConvBackend(jsMatMul, { name: 'matmul-js', description: 'test', gpu: false }, { tileFloats: 7 * 900 }),
);

describe('optional backends', () => {
  it('tensorflow is unavailable when neither tfjs-node-gpu nor tfjs-node imports', async () => {
    const p = tensorflowPlugin({
      importer: async (s) => {
        throw new Error(`Cannot find package '${s}'`);
      },
    });
    expect(await p.isAvailable()).toBe(false);
    await expect(p.create()).rejects.toThrow(/none of @tensorflow\/tfjs-node-gpu, @tensorflow\/tfjs-node/);
  });

  it('tensorflow falls back from tfjs-node-gpu to tfjs-node', async () => {
    const tried: string[] = [];
    const p = tensorflowPlugin({
      tfBackendName: 'cpu', // stand-in: tfjs-core + the cpu backend play the part of tfjs-node
      importer: async (s) => {
        tried.push(s);
        if (s === '@tensorflow/tfjs-node-gpu') throw new Error('libcudart.so not found');
        await import('@tensorflow/tfjs-backend-cpu');
        return import('@tensorflow/tfjs-core');
      },
    });
    expect(await p.isAvailable()).toBe(true);
    const b = await p.create();
    expect(b.info.description).toContain('@tensorflow/tfjs-node');
    expect(b.info.gpu).toBe(false);
    expect(tried).toEqual(['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']);
  });

  it('the real tensorflow and webgpu are not installed here: unavailable, and auto skips them', async () => {
    expect(await tensorflowPlugin().isAvailable()).toBe(false);
    expect(await tfjsWebgpuPlugin().isAvailable()).toBe(false);
    const reg = new Registry();
    registerDefaults(reg);
    const b = await selectBackend(reg, 'auto', () => {});
    expect(['tfjs-wasm', 'tfjs-cpu']).toContain(b.info.name);
  });

  it('webgpu is unavailable without an adapter', async () => {
    const p = tfjsWebgpuPlugin({
      importer: async (s) => {
        if (s === 'webgpu') return { create: () => ({ requestAdapter: async () => null }), globals: {} };
        throw new Error('unexpected');
      },
    });
    const g = globalThis as { navigator?: unknown };
    const had = Object.getOwnPropertyDescriptor(globalThis, 'navigator');
    try {
      expect(await p.isAvailable()).toBe(false);
    } finally {
      if (had) Object.defineProperty(globalThis, 'navigator', had);
      else delete g.navigator;
    }
  });
});
