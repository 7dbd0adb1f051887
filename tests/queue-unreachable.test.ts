/**
 * A worker pointed at a Redis that is not there says so and exits with code 1 (its connections' retries used to keep
 * the process alive, printing ECONNREFUSED, after the error). Needs no redis-server.
 */
import { describe, expect, it } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import { spawnCli } from './helpers/processes.js';

describe('worker --queue with no Redis at the address', () => {
  it('prints one error naming the address and the fix, and exits 1', { timeout: 120_000 }, async () => {
    const w = spawnCli(['worker', '--queue', 'redis://127.0.0.1:1', '--backend', 'cpu-js']);
    const code = await Promise.race([w.exited, sleep(90_000).then(() => 'still running')]);
    if (code === 'still running') w.child.kill('SIGKILL');
    expect(code, w.output()).toBe(1);
    expect(w.output()).toMatch(/cannot reach the queue's Redis at 127\.0\.0\.1:1/);
    expect(w.output()).toMatch(/redis-server --port 1|--queue redis:\/\/HOST:PORT/);
  });
});
