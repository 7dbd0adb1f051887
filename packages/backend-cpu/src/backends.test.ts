import { describe, expect, it } from 'vitest';
import { Registry, selectBackend } from '@nnunet-ts/core';
import { describeBackendContract } from '@nnunet-ts/core/testing';
import { createCpuJsBackend } from './js.js';
import { createCpuNativeBackend, loadAddon } from './native.js';
import { registerDefaults } from './index.js';

const addon = loadAddon();

await describeBackendContract('cpu-js', async () => createCpuJsBackend());

if (addon) {
  await describeBackendContract('cpu-native (auto ISA)', async () => createCpuNativeBackend({ isa: 'auto' }));
  for (const isa of ['avx512', 'avx2', 'generic'] as const) {
    if (!addon.setIsa(isa)) continue;
    for (const path of ['direct', 'im2col', 'winograd'] as const) {
      await describeBackendContract(`cpu-native ${isa}, ${path}, 1 thread`, async () => {
        addon.setIsa(isa);
        addon.setPath(path);
        return createCpuNativeBackend({ threads: 1 });
      });
    }
  }
  await describeBackendContract('cpu-native direct, 2 threads', async () => {
    addon.setIsa('auto');
    addon.setPath('direct');
    return createCpuNativeBackend({ threads: 2 });
  });
  await describeBackendContract('cpu-native winograd, 2 threads', async () => {
    addon.setIsa('auto');
    addon.setPath('winograd');
    return createCpuNativeBackend({ threads: 2 });
  });
  addon.setIsa('auto');
  addon.setPath('auto');
  addon.setThreads(0);
} else {
  describe.skip('cpu-native (addon not built)', () => it('skipped', () => {}));
}

describe('registration', () => {
  it('auto selects cpu-native when built, else cpu-js', async () => {
    const reg = new Registry();
    registerDefaults(reg);
    const b = await selectBackend(reg, 'auto', () => {});
    expect(b.info.name).toBe(addon ? 'cpu-native' : 'cpu-js');
  });
});

describe.skipIf(!addon)('cpu-native with typed-array views', () => {
  it('honours byteOffset of subarrays', async () => {
    const { randomTensor, relativeError } = await import('@nnunet-ts/core/testing');
    const { referenceConv3d } = await import('@nnunet-ts/core');
    const x = randomTensor([1, 3, 4, 5, 6], 7);
    const w = randomTensor([2, 3, 3, 3, 3], 8);
    const big = new Float32Array(x.data.length + 13);
    big.set(x.data, 13);
    const view = { data: big.subarray(13), shape: x.shape };
    const p = { stride: [1, 1, 1] as [number, number, number], padding: [1, 1, 1] as [number, number, number] };
    const got = createCpuNativeBackend().conv3d(view, w, null, p);
    expect(relativeError(got.data, referenceConv3d(x, w, null, p).data)).toBeLessThan(1e-5);
  });

  it('rejects a non-Float32Array input', () => {
    const b = createCpuNativeBackend();
    const p = { stride: [1, 1, 1] as [number, number, number], padding: [0, 0, 0] as [number, number, number] };
    expect(() => b.conv3d({ data: new Float64Array(8) as unknown as Float32Array, shape: [1, 1, 2, 2, 2] }, { data: new Float32Array(1), shape: [1, 1, 1, 1, 1] }, null, p)).toThrow(/Float32Array/);
  });
});

describe.skipIf(!addon)('cpu-native weight gradient is bit-identical run to run (2 threads)', () => {
  // fixed task ranges per thread slot, summed in slot order (the device trainer's reproducibility rule)
  for (const path of ['direct', 'im2col', 'winograd'] as const) {
    it(`${path}: 3x3x3 pad 1, many tasks per thread`, async () => {
      const { randomTensor, relativeError } = await import('@nnunet-ts/core/testing');
      const { referenceConv3dBackwardFilter } = await import('@nnunet-ts/core');
      addon!.setPath(path);
      try {
        const b = createCpuNativeBackend({ threads: 2 });
        const x = randomTensor([2, 24, 8, 10, 8], 11);
        const dy = randomTensor([2, 64, 8, 10, 8], 12);
        const p = { stride: [1, 1, 1] as [number, number, number], padding: [1, 1, 1] as [number, number, number] };
        const runs = [0, 1, 2].map(() => b.conv3dBackwardFilter(x, dy, [64, 24, 3, 3, 3], p).data);
        expect(Buffer.from(runs[1]!.buffer).equals(Buffer.from(runs[0]!.buffer))).toBe(true);
        expect(Buffer.from(runs[2]!.buffer).equals(Buffer.from(runs[0]!.buffer))).toBe(true);
        expect(relativeError(runs[0]!, referenceConv3dBackwardFilter(x, dy, [64, 24, 3, 3, 3], p).data)).toBeLessThan(1e-4);
      } finally {
        addon!.setPath('auto');
        addon!.setThreads(0);
      }
    });
  }
});
