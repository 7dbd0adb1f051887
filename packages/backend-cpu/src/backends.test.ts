import { describe, expect, it } from 'vitest';
import { Registry, selectBackend } from '@nnunet-ts/core';
import { describeBackendContract } from '../../core/src/compute/contract-suite.js';
import { createCpuJsBackend } from './js.js';
import { createCpuNativeBackend, loadAddon } from './native.js';
import { registerDefaults } from './index.js';

const addon = loadAddon();

await describeBackendContract('cpu-js', async () => createCpuJsBackend());

if (addon) {
  await describeBackendContract('cpu-native (auto ISA)', async () => createCpuNativeBackend({ isa: 'auto' }));
  for (const isa of ['avx512', 'avx2', 'generic'] as const) {
    if (!addon.setIsa(isa)) continue;
    for (const path of ['direct', 'im2col'] as const) {
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
