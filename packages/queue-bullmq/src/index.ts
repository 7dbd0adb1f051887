/**
 * @nnunet-ts/queue-bullmq: nnunet-ts runs spread over worker processes and machines through BullMQ on Redis.
 * `registerDefaults` registers the `bullmq` job-queue plugin (URL schemes `redis:` and `rediss:`), which the CLI
 * uses for `nnunet-ts worker --queue redis://HOST:PORT` and `nnunet-ts decathlon ... --queue redis://HOST:PORT`.
 */
import type { JobQueuePlugin, Registry } from '@nnunet-ts/core';
import { BullMqRunner } from './runner.js';
import { startWorker } from './worker.js';

export * from './connection.js';
export * from './runner.js';
export * from './worker.js';

/** The BullMQ job-queue plugin. */
export const bullmqQueue: JobQueuePlugin = {
  name: 'bullmq',
  protocols: ['redis:', 'rediss:'],
  runner: (url) => new BullMqRunner(url),
  worker: (url, opts) => startWorker(url, opts),
};

/** Register the `bullmq` job-queue plugin. */
export function registerDefaults(registry: Registry, opts: { override?: boolean } = {}): void {
  if (!opts.override && registry.has('jobQueue', bullmqQueue.name)) return;
  registry.register('jobQueue', bullmqQueue, opts);
}

/** This package as a plugin module. */
export const plugin = { name: '@nnunet-ts/queue-bullmq', register: registerDefaults };
