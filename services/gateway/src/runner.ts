/**
 * Runs jobs: validated request → prepared pipeline call → job states in the store (QUEUED with its queue
 * position, RUNNING with progress, ETA and a preview, then SUCCEEDED with PNGs and the manifest, or FAILED with
 * a code). At most maxActiveJobs run at once (the scheduler batches them step by step); up to maxQueuedJobs
 * more wait here; past that a submit is refused with RESOURCE_EXHAUSTED and a retry hint.
 */
import { randomUUID } from 'node:crypto';
import { PlatformError } from '@diffusevae/contracts';
import type { Stages } from '@diffusevae/pipeline';
import { classify } from './errors.js';
import { prepare, type Execution } from './executions.js';
import { encodeImages } from './images.js';
import type { Job, JobStore } from './jobs.js';
import type { Logger } from './log.js';
import type { ServedModel } from './model.js';
import { ProgressWriter, type ProgressOptions } from './progress.js';
import type { JobRequest } from './validate.js';

export interface RunnerLimits extends ProgressOptions {
  /** MAX_ACTIVE_JOBS: jobs this gateway runs at once */
  maxActiveJobs: number;
  /** MAX_QUEUED_JOBS: jobs waiting for a slot; past that, RESOURCE_EXHAUSTED */
  maxQueuedJobs: number;
  /** MAX_IMAGE_STEPS: count × steps of one request */
  maxImageSteps: number;
}

export const DEFAULT_LIMITS: RunnerLimits = {
  maxActiveJobs: 64,
  maxQueuedJobs: 256,
  maxImageSteps: 16_384,
  // four updates a second is a smooth progress bar; each is a JetStream KV write per job, and with many jobs
  // in flight on a few cores, every write more is time taken from the refiner
  progressIntervalMs: 250,
  previewIntervalMs: 1000,
};

export interface Submitted {
  /** the job as first stored (QUEUED) */
  job: Job;
  /** the finished job (SUCCEEDED or FAILED): a pipeline failure is a FAILED job; rejects only if the store fails */
  done: Promise<Job>;
}

type Base = { id: string; kind: Job['kind']; createdAt: string };

interface Pending {
  base: Base;
  execution: Execution;
  abort: AbortController;
  finish(job: Job): void;
}

const cancelledError = () => new PlatformError('CANCELLED', 'the job was cancelled');

export class JobRunner {
  private readonly queue: Pending[] = [];
  private readonly running = new Map<string, Pending>();
  private readonly finished = new Map<string, Promise<Job>>();
  /** moving average of a job's run time, for retry hints */
  private jobMs = 0;
  private stopped = false;

  constructor(
    private readonly stages: Stages,
    private readonly model: ServedModel,
    private readonly store: JobStore,
    private readonly log: Logger,
    private readonly limits: RunnerLimits = DEFAULT_LIMITS,
  ) {}

  get active(): number {
    return this.running.size;
  }

  get queued(): number {
    return this.queue.length;
  }

  /** Jobs ahead of this one in this gateway's queue (0 once it runs); undefined when it is not queued here. */
  queuePosition(id: string): number | undefined {
    const i = this.queue.findIndex((p) => p.base.id === id);
    return i < 0 ? (this.running.has(id) ? 0 : undefined) : i + 1;
  }

  /** Throws (before any job exists) on bad images, too many image-steps or a full queue; otherwise queues the job. */
  async submit(req: JobRequest): Promise<Submitted> {
    if (this.stopped) throw new PlatformError('SERVICE_UNAVAILABLE', 'the gateway is shutting down');
    this.checkImageSteps(req);
    this.checkRoom();
    const execution = await prepare(this.stages, this.model, req);
    this.checkRoom(); // decoding the input took a while: others may have taken the room
    const base: Base = { id: randomUUID(), kind: req.kind, createdAt: new Date().toISOString() };
    const startsNow = this.running.size < this.limits.maxActiveJobs;
    const queued: Job = { ...base, status: 'QUEUED', queuePosition: startsNow ? 0 : this.queue.length + 1 };
    await this.store.put(queued);
    let finish!: (job: Job) => void;
    const done = new Promise<Job>((resolve) => (finish = resolve));
    this.finished.set(base.id, done);
    void done.then(() => this.finished.delete(base.id));
    this.queue.push({ base, execution, abort: new AbortController(), finish });
    this.pump();
    return { job: queued, done };
  }

  /**
   * Cancels a job of this gateway: a queued one at once, a running one within a step (the scheduler drops it
   * from its batch). Resolves with the finished job; undefined when the job does not run here.
   */
  cancel(id: string): Promise<Job> | undefined {
    const i = this.queue.findIndex((p) => p.base.id === id);
    if (i >= 0) {
      const [p] = this.queue.splice(i, 1);
      void this.complete(p!, this.failedJob(p!.base, cancelledError(), undefined));
    } else {
      this.running.get(id)?.abort.abort(cancelledError());
    }
    return this.finished.get(id);
  }

