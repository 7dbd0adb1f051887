import { setTimeout as sleep } from 'node:timers/promises';
import { Queue, QueueEvents, type Job } from 'bullmq';
import { NnunetError, graphJobs, type JobEvent, type JobGraph, type JobRunner, type JobSpec } from '@nnunet-ts/core';
import type { Redis } from 'ioredis';
import { closeWithin, parseQueueUrl, redisConnection, waitConnected, type QueueAddress } from './connection.js';
import { RUN_JOB, runJobId, workJobId, type RunJobData } from './worker.js';

/** States in which a run's orchestrating job is still going: a second submit attaches to it. */
const LIVE = new Set(['active', 'waiting', 'waiting-children', 'delayed', 'prioritized']);

/**
 * Submits a run as a BullMQ flow (one orchestrating job `run.<runKey>` whose children are the waves' jobs, added
 * wave by wave by the workers) and follows it until it is done: per-job events, a failed job's message as an
 * `NnunetError`. A second submit of the same run (same key) attaches to the running flow. When the run's jobs vanish
 * from Redis (Redis restarted without persistence) it submits the run again: every job skips the outputs already
 * in the run folder, so nothing written is lost or redone.
 */
export class BullMqRunner implements JobRunner {
  readonly name = 'bullmq';
  private readonly a: QueueAddress;
  private queue?: Queue;
  private events?: QueueEvents;
  private readonly connections: Redis[] = [];
  private conn?: Redis;

  private readonly pollMs: number;

  constructor(url: string, opts: { pollMs?: number } = {}) {
    this.a = parseQueueUrl(url);
    this.pollMs = opts.pollMs ?? 1000;
  }

  /**
   * Connect to Redis (once; `run` reuses the connection), so that the submitter finds an unreachable queue before it
   * validates and plans.
   * @throws NnunetError naming the address and how to start Redis, when it cannot be reached within 10 s
   */
  async connect(): Promise<void> {
    if (!this.conn) {
      this.conn = redisConnection(this.a);
      this.connections.push(this.conn);
    }
    await waitConnected(this.conn, this.a);
  }

  async run(graph: JobGraph, onEvent: (e: JobEvent) => void = () => {}): Promise<void> {
    await this.connect();
    const conn = this.conn!;
    const eventsConn = redisConnection(this.a);
    this.connections.push(eventsConn);
    this.queue = new Queue(this.a.queue, { connection: conn });
    this.events = new QueueEvents(this.a.queue, { connection: eventsConn });
    // while Redis is away ioredis reconnects on its own: connection errors are not news
    this.queue.on('error', () => {});
    this.events.on('error', () => {});
    await this.events.waitUntilReady();
    const specs = new Map(graphJobs(graph).map((s) => [workJobId(graph.runKey, s), s]));
    const tracker = this.track(specs, onEvent);
    await this.submit(graph, onEvent);
    tracker.done = await this.countDone(specs);
    await this.follow(graph, tracker, onEvent);
  }

  /** Attach to the run's live flow, or (re)submit it (a finished or failed one is removed first). */
  private async submit(graph: JobGraph, onEvent: (e: JobEvent) => void, again = false): Promise<void> {
    const id = runJobId(graph.runKey);
    const existing = await this.queue!.getJob(id);
    if (existing) {
      const state = await existing.getState();
      if (LIVE.has(state)) {
        onEvent({ job: { id, kind: 'run' }, state: 'attached', message: `attached to the running flow ${id} (${state})` });
        return;
      }
      await existing.remove({ removeChildren: true });
    }
    await this.queue!.add(RUN_JOB, { graph, step: 0 } satisfies RunJobData, { jobId: id, attempts: 3, removeOnComplete: false, removeOnFail: false });
    if (again) onEvent({ job: { id, kind: 'run' }, state: 'resubmitted', message: `the queue lost run ${id} (Redis restarted?): submitted again; outputs in the run folder are kept` });
  }

  private track(specs: Map<string, JobSpec>, onEvent: (e: JobEvent) => void) {
    // a set: after a lost queue the resubmitted jobs complete again without counting twice
    const completed = new Set<string>();
    const t = { done: 0, total: specs.size, failures: new Map<string, string>() };
    const ev = this.events!;
    ev.on('active', ({ jobId }) => {
      const job = specs.get(jobId);
      if (job) onEvent({ job, state: 'active', done: t.done, total: t.total });
    });
    ev.on('completed', ({ jobId }) => {
      const job = specs.get(jobId);
      if (!job) return;
      completed.add(jobId);
      t.done = Math.max(t.done, completed.size);
      onEvent({ job, state: 'completed', done: t.done, total: t.total });
    });
    ev.on('failed', ({ jobId, failedReason }) => {
      const job = specs.get(jobId);
      if (!job) return;
      t.failures.set(jobId, failedReason);
      onEvent({ job, state: 'failed', message: failedReason, done: t.done, total: t.total });
    });
    ev.on('progress', ({ jobId, data }) => {
      const job = specs.get(jobId);
      const text = (data as { text?: string } | undefined)?.text;
      if (job && text) onEvent({ job, state: 'progress', message: text, done: t.done, total: t.total });
    });
    return t;
  }

  private async countDone(specs: Map<string, JobSpec>): Promise<number> {
    let n = 0;
    for (const id of specs.keys()) if ((await this.queue!.getJobState(id)) === 'completed') n++;
    return n;
  }

  /** Poll the orchestrating job until it completes; resubmit when it vanished; throw a failed job's message. */
  private async follow(graph: JobGraph, t: { failures: Map<string, string> }, onEvent: (e: JobEvent) => void): Promise<void> {
    const id = runJobId(graph.runKey);
    for (;;) {
      const state = await this.queue!.getJobState(id);
      if (state === 'completed') return;
      if (state === 'failed') throw await this.failure(id, t.failures);
      if (state === 'unknown') await this.submit(graph, onEvent, true);
      await sleep(this.pollMs);
    }
  }

  private async failure(id: string, failures: Map<string, string>): Promise<NnunetError> {
    const root = (await this.queue!.getJob(id)) as Job | undefined;
    const reason = root?.failedReason ?? '';
    const child = /child \S*?:([^:\s]+) failed/.exec(reason)?.[1];
    const childJob = child ? await this.queue!.getJob(child) : undefined;
    const first = childJob?.failedReason ?? [...failures.values()][0] ?? reason;
    const name = child ?? [...failures.keys()][0] ?? id;
    return new NnunetError(`job ${name} failed: ${first}`, { hint: 'fix the cause and submit the same command again: finished jobs are kept' });
  }

  /** Close the queue and its connections (the process can exit afterwards). */
  async close(): Promise<void> {
    await closeWithin([this.events?.close(), this.queue?.close()], 5000);
    for (const c of this.connections.splice(0)) c.disconnect();
  }
}
