import type { JobEvent, JobExecutor, JobGraph, JobRunner, JobSpec } from '../../contracts/jobs.js';
import { DataError, NnunetError } from '../../util/errors.js';
import { predictionSummary } from '../predict-stage.js';
import { silentReporter, type Reporter } from '../progress.js';

/** Kinds with one small job per case: the runner shows one bar for the wave instead of one per job. */
const PER_CASE = new Set<JobSpec['kind']>(['preprocess', 'predict']);

/**
 * Jobs of a wave that failed with user errors (`InProcessRunner`): `failed` holds each job and its error's message.
 */
export class JobsFailedError extends DataError {
  constructor(message: string, readonly failed: { job: JobSpec; message: string }[], hint: string) {
    super(message, { hint });
    this.name = 'JobsFailedError';
  }
}

/**
 * The default job runner: every job in this process, wave after wave, in the graph's order (today's single-machine
 * behaviour). A job failing with a user error (`NnunetError`) does not stop the other jobs of its wave; after the
 * wave, one `JobsFailedError` lists every failed job (as `runPreprocess` lists every failed case). Jobs that return
 * `JobOutcome.outputs` (test predictions) are summed into one line after their wave: written and kept. Failed test
 * predictions do not stop the evaluation wave after them: it evaluates the cases predicted and names the missing
 * ones; the error is thrown after it.
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
    let deferred: JobsFailedError | undefined;
    for (const [w, wave] of graph.waves.entries()) {
      const bar = PER_CASE.has(wave[0]!.kind) && wave.length > 1;
      const jobRep = bar ? silentReporter((s) => this.rep.log(s)) : this.rep;
      if (bar) this.rep.start(wave[0]!.kind === 'preprocess' ? `preprocess ${[...new Set(wave.map((j) => j.configuration))].join(', ')}` : 'predict', wave.length);
      const failed: { job: JobSpec; message: string; line: string }[] = [];
      const outputs = new Map<string, { written: number; kept: number }>();
      for (const [i, job] of wave.entries()) {
        onEvent({ job, state: 'active', done, total });
        try {
          const o = (await this.execute(job, graph.run, jobRep))?.outputs;
          if (o) {
            const n = outputs.get(o.folder) ?? { written: 0, kept: 0 };
            outputs.set(o.folder, { written: n.written + o.written, kept: n.kept + o.kept });
          }
        } catch (e) {
          if (!(e instanceof NnunetError)) throw e;
          failed.push({ job, message: e.message, line: `${job.caseId ?? job.id}: ${e.message}${e.hint ? `\n      fix: ${e.hint}` : ''}` });
          onEvent({ job, state: 'failed', message: e.message, done, total });
          continue;
        } finally {
          if (bar) this.rep.update(i + 1, job.caseId);
        }
        onEvent({ job, state: 'completed', done: ++done, total });
      }
      if (bar) this.rep.stop();
      // one line for the wave, not one per job: how many outputs were written and how many kept
      for (const [folder, n] of outputs) this.rep.log(`${wave[0]!.kind}: ${predictionSummary(n.written, n.kept, folder, n.kept ? 'predicted earlier by the same model from the same images' : undefined)}`);
      if (!failed.length) continue;
      const kind = wave[0]!.kind;
      const what = kind === 'preprocess' ? `preprocessing failed for ${failed.length} case(s)` : kind === 'predict' ? `${failed.length} of ${wave.length} test case(s) could not be predicted` : `${failed.length} ${kind} job(s) failed`;
      const err = new JobsFailedError(`${what}:\n  ${failed.map((f) => f.line).join('\n  ')}`, failed, 'fix these and run the same command again; finished outputs are kept');
      // the evaluation still runs on the cases predicted (naming the missing ones); the run fails after it
      if (kind === 'predict' && graph.waves.slice(w + 1).every((x) => x.every((j) => j.kind === 'evaluate'))) deferred = err;
      else throw deferred ? new JobsFailedError(`${deferred.message}\n${err.message}`, [...deferred.failed, ...failed], err.hint!) : err;
    }
    if (deferred) throw deferred;
  }

  async close(): Promise<void> {}
}
