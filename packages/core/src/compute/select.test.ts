import { describe, expect, it } from 'vitest';
import { Registry } from '../registry/registry.js';
import type { BackendPlugin, ComputeBackend } from '../contracts/backend.js';
import { PluginError } from '../util/errors.js';
import { selectBackend, listBackends } from './select.js';
import { referenceConv3d, referenceConv3dBackwardData, referenceConv3dBackwardFilter } from './reference.js';
import { describeBackendContract } from '../testing/index.js';

function fake(name: string, priority: number, available: boolean, fail = false): BackendPlugin {
  return {
    name,
    priority,
    isAvailable: async () => available,
    create: async (): Promise<ComputeBackend> => {
      if (fail) throw new Error('boom');
      return {
        info: { name, description: `fake ${name}`, gpu: false },
        conv3d: referenceConv3d,
        conv3dBackwardData: referenceConv3dBackwardData,
        conv3dBackwardFilter: referenceConv3dBackwardFilter,
      };
    },
  };
}

describe('selectBackend: a backend that vetoes the automatic choice', () => {
  it('auto passes over it and logs why; asking for it by name still uses it', async () => {
    const reg = new Registry();
    reg.register('backend', { ...fake('webgpu', 2, true), autoSkipReason: async () => 'only a software WebGPU adapter exists (SwiftShader)' });
    reg.register('backend', fake('cpu', 10, true));
    const lines: string[] = [];
    expect((await selectBackend(reg, 'auto', (s) => lines.push(s))).info.name).toBe('cpu');
    expect(lines[0]).toBe('compute backend webgpu skipped by auto: only a software WebGPU adapter exists (SwiftShader)');
    expect((await selectBackend(reg, 'webgpu', () => undefined)).info.name).toBe('webgpu');
  });
});

describe('selectBackend', () => {
  const reg = new Registry();
  reg.register('backend', fake('slow', 90, true));
  reg.register('backend', fake('gpu', 1, false));
  reg.register('backend', fake('fast', 10, true));
  reg.register('backend', fake('broken', 5, true, true));

  it('auto picks the lowest available priority that starts, and logs it', async () => {
    const lines: string[] = [];
    const b = await selectBackend(reg, 'auto', (s) => lines.push(s));
    expect(b.info.name).toBe('fast');
    expect(lines.some((l) => l.includes('broken') && l.includes('boom'))).toBe(true);
    expect(lines.at(-1)).toContain('fake fast');
  });

  it('a name selects that backend', async () => {
    const b = await selectBackend(reg, 'slow', () => {});
    expect(b.info.name).toBe('slow');
  });

  it('an unknown name lists names and availability', async () => {
    const err = await selectBackend(reg, 'nope', () => {}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PluginError);
    expect((err as PluginError).hint).toContain('gpu (priority 1, not available)');
    expect((err as PluginError).hint).toContain('fast (priority 10, available)');
  });

  it('an unavailable name throws', async () => {
    await expect(selectBackend(reg, 'gpu', () => {})).rejects.toThrow(/not available/);
  });

  it('lists by priority', async () => {
    expect((await listBackends(reg)).map((b) => b.name)).toEqual(['gpu', 'broken', 'fast', 'slow']);
  });

  it('a device-only backend asked for by name is a user error naming it and the way out, not a crash', async () => {
    const r = new Registry();
    r.register('backend', { ...fake('devonly', 2, true), create: async () => { throw new Error('no host convolutions'); }, createDevice: async () => { throw new Error('unused'); } } as BackendPlugin);
    const err = await selectBackend(r, 'devonly', () => {}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PluginError);
    expect((err as PluginError).message).toBe("compute backend 'devonly' implements only the device-resident contract, which training and prediction do not run on yet");
    expect((err as PluginError).hint).toContain('use --backend auto or cpu-native');
  });

  it('probes only what the choice needs: the named backend alone, auto up to the first that starts', async () => {
    const probed: string[] = [];
    const r = new Registry();
    for (const [n, prio] of [['gpu', 1], ['fast', 10], ['slow', 90]] as const) {
      r.register('backend', { ...fake(n, prio, n !== 'gpu'), isAvailable: async () => (probed.push(n), n !== 'gpu') });
    }
    expect((await selectBackend(r, 'slow', () => {})).info.name).toBe('slow');
    expect(probed).toEqual(['slow']);
    probed.length = 0;
    expect((await selectBackend(r, 'auto', () => {})).info.name).toBe('fast');
    expect(probed).toEqual(['gpu', 'fast']);
  });

  it('no backend at all', async () => {
    await expect(selectBackend(new Registry(), 'auto', () => {})).rejects.toBeInstanceOf(PluginError);
  });
});

// The reference checks itself: sanity of the suite (also exercises the suite code).
await describeBackendContract('reference', async () => (await fake('reference', 1, true).create()));