  /** Refuses new jobs and cancels the running and queued ones (they end FAILED, CANCELLED). */
  stop(): void {
    this.stopped = true;
    for (const p of this.queue.splice(0)) void this.complete(p, this.failedJob(p.base, cancelledError(), undefined));
    for (const p of this.running.values()) p.abort.abort(Object.assign(new Error('the gateway is shutting down'), { name: 'AbortError' }));
  }

  private checkImageSteps(req: JobRequest): void {
    if (req.kind === 'generate' && !req.refine) return;
    const n = req.count * req.sampler.steps;
    if (n > this.limits.maxImageSteps) {
      throw PlatformError.badInput(
        'input.sampler.steps',
        `count × steps = ${req.count} × ${req.sampler.steps} = ${n} is over this gateway's limit of ${this.limits.maxImageSteps} image-steps per request (MAX_IMAGE_STEPS)`,
      );
    }
  }

  private checkRoom(): void {
    if (this.running.size < this.limits.maxActiveJobs || this.queue.length < this.limits.maxQueuedJobs) return;
    // the queue drains maxActiveJobs at a time, one average job duration per round
    const rounds = Math.ceil((this.queue.length + 1) / this.limits.maxActiveJobs);
    const retryAfterMs = Math.max(100, Math.round(rounds * (this.jobMs || 1000)));
    throw new PlatformError(
      'RESOURCE_EXHAUSTED',
      `the gateway's queue is full (${this.running.size} jobs running, ${this.queue.length} waiting; MAX_QUEUED_JOBS=${this.limits.maxQueuedJobs}); retry in about ${retryAfterMs} ms`,
      undefined,
      retryAfterMs,
    );
  }

  private pump(): void {
    while (!this.stopped && this.running.size < this.limits.maxActiveJobs && this.queue.length > 0) {
      const p = this.queue.shift()!;
      this.running.set(p.base.id, p);
      void this.run(p).then((job) => this.complete(p, job));
    }
  }

  private async complete(p: Pending, job: Job): Promise<void> {
    this.running.delete(p.base.id);
    try {
      await this.store.put(job);
    } catch (e) {
      // e.g. a result over the store's size limit: the job must still end, with a state that fits
      this.log.error('storing a finished job failed', { jobId: job.id, err: e });
      const f = classify(e);
      await this.store.put({ ...p.base, status: 'FAILED', finishedAt: new Date().toISOString(), error: { code: f.code, message: f.message } }).catch(() => {});
    }
    this.log.info('job finished', { jobId: job.id, kind: job.kind, status: job.status });
    p.finish(job);
    this.pump();
  }

  private failedJob(base: Base, e: unknown, progress: ProgressWriter['progress']): Job {
    const f = classify(e);
    if (f.internal) this.log.error('job failed', { jobId: base.id, kind: base.kind, err: e });
    else this.log.warn('job failed', { jobId: base.id, kind: base.kind, code: f.code, message: f.message });
    const error = { code: f.code, message: f.message, ...(f.retryAfterMs !== undefined ? { retryAfterMs: f.retryAfterMs } : {}) };
    return { ...base, status: 'FAILED', ...(progress ? { progress } : {}), finishedAt: new Date().toISOString(), error };
  }

  private async run({ base, execution, abort }: Pending): Promise<Job> {
    const started = Date.now();
    // the RUNNING write goes out while stage 1 starts: a JetStream round trip is off each job's critical path;
    // progress writes wait for it, so the store never sees them out of order
    const running = this.store.put({ ...base, status: 'RUNNING' });
    running.catch(() => {}); // awaited below; a failure fails the job there
    const writer = new ProgressWriter(
      async (progress, preview) => {
        await running;
        await this.store.put({ ...base, status: 'RUNNING', progress, ...(preview ? { preview } : {}) });
      },
      this.limits,
      (e) => this.log.warn('progress not stored', { jobId: base.id, err: e }),
    );
    try {
      const out = await execution.run({ signal: abort.signal, onStep: (s) => writer.step(s) });
      // the last progress write finishes while the PNGs are encoded: the finished state is written after both
      const closed = Promise.all([writer.close(), running]);
      closed.catch(() => {}); // awaited below, once the images are encoded
      const [images, stage1] = [encodeImages(out.images), encodeImages(out.stage1)];
      await closed;
      const durationMs = Date.now() - started;
      this.jobMs = this.jobMs === 0 ? durationMs : 0.8 * this.jobMs + 0.2 * durationMs;
      const manifest = { ...execution.manifest, ...out.extra, jobId: base.id, durationMs };
      const progress = writer.progress;
      return { ...base, status: 'SUCCEEDED', ...(progress ? { progress } : {}), finishedAt: new Date().toISOString(), images, stage1, manifest };
    } catch (e) {
      await Promise.allSettled([writer.close(), running]);
      return this.failedJob(base, abort.signal.aborted ? abort.signal.reason : e, writer.progress);
    }
  }
}
