import { Redis } from 'ioredis';
import { NnunetError } from '@nnunet-ts/core';

/** Default BullMQ queue name (override with `?queue=<name>` in the URL). */
export const DEFAULT_QUEUE = 'nnunet-ts';

/** A parsed queue URL: `redis://[user:password@]host[:port][/db][?queue=name]` (`rediss://` for TLS). */
export interface QueueAddress {
  /** The Redis URL without the `queue` parameter. */
  redisUrl: string;
  queue: string;
  /** `host:port` for messages. */
  where: string;
}

/**
 * Parse a `--queue` URL.
 * @throws NnunetError for anything but a redis:// or rediss:// URL, naming the expected form
 */
export function parseQueueUrl(url: string): QueueAddress {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new NnunetError(`--queue '${url}' is not a URL`, { hint: 'pass --queue redis://HOST:PORT (e.g. redis://127.0.0.1:6379)' });
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') {
    throw new NnunetError(`--queue '${url}': only redis:// and rediss:// queues are supported`, { hint: 'pass --queue redis://HOST:PORT' });
  }
  const queue = u.searchParams.get('queue') || DEFAULT_QUEUE;
  if (queue.includes(':')) throw new NnunetError(`--queue '${url}': the queue name may not contain ':'`);
  u.searchParams.delete('queue');
  return { redisUrl: u.toString(), queue, where: `${u.hostname}:${u.port || 6379}` };
}

/**
 * A Redis connection for BullMQ (one per Queue, Worker and QueueEvents): `maxRetriesPerRequest: null` as BullMQ
 * requires for workers; ioredis reconnects on its own (every 0.1-2 s) when Redis restarts.
 */
export function redisConnection(a: QueueAddress): Redis {
  const r = new Redis(a.redisUrl, { maxRetriesPerRequest: null, retryStrategy: (n) => Math.min(100 * n, 2000) });
  // errors while Redis is away are retried by ioredis; without a listener Node would print each as unhandled
  r.on('error', () => {});
  return r;
}

/**
 * Wait until `r` is connected.
 * @throws NnunetError naming the address when Redis cannot be reached within `ms`
 */
export async function waitConnected(r: Redis, a: QueueAddress, ms = 10_000): Promise<void> {
  if (r.status === 'ready') return;
  let last = '';
  const onErr = (e: Error) => (last = e.message);
  r.on('error', onErr);
  try {
    await new Promise<void>((res, rej) => {
      const t = setTimeout(() => rej(new NnunetError(`cannot reach the queue's Redis at ${a.where} within ${ms / 1000} s${last ? ` (${last})` : ''}`, {
        hint: `start it (redis-server --port ${a.where.split(':')[1]}) or pass the right --queue redis://HOST:PORT`,
      })), ms);
      r.once('ready', () => {
        clearTimeout(t);
        res();
      });
    });
  } finally {
    r.off('error', onErr);
  }
}

/** Await `closing` (BullMQ `close()` calls), at most `ms` (they wait for Redis, which may be gone). */
export async function closeWithin(closing: (Promise<unknown> | undefined)[], ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise((res) => (timer = setTimeout(res, ms)));
  await Promise.race([Promise.allSettled(closing), limit]);
  clearTimeout(timer);
}
