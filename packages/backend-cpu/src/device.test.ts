import { describe, expect, it } from 'vitest';
import { Registry, selectDevice } from '@nnunet-ts/core';
import { describeDeviceContract } from '@nnunet-ts/core/testing';
import { createCpuJsDevice } from './js.js';
import { loadAddon } from './native.js';
import { createCpuNativeDevice } from './native-device.js';
import { registerDefaults } from './index.js';

await describeDeviceContract('cpu-js', async () => createCpuJsDevice());
if (loadAddon()) await describeDeviceContract('cpu-native', () => createCpuNativeDevice());

describe('selectDevice', () => {
  it('creates the named device backend through the plugin', async () => {
    const r = new Registry();
    registerDefaults(r);
    const logs: string[] = [];
    const d = await selectDevice(r, 'cpu-js', (s) => logs.push(s));
    expect(d.info.name).toBe('cpu-js');
    expect(d.info.capabilities.dtypes).toEqual(['float32']);
    expect(logs[0]).toMatch(/cpu-js/);
    await expect(selectDevice(r, 'nope', () => {})).rejects.toThrow(/no compute backend named 'nope'/);
  });
});
