/**
 * `nnunet-ts train | predict --backend tensorflow` end to end through the CLI, against `--backend cpu-native` from the
 * same seed, on the sphere task with a small plan (`tests/helpers/device-e2e.ts`).
 *
 * `@tensorflow/tfjs-node-gpu` (the `tensorflow` backend's module) downloads libtensorflow when installed, which is
 * impossible here, so `--plugin tests/fixtures/tensorflow-standin/index.js` re-registers the same `tensorflowPlugin`
 * with tfjs-core + tfjs-backend-cpu in its place: the CLI's selection, the plugin's probing and `TfjsDeviceBackend`
 * (every tfjs op of the training step and the sliding window) are the code tfjs-node-gpu runs; only the kernels
 * under the tfjs ops differ. `tfjs-wasm` (a backend registered by default) trains the same curve.
 *
 * Tolerances, and why: float32 on both sides, the same initial weights, batches and augmentation (host RNG, seed
 * 12345); summation orders differ (~1e-7 relative per op) and SGD with momentum 0.99 carries that forward.
 * Measured (16:58 and 17:20 UTC, load ~22): `tensorflow` at most 5.0e-7 relative over the 20 iterations, `tfjs-wasm`
 * up to 2.7e-5 (its emulated backward convolutions sum in another order; the relative difference grows as the loss
 * falls to ~0.03); same-weight predictions 0 voxels apart, probabilities 7.2e-7 and logits 3.2e-6 apart. Bounds:
 * 1e-4 relative for the `tensorflow` losses (tighter than issue 10's 1e-3, 200x the measured drift), issue 10's
 * 1e-3 for `tfjs-wasm`, at most 1e-3 of the voxels, 1e-4 absolute for probabilities and logits. Took 428 s at load ~22 (tfjs-cpu 125 s, tfjs-wasm 190 s of it).
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { PluginModule } from '@nnunet-ts/core';
import { ITERATIONS, type PreparedTask, comparePredictions, logitsMaxAbsDiff, prepareTask, relativeDiffs, trainOn } from './helpers/device-e2e.js';
import { REPO_ROOT } from './helpers/paths.js';

const STANDIN = join(REPO_ROOT, 'tests', 'fixtures', 'tensorflow-standin', 'index.js');
const { plugin: standin } = (await import('./fixtures/tensorflow-standin/index.js')) as { plugin: PluginModule };
let task: PreparedTask | undefined;
afterAll(() => task && rmSync(task.parent, { recursive: true, force: true }));

describe('tfjs backends through the CLI follow cpu-native', () => {
  it(`--backend tensorflow (tfjs-cpu kernels in place of libtensorflow): ${ITERATIONS} iterations, predict, logits`, { timeout: 1_800_000 }, async () => {
    task = await prepareTask('nnunet-e2e-tfjs-', ['--plugin', STANDIN]);
    standin.register(task.registry, { override: true }); // for the in-process logits
    const cpu = await trainOn(task, 'cpu-native');
    const tf = await trainOn(task, 'tensorflow');
    const rel = relativeDiffs(cpu.losses, tf.losses);
    console.log(`loss cpu-native | tensorflow | rel: ${cpu.losses.map((v, i) => `${v.toFixed(5)}|${tf.losses[i]!.toFixed(5)}|${rel[i]!.toExponential(1)}`).join(' ')}; ` +
      `train seconds cpu-native ${cpu.seconds.toFixed(1)}, tensorflow ${tf.seconds.toFixed(1)}`);
    expect(tf.losses).toHaveLength(ITERATIONS);
    rel.forEach((r, i) => expect(r, `iteration ${i}: ${cpu.losses[i]} vs ${tf.losses[i]}`).toBeLessThan(1e-4));
    expect(cpu.losses[ITERATIONS - 1]!).toBeLessThan(cpu.losses[0]!);

    const agree = await comparePredictions(task, cpu.run, 'cpu-native', 'tensorflow');
    const logits = await logitsMaxAbsDiff(task, cpu.run, ['cpu-native', 'tensorflow']);
    console.log(`predict cpu-native vs tensorflow (same weights): ${JSON.stringify(agree)}; logits max abs diff ${logits.toExponential(2)}`);
    expect(agree).toHaveLength(2);
    for (const a of agree) {
      expect(a.differ / a.voxels, a.case).toBeLessThan(1e-3);
      expect(a.maxProbDiff, a.case).toBeLessThan(1e-4);
    }
    expect(logits).toBeLessThan(1e-4);

    const wasm = await trainOn(task, 'tfjs-wasm');
    const relWasm = relativeDiffs(cpu.losses, wasm.losses);
    console.log(`loss rel cpu-native vs tfjs-wasm: ${relWasm.map((r) => r.toExponential(1)).join(' ')}; train seconds ${wasm.seconds.toFixed(1)}`);
    relWasm.forEach((r, i) => expect(r, `tfjs-wasm iteration ${i}`).toBeLessThan(1e-3));
  });
});
