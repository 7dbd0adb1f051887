/**
 * Messages a fresh user found wrong or missing: Ctrl-C during `predict` advised a plain rerun (which overwrites:
 * only --continue keeps the written segmentations), and `train --preset tiny` on a 2D-only dataset blamed the user
 * for a 3d_fullres the preset had asked for.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { configurationsToRun, silentReporter, type Plans } from '@nnunet-ts/core';
import { makeContext } from './context.js';
import { SIGNAL_EXIT_CODES, interruptMessage } from './program.js';

const dir = mkdtempSync(join(tmpdir(), 'nnunet-messages-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The message and hint of the error `f` throws (undefined when it returns). */
function thrown(f: () => unknown): { message: string; hint?: string } | undefined {
  try {
    f();
  } catch (e) {
    return { message: (e as Error).message, hint: (e as { hint?: string }).hint };
  }
  return undefined;
}

describe('Ctrl-C during a writing verb', () => {
  it('predict names --continue (a plain rerun overwrites); verbs that resume by default keep "run the same command again"', () => {
    expect(interruptMessage('predict')).toBe(
      '\ninterrupted: segmentations already written are kept; run the same command with --continue to predict only the missing cases (without it, predict writes every case again)\n',
    );
    for (const [verb, continued] of [['predict', true], ['train', false], ['decathlon', false], ['preprocess', false]] as const)
      expect(interruptMessage(verb, continued), verb).toBe('\ninterrupted: outputs already written are kept; run the same command again to resume\n');
  });

  it('SIGTERM and SIGHUP (docker stop, a SLURM time limit, a closed terminal) say the same, naming the signal, with exit 128 + its number', () => {
    expect(interruptMessage('train', false, 'SIGTERM')).toBe('\nstopped by SIGTERM: outputs already written are kept; run the same command again to resume\n');
    expect(interruptMessage('predict', false, 'SIGHUP')).toBe(
      '\nstopped by SIGHUP: segmentations already written are kept; run the same command with --continue to predict only the missing cases (without it, predict writes every case again)\n',
    );
    expect(SIGNAL_EXIT_CODES).toEqual({ SIGINT: 130, SIGTERM: 143, SIGHUP: 129 });
  });
});

describe('configurations the user did not ask for', () => {
  const only2d = { configurations: { '2d': {} } } as unknown as Plans;

  it("a preset's configuration missing from the plans: the hint names the preset and the -c that works", async () => {
    const ctx = await makeContext({ preset: 'tiny', quiet: true });
    expect(ctx.configurationsFrom).toBe("the preset 'tiny'");
    expect(thrown(() => configurationsToRun(only2d, ctx.budget.configurations, silentReporter(), ctx.configurationsFrom))).toEqual({
      message: 'none of the requested configurations (3d_fullres) is in the plans',
      hint: "the preset 'tiny' asks for 3d_fullres, which the plans do not have; add -c 2d to use the 2d configuration",
    });
  });

  it('-c given: the plain list of what the plans hold; a config file that sets them is named', async () => {
    const ctx = await makeContext({ preset: 'tiny', configurations: '3d_fullres', quiet: true });
    expect(ctx.configurationsFrom).toBeUndefined();
    expect(thrown(() => configurationsToRun(only2d, ctx.budget.configurations, silentReporter(), ctx.configurationsFrom))).toEqual({
      message: 'none of the requested configurations (3d_fullres) is in the plans',
      hint: 'available: 2d',
    });
    const cfg = join(dir, 'c.json');
    writeFileSync(cfg, JSON.stringify({ configurations: ['3d_lowres'] }));
    expect((await makeContext({ config: cfg, quiet: true })).configurationsFrom).toBe(`the config file ${cfg}`);
    expect((await makeContext({ quiet: true })).configurationsFrom).toBeUndefined();
  });
});
