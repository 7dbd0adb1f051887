import type { JobEvent, JobExecutor, JobGraph, JobRunner, JobSpec } from '../../contracts/jobs.js';
import { DataError, NnunetError } from '../../util/errors.js';
import { silentReporter, type Reporter } from '../progress.js';

/** Kinds with one small job per case: the runner shows one bar for the wave instead of one per job. */
const PER_CASE = new Set<JobSpec['kind']>(['preprocess', 'predict']);

/**
 * The default job runner: every job in this process, wave after wave, in the graph's order (today's single-machine
 * behaviour). A job failing with a user error (`NnunetError`) does not stop the other jobs of its wave; after the
 * wave, one `DataError` lists every failed job (as `runPreprocess` lists every failed case).
 */
export class InProcessRunner implements JobRunner {
  readonly name = 'in-process';
  constructor(
    private readonly execute: JobExecutor,
    private readonly rep: Reporter,
  ) {}

  async run(graph: JobGraph, onEvent: (e: JobEvent) => void = () => {}): Promise<void> {
    const total = graph.waves.reduce((n, w) => n + w.length, 0);
    let done = 0;
    for (const wave of graph.waves) {
      const bar = PER_CASE.has(wave[0]!.kind) && wave.length > 1;
      const jobRep = bar ? silentReporter((s) => this.rep.log(s)) : this.rep;
      if (bar) this.rep.start(wave[0]!.kind === 'preprocess' ? `preprocess ${[...new Set(wave.map((j) => j.configuration))].join(', ')}` : 'predict', wave.length);
      const failed: string[] = [];
      for (const [i, job] of wave.entries()) {
        onEvent({ job, state: 'active', done, total });
        try {
          await this.execute(job, graph.run, jobRep);
        } catch (e) {
          if (!(e instanceof NnunetError)) throw e;
          failed.push(`${job.caseId ?? job.id}: ${e.message}${e.hint ? ` (${e.hint})` : ''}`);
          onEvent({ job, state: 'failed', message: e.message, done, total });
          continue;
        } finally {
          if (bar) this.rep.update(i + 1, job.caseId);
        }
        onEvent({ job, state: 'completed', done: ++done, total });
      }
      if (bar) this.rep.stop();
      if (!failed.length) continue;
      const what = wave[0]!.kind === 'preprocess' ? `preprocessing failed for ${failed.length} case(s)` : `${failed.length} ${wave[0]!.kind} job(s) failed`;
      throw new DataError(`${what}:\n  ${failed.join('\n  ')}`, { hint: 'fix these and run again; finished outputs are kept' });
    }
  }

  async close(): Promise<void> {}
}
