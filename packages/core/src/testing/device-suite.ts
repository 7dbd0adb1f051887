/**
 * Reusable vitest suite for `DeviceBackend` implementations (issue 9), exported as `@nnunet-ts/core/testing`:
 * every op of `contracts/device.ts`, forward against a float64 reference and backward against the float64
 * reference's finite differences (or its exact adjoint for the linear ops), plus the memory rules. Await it at the
 * top level of a test file: `await describeDeviceContract('cpu-js', () => createCpuJsDevice())`.
 */
import type { DeviceBackend } from '../contracts/device.js';
import { defineMemoryTests, defineElementwiseTests, defineConvTests, defineNormTests } from './device-suite-parts.js';
import { defineChannelTests, defineLossTests, defineOptimTests, defineWindowTests } from './device-suite-parts2.js';

/** Tolerances of the suite: forward `tol` (relative to max |ref|) and gradient `gradTol` against finite differences. */
export interface DeviceSuiteOptions {
  /** Default 1e-4 (float32 against float64). */
  tol?: number;
  /** Default 2e-3. */
  gradTol?: number;
}

/** Context handed to the parts of the suite. */
export interface SuiteContext {
  be: () => DeviceBackend;
  tol: number;
  gradTol: number;
  vi: typeof import('vitest');
}

/**
 * Registers `describe('DeviceBackend contract: <name>')` with every op's tests on the backend made by `make`
 * (created once, destroyed after). Throws nothing itself; failures are vitest failures.
 */
export async function describeDeviceContract(name: string, make: () => Promise<DeviceBackend>, opts: DeviceSuiteOptions = {}): Promise<void> {
  const vi = await import('vitest');
  const ctx: SuiteContext = { be: () => backend, tol: opts.tol ?? 1e-4, gradTol: opts.gradTol ?? 2e-3, vi };
  let backend: DeviceBackend;
  vi.describe(`DeviceBackend contract: ${name}`, () => {
    vi.beforeAll(async () => {
      backend = await make();
    });
    vi.afterAll(() => backend?.destroy?.());
    defineMemoryTests(ctx);
    defineElementwiseTests(ctx);
    defineConvTests(ctx);
    defineNormTests(ctx);
    defineChannelTests(ctx);
    defineLossTests(ctx);
    defineOptimTests(ctx);
    defineWindowTests(ctx);
  });
}
