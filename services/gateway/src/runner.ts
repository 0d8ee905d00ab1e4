/**
 * Runs jobs: validated request → prepared pipeline call → job states in the store (QUEUED, RUNNING with
 * progress, then SUCCEEDED with PNGs and the manifest, or FAILED with a code).
 */
import { randomUUID } from 'node:crypto';
import type { Stages } from '@diffusevae/pipeline';
import { classify } from './errors.js';
import { prepare } from './executions.js';
import { encodeImages } from './images.js';
import type { Job, JobStore, StepInfo } from './jobs.js';
import type { Logger } from './log.js';
import type { ServedModel } from './model.js';
import type { JobRequest } from './validate.js';

export interface Submitted {
  /** the job as first stored (QUEUED) */
  job: Job;
  /** the finished job (SUCCEEDED or FAILED): a pipeline failure is a FAILED job; rejects only if the store fails */
  done: Promise<Job>;
}

export class JobRunner {
  private readonly running = new Map<string, AbortController>();
  private stopped = false;

  constructor(
    private readonly stages: Stages,
    private readonly model: ServedModel,
    private readonly store: JobStore,
    private readonly log: Logger,
  ) {}

  get active(): number {
    return this.running.size;
  }

  /** Throws (before any job exists) when the request's images are bad; otherwise starts the job. */
  async submit(req: JobRequest): Promise<Submitted> {
    if (this.stopped) throw new Error('the gateway is shutting down');
    const execution = await prepare(this.stages, this.model, req);
    const base = { id: randomUUID(), kind: req.kind, createdAt: new Date().toISOString() };
    const queued: Job = { ...base, status: 'QUEUED' };
    await this.store.put(queued);
    const abort = new AbortController();
    this.running.set(base.id, abort);

    const run = async (): Promise<Job> => {
      let progress: StepInfo | undefined;
      const started = Date.now();
      await this.store.put({ ...base, status: 'RUNNING' });
      try {
        const out = await execution.run({
          signal: abort.signal,
          onStep: async (s) => {
            progress = { step: s.stepIndex + 1, steps: s.steps, timestep: s.timestep };
            await this.store.put({ ...base, status: 'RUNNING', progress });
          },
        });
        const [images, stage1] = [await encodeImages(out.images), await encodeImages(out.stage1)];
        const manifest = { ...execution.manifest, ...out.extra, jobId: base.id, durationMs: Date.now() - started };
        return { ...base, status: 'SUCCEEDED', ...(progress ? { progress } : {}), finishedAt: new Date().toISOString(), images, stage1, manifest };
      } catch (e) {
        const f = classify(e);
        if (f.internal) this.log.error('job failed', { jobId: base.id, kind: base.kind, err: e });
        else this.log.warn('job failed', { jobId: base.id, kind: base.kind, code: f.code, message: f.message });
        return { ...base, status: 'FAILED', ...(progress ? { progress } : {}), finishedAt: new Date().toISOString(), error: { code: f.code, message: f.message } };
      }
    };
    const done = run().then(async (job) => {
      this.running.delete(base.id);
      await this.store.put(job);
      this.log.info('job finished', { jobId: job.id, kind: job.kind, status: job.status });
      return job;
    });
    return { job: queued, done };
  }

  /** Refuses new jobs and cancels the running ones (they end FAILED, CANCELLED). */
  stop(): void {
    this.stopped = true;
    for (const abort of this.running.values()) abort.abort(Object.assign(new Error('the gateway is shutting down'), { name: 'AbortError' }));
  }
}
