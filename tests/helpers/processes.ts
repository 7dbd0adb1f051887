/**
 * Child processes for the queue tests: a private redis-server on 127.0.0.1 (free port, no persistence, as CI
 * starts it) and `nnunet-ts` processes (the built CLI) whose output is collected.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { REPO_ROOT } from './paths.js';

/** The built CLI entry point. */
export const CLI_BIN = resolve(REPO_ROOT, 'packages', 'cli', 'dist', 'bin.js');

/** True when `redis-server` is on the PATH. */
export function hasRedisServer(): boolean {
  return spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;
}

/** A free TCP port on 127.0.0.1. */
export async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => res(port));
    });
  });
}

/** A running child process with its collected stdout + stderr. */
export interface Proc {
  child: ChildProcess;
  output(): string;
  /** Resolves with the match once the output matches `re`; rejects after `ms` or when the process exits first. */
  waitFor(re: RegExp, ms: number): Promise<RegExpMatchArray>;
  /** Resolves with the exit code (128 + signal number style: null code reported as -1). */
  exited: Promise<number>;
}

/** Spawn `node <args>` with collected output. */
export function spawnNode(args: string[], env: Record<string, string> = {}): Proc {
  const child = spawn(process.execPath, args, { cwd: REPO_ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  let code: number | undefined;
  const exited = new Promise<number>((res) => child.on('exit', (c) => res((code = c ?? -1))));
  return {
    child,
    output: () => out,
    exited,
    async waitFor(re, ms) {
      const t0 = Date.now();
      for (;;) {
        const m = re.exec(out);
        if (m) return m;
        if (code !== undefined) throw new Error(`process exited (${code}) before output matched ${re}:\n${out.slice(-3000)}`);
        if (Date.now() - t0 > ms) throw new Error(`timeout waiting for ${re}:\n${out.slice(-3000)}`);
        await sleep(200);
      }
    },
  };
}

/** Spawn the built `nnunet-ts` CLI. */
export function spawnCli(args: string[], env: Record<string, string> = {}): Proc {
  return spawnNode([CLI_BIN, ...args], env);
}

/** A private redis-server: persistence off, loopback only. */
export interface RedisServer {
  port: number;
  url: string;
  stop(): Promise<void>;
  /** Stop and start again on the same port (all data lost: persistence is off). */
  restart(): Promise<void>;
}

async function launch(port: number): Promise<ChildProcess> {
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  const t0 = Date.now();
  while (!/Ready to accept connections/.test(out)) {
    if (child.exitCode !== null) throw new Error(`redis-server exited: ${out}`);
    if (Date.now() - t0 > 15_000) throw new Error(`redis-server did not start: ${out}`);
    await sleep(100);
  }
  return child;
}

/** Start redis-server on a free port of 127.0.0.1. */
export async function startRedis(): Promise<RedisServer> {
  const port = await freePort();
  let child = await launch(port);
  const stop = async () => {
    if (child.exitCode !== null) return;
    const gone = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await gone;
  };
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    stop,
    async restart() {
      await stop();
      child = await launch(port);
    },
  };
}
