/**
 * A worker pointed at a Redis that is not there says so and exits with code 1 (its connections' retries used to keep
 * the process alive, printing ECONNREFUSED, after the error); a decathlon submitted to it is refused before any work.
 * Needs no redis-server.
 */
import { describe, expect, it } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnCli } from './helpers/processes.js';
import { REPO_ROOT } from './helpers/paths.js';

const EXAMPLE = join(REPO_ROOT, 'examples', 'Task04_Hippocampus_subset');

describe('worker --queue with no Redis at the address', () => {
  it('prints one error naming the address and the fix, and exits 1', { timeout: 120_000 }, async () => {
    const w = spawnCli(['worker', '--queue', 'redis://127.0.0.1:1', '--backend', 'cpu-js']);
    const code = await Promise.race([w.exited, sleep(90_000).then(() => 'still running')]);
    if (code === 'still running') w.child.kill('SIGKILL');
    expect(code, w.output()).toBe(1);
    expect(w.output()).toMatch(/cannot reach the queue's Redis at 127\.0\.0\.1:1/);
    expect(w.output()).toMatch(/redis-server --port 1|--queue redis:\/\/HOST:PORT/);
    // one error, not a line per connection retry (it printed ECONNREFUSED about a dozen times)
    expect(w.output().match(/ECONNREFUSED/g) ?? [], w.output()).toHaveLength(1);
  });
});

describe('decathlon --queue with no Redis at the address', () => {
  it('is refused before any work: nothing validated, fingerprinted or planned', { timeout: 120_000 }, async () => {
    const out = mkdtempSync(join(tmpdir(), 'nnunet-noredis-'));
    try {
      const d = spawnCli(['decathlon', EXAMPLE, '-o', out, '--queue', 'redis://127.0.0.1:1', '--preset', 'tiny']);
      const code = await Promise.race([d.exited, sleep(90_000).then(() => 'still running')]);
      if (code === 'still running') d.child.kill('SIGKILL');
      expect(code, d.output()).toBe(1);
      expect(d.output()).toMatch(/error: cannot reach the queue's Redis at 127\.0\.0\.1:1 within 10 s/);
      expect(d.output()).toContain('hint: start it (redis-server --port 1) or pass the right --queue redis://HOST:PORT');
      expect(d.output()).not.toContain('dataset:');
      expect(readdirSync(out).filter((f) => f !== '.nnunet-ts.lock')).toEqual([]);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});
