import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { vi } from 'vitest';
import { tempDir } from '../bad-inputs/generate.js';
import { cli } from '../bad-inputs/harness.js';

/**
 * `nnunet-ts predict -i input -o output -m model` in this process (cpu-native, no mirroring, no time estimate), with
 * `extra` arguments after those: the exit code, everything said on stderr, and the output folder (default: a new
 * temporary folder's `out`).
 */
export async function predictCli(model: string, input: string, output = join(tempDir('nnunet-pc-out-'), 'out'), ...extra: string[]): Promise<{ code: number; log: string; output: string }> {
  const config = join(tempDir('nnunet-pc-cfg-'), 'c.json');
  writeFileSync(config, JSON.stringify({ estimate: false }));
  const said: string[] = [];
  const spy = vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => said.push(String(s)) > 0);
  try {
    const code = await cli.runCli(['predict', '-i', input, '-o', output, '-m', model, '--backend', 'cpu-native', '--disable-tta', '--config', config, ...extra], { out: () => {} }, (s) => said.push(s + '\n'));
    return { code, log: said.join(''), output };
  } finally {
    spy.mockRestore();
  }
}
