import { setTimeout as sleep } from 'node:timers/promises';
/**
 * Runs jobs. A submitted job is validated, put in the work queue (work-queue.ts: a JetStream stream shared by
 * every gateway replica) and stored QUEUED; whichever replica's runner takes it stores RUNNING with progress, ETA
 * and a preview, then SUCCEEDED with PNGs and the manifest, or FAILED with a code, and only then acknowledges it.
 *
 * Nothing about a job lives only here. A runner that dies leaves its jobs to be redelivered; one that stops
 * (SIGTERM) hands them over: the schedulers save their checkpoints, the jobs go back to the queue, and the next
 * runner resumes them (RefineOptions.checkpoint is the job id). A transient failure (no replica of a service
 * answered, or not in time) gives the job back for another try after a back-off, up to JOB_MAX_ATTEMPTS runs.
 * At most maxActiveJobs run here at once (the scheduler batches them step by step).
 */
import { randomUUID } from 'node:crypto';
import { PlatformError } from '@diffusevae/contracts';
import { Handover, jobLogger, requestLogger } from '@diffusevae/service-kit';
import type { Tensor } from '@diffusevae/tensor';
import { isRequestId } from './access-log.js';
import { classify } from './errors.js';
import { prepare } from './executions.js';
import { encodeImages } from './images.js';
import { pngParameters, type ImageSlot } from './infotext.js';
import { isFinished, type Job, type JobStore } from './jobs.js';
import { JobTooLargeError, type JobBus } from './kv-store.js';
import type { Logger } from './log.js';
import type { ModelSets, ServedSet } from './model-sets.js';
import { ProgressWriter, type ProgressOptions } from './progress.js';
import type { JobRequest } from './validate.js';
import type { Delivery, WorkItem, WorkQueue } from './work-queue.js';

export interface RunnerLimits extends ProgressOptions {
  /** MAX_ACTIVE_JOBS: jobs this gateway runs at once */
  maxActiveJobs: number;
  /** MAX_QUEUED_JOBS: jobs waiting for a runner; the queue holds at most this many plus MAX_ACTIVE_JOBS */
  maxQueuedJobs: number;
  /** MAX_IMAGE_STEPS: count × steps of one request */
  maxImageSteps: number;
  /** JOB_MAX_ATTEMPTS: runs of one job (the first and the retries after transient failures or lost runners) */
  maxAttempts: number;
}

export const DEFAULT_LIMITS: RunnerLimits = {
  maxActiveJobs: 64,
  maxQueuedJobs: 256,
  maxImageSteps: 16_384,
  maxAttempts: 5,
  // four updates a second is a smooth progress bar; each is a JetStream KV write per job, and with many jobs
  // in flight on a few cores, every write more is time taken from the refiner
  progressIntervalMs: 250,
  previewIntervalMs: 1000,
};

export interface Submitted {
  /** the job as first stored (QUEUED) */
  job: Job;
  /** the finished job (SUCCEEDED or FAILED), wherever it runs: a pipeline failure is a FAILED job */
  done: Promise<Job>;
}

type Base = { id: string; kind: Job['kind']; createdAt: string; attempts: number; owner?: string };

export interface SubmitOptions {
  /** the job's id (default: a new UUID) */
  id?: string;
  /** the API key submitting it */
  owner?: string;
  /** the id of the request submitting it (x-request-id): the job's lines carry it, on whichever replica runs it */
  requestId?: string;
  /** the model set it runs on (a name from ModelSets; the resolvers checked it): default, the default set */
  model?: string;
}

/**
 * A work item as the runner queues it: the submitting request's id rides along (it is only for the logs; the queue
 * passes the item through as JSON, and one that comes without it, or with an unsafe one, has none).
 */
type TracedItem = WorkItem & { requestId?: string };

/** count × steps: what a job costs the refiner (0 for a generate without refinement). */
export function imageSteps(req: JobRequest): number {
  return req.kind === 'generate' && !req.refine ? 0 : req.count * req.sampler.steps;
}

function baseOf(item: WorkItem, attempts: number): Base {
  return { id: item.id, kind: item.kind, createdAt: item.createdAt, attempts, ...(item.owner ? { owner: item.owner } : {}) };
}

/** The job is finished already (cancelled while queued, or run by another runner): nothing to do. */
class Skip extends Error {}

/**
 * skip: the job is finished already (ack); superseded: a later try of it runs on another runner now (the job was
 * redelivered while this one still ran it): that try stores and acks, this one lets go without touching either
 */
type Outcome = { kind: 'finished'; job: Job } | { kind: 'release'; delayMs: number; why: string } | { kind: 'skip' } | { kind: 'superseded' };

const now = () => new Date().toISOString();
const cancelledError = () => new PlatformError('CANCELLED', 'the job was cancelled');

/** A job given back after a transient failure waits this long before its next try (ms). */
export function retryDelayMs(attempt: number): number {
  return Math.min(10_000, 1000 * 2 ** (attempt - 1));
}

export class JobRunner {
  /** jobs running here, by id: their abort controllers */
  private readonly running = new Map<string, AbortController>();
  private readonly waiters = new Map<string, Set<(job?: Job) => void>>();
  /** moving average of a job's run time, for retry hints */
  private jobMs = 0;
  private stopped = false;
  private consumer: { stop(): Promise<void> } | undefined;
  private readonly unsubscribe: () => void;

  constructor(
    /** the served model sets: a job runs on the stages of the set it names */
    private readonly sets: ModelSets,
    private readonly store: JobStore,
    private readonly queue: WorkQueue,
    private readonly bus: JobBus,
    private readonly log: Logger,
    private readonly limits: RunnerLimits = DEFAULT_LIMITS,
    /**
     * told once a job's final state is stored (by whichever replica ran it, or cancelled it while queued), with the
     * request when this runner finished it
     */
    private readonly onFinal: (job: Job, request?: JobRequest) => void = () => {},
  ) {
    this.unsubscribe = bus.subscribe({
      onCancel: (id) => this.running.get(id)?.abort(cancelledError()),
      onFinished: (id) => this.waiters.get(id)?.forEach((w) => w()),
    });
  }

  /** Starts taking jobs from the queue. */
  start(): this {
    this.consumer ??= this.queue.consume(this.limits.maxActiveJobs, (d) => this.handle(d));
    return this;
  }

  get active(): number {
    return this.running.size;
  }

  /** Jobs ahead of a queued one, from the queue itself: every replica gives the same answer. */
  async queuePosition(job: Extract<Job, { status: 'QUEUED' }>): Promise<number> {
    return job.queueSeq === undefined ? job.queuePosition : this.queue.position(job.queueSeq);
  }

  /** when a job submitted now should have a slot, for RESOURCE_EXHAUSTED */
  retryAfterMs(): number {
    const rounds = Math.ceil((this.limits.maxQueuedJobs + 1) / this.limits.maxActiveJobs);
    return Math.max(100, Math.round(rounds * (this.jobMs || 1000)));
  }

  /** Throws (before any job exists) on bad images or a full queue; otherwise queues the job. (MAX_IMAGE_STEPS: resolvers.ts) */
  async submit(req: JobRequest, opts: SubmitOptions = {}): Promise<Submitted> {
    if (this.stopped) throw new PlatformError('SERVICE_UNAVAILABLE', 'the gateway is shutting down');
    const set = this.sets.pick(opts.model);
    await prepare(set.stages, set.model, req); // decodes and checks the images: a bad one never becomes a job
    const traced = isRequestId(opts.requestId) ? opts.requestId : undefined;
    const item: TracedItem = {
      id: opts.id ?? randomUUID(),
      kind: req.kind,
      createdAt: now(),
      ...(opts.owner ? { owner: opts.owner } : {}),
      model: set.name,
      request: req,
      ...(traced ? { requestId: traced } : {}),
    };
    // before the queue has it: a runner may take it (and log `job started`) before enqueue returns
    const log = this.logOf(item);
    log.info({ kind: req.kind, model: set.name, imageSteps: imageSteps(req), ...(opts.owner ? { keyId: opts.owner } : {}) }, 'job submitted');
    const { seq, ahead } = await this.queue.enqueue(item).catch((e: unknown) => {
      log.warn({ code: classify(e).code }, 'job not queued'); // a full queue: the job never existed
      throw e;
    });
    // a job finished before this line is still seen: by the waiter's first read, at the latest
    const done = this.finished(item.id);
    const queued: Job = { ...baseOf(item, 0), updatedAt: now(), status: 'QUEUED', queuePosition: ahead, queueSeq: seq };
    // false when a runner took it already and stored RUNNING: that state is the newer one
    await this.store.update(queued, undefined);
    return { job: queued, done };
  }

  /**
   * Resolves with the job once it is finished, wherever it runs: told by the runner that finished it (over the
   * bus), and read again every few seconds in case that message was lost (a NATS reconnect).
   */
  finished(id: string): Promise<Job> {
    return new Promise<Job>((resolve) => {
      const set = this.waiters.get(id) ?? new Set();
      this.waiters.set(id, set);
      const check = async () => {
        const job = await this.store.get(id).catch(() => undefined);
        if (job && isFinished(job)) done(job);
      };
      const waiter = (job?: Job) => (job && isFinished(job) ? done(job) : void check());
      const poll = setInterval(() => void check(), 2000).unref();
      const done = (job: Job) => {
        clearInterval(poll);
        set.delete(waiter);
        if (set.size === 0) this.waiters.delete(id);
        resolve(job);
      };
      set.add(waiter);
      void check(); // it may have finished before anyone listened
    });
  }

  /**
   * Stops taking jobs and hands the running ones over to the other runners (checkpointed, back in the queue).
   * Callers waiting for a job here still hear when it finishes elsewhere, until close().
   */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const abort of this.running.values()) abort.abort(new Handover());
    await this.consumer?.stop();
  }

  /** Stops listening to the other replicas (after stop()). */
  close(): void {
    this.unsubscribe();
  }

  /** The job's lines: `job`, and `request` when the item names the request that submitted it. */
  private logOf(item: TracedItem) {
    const log = jobLogger(this.log, item.id);
    return isRequestId(item.requestId) ? requestLogger(log, item.requestId) : log;
  }

  /** One delivery: run the job (or see that it needs no run), store where it ended, then ack or give it back. */
  private async handle(d: Delivery): Promise<void> {
    const { item } = d;
    const base = baseOf(item, d.attempt);
    const abort = new AbortController();
    const log = this.logOf(item);
    this.running.set(item.id, abort);
    const keepAlive = setInterval(() => d.working(), this.queue.heartbeatMs);
    log.info({ kind: item.kind, attempt: d.attempt }, 'job started');
    try {
      const outcome = d.attempt > this.limits.maxAttempts ? await this.giveUp(base, log) : await this.run(base, item, abort, log);
      switch (outcome.kind) {
        case 'skip':
          log.info({ attempt: d.attempt }, 'job skipped: it is finished already');
          await d.ack();
          return;
        case 'superseded':
          log.info({ attempt: d.attempt }, 'job handed over: a later try of it runs elsewhere');
          return;
        case 'release': {
          log.warn({ attempt: d.attempt, why: outcome.why, retryInMs: outcome.delayMs }, 'job given back to the queue');
          // compare-and-set: a state that another runner finished meanwhile stays
          const entry = await this.store.entry(item.id).catch(() => undefined);
          if (entry && !isFinished(entry.job)) await this.store.update({ ...base, status: 'QUEUED', updatedAt: now(), queuePosition: 0 }, entry.revision).catch(() => {});
          d.release(outcome.delayMs);
          return;
        }
        case 'finished':
          await this.storeFinal(base, outcome.job, log);
          await d.ack().catch((e: unknown) => log.warn({ err: e }, 'ack failed (the job will be seen finished when redelivered)'));
          if (outcome.job.status === 'SUCCEEDED') {
            log.info({ kind: item.kind, status: outcome.job.status, attempt: d.attempt, durationMs: outcome.job.manifest['durationMs'] }, 'job finished');
          }
          this.waiters.get(item.id)?.forEach((w) => w(outcome.job));
          this.bus.finished(item.id);
          this.onFinal(outcome.job, item.request);
          return;
        default: {
          const never: never = outcome;
          throw new Error(`unknown outcome ${JSON.stringify(never)}`);
        }
      }
    } catch (e) {
      // the store or the queue failed under us (e.g. NATS restarting): the job goes back, nothing is lost
      log.warn({ err: e }, 'job handling failed; giving it back');
      d.release(retryDelayMs(d.attempt));
    } finally {
      clearInterval(keepAlive);
      this.running.delete(item.id);
    }
  }

  /** A delivery past JOB_MAX_ATTEMPTS: FAILED, unless a last run finished it and only its ack was lost. */
  private async giveUp(base: Base, log: Logger): Promise<Outcome> {
    const stored = await this.store.get(base.id);
    if (stored && isFinished(stored)) return { kind: 'skip' };
    const e = new PlatformError('SERVICE_UNAVAILABLE', `the job was tried ${base.attempts - 1} times (JOB_MAX_ATTEMPTS) and did not finish`);
    return { kind: 'finished', job: this.failedJob(base, e, undefined, log) };
  }

  /**
   * Takes the job over in the store (QUEUED → RUNNING, compare-and-set), next to stage 1 rather than before it:
   * a JetStream round trip or two stay off the job's critical path. Aborts the run when there is nothing to do.
   */
  private async claim(base: Base, abort: AbortController): Promise<void> {
    for (let i = 0; i < 3; i++) {
      const [entry, cancel] = await Promise.all([this.store.entry(base.id), this.store.cancelRequested(base.id)]);
      if (entry && isFinished(entry.job)) return void abort.abort(new Skip());
      if (cancel) return void abort.abort(cancelledError());
      const progress = entry?.job.status === 'RUNNING' ? entry.job.progress : undefined;
      if (await this.store.update({ ...base, status: 'RUNNING', updatedAt: now(), ...(progress ? { progress } : {}) }, entry?.revision)) return;
    }
    // contended by another runner on the same job (a false redelivery): both run it, with the same bytes
  }

  /**
   * The set the job names, on this replica. One this replica does not serve (MODEL_DIR differs between replicas,
   * e.g. in a rollout that adds a set) is a transient failure: the job goes back for a replica that serves it.
   */
  private setOf(item: WorkItem): ServedSet {
    const set = this.sets.get(item.model);
    if (!set) throw new PlatformError('SERVICE_UNAVAILABLE', `model set ${item.model} is not served by this gateway (its MODEL_DIR serves ${this.sets.names.join(', ')})`);
    return set;
  }

  private async run(base: Base, item: WorkItem, abort: AbortController, log: Logger): Promise<Outcome> {
    const req = item.request;
    const started = Date.now();
    // a store that fails (NATS restarting) is a transient failure: the job goes back to the queue, never FAILED
    const claim = this.claim(base, abort).catch((e: unknown) => {
      throw new PlatformError('SERVICE_UNAVAILABLE', `the job store did not answer: ${(e as Error).message}`);
    });
    claim.catch(() => {}); // awaited below
    const writer = new ProgressWriter(
      async (progress, preview) => {
        await claim;
        if (abort.signal.aborted) return; // finished or cancelled elsewhere: its stored state is not ours to touch
        await this.store.put({ ...base, status: 'RUNNING', updatedAt: now(), progress, ...(preview ? { preview } : {}) });
      },
      this.limits,
      (e) => log.warn({ err: e }, 'progress not stored'),
    );
    try {
      const set = this.setOf(item);
      const execution = await prepare(set.stages, set.model, req);
      const out = await execution.run({ signal: abort.signal, onStep: (s) => writer.step(s), checkpoint: base.id });
      // the last progress write finishes while the PNGs are encoded: the finished state is written after both
      const closed = Promise.all([writer.close(), claim]);
      closed.catch(() => {}); // awaited below, once the images are encoded
      // each PNG carries its parameters (without the job id: equal requests give equal bytes)
      const described = { ...execution.manifest, ...out.extra };
      const encode = (x: Tensor, output: ImageSlot['output']) => encodeImages(x, (index) => pngParameters(described, { index, of: x.shape[0]!, output }));
      const [images, stage1] = [encode(out.images, 'final'), encode(out.stage1, 'stage 1')];
      await closed;
      if (abort.signal.aborted) throw abort.signal.reason;
      const durationMs = Date.now() - started;
      this.jobMs = this.jobMs === 0 ? durationMs : 0.8 * this.jobMs + 0.2 * durationMs;
      const manifest = { ...execution.manifest, ...out.extra, jobId: base.id, durationMs };
      const progress = writer.progress;
      return {
        kind: 'finished',
        job: { ...base, status: 'SUCCEEDED', updatedAt: now(), ...(progress ? { progress } : {}), finishedAt: now(), images, stage1, manifest },
      };
    } catch (e) {
      await Promise.allSettled([writer.close(), claim]);
      const reason: unknown = abort.signal.aborted ? abort.signal.reason : e;
      if (reason instanceof Skip) return { kind: 'skip' };
      if (reason instanceof Handover) return { kind: 'release', delayMs: 0, why: 'this gateway is shutting down' };
      if (PlatformError.isTakenOver(reason)) return { kind: 'superseded' };
      const f = classify(reason);
      if ((f.code === 'SERVICE_UNAVAILABLE' || f.code === 'DEADLINE_EXCEEDED') && base.attempts < this.limits.maxAttempts) {
        return { kind: 'release', delayMs: retryDelayMs(base.attempts), why: f.message };
      }
      return { kind: 'finished', job: this.failedJob(base, reason, writer, log) };
    }
  }

  /** The final state, stored even across a NATS restart (tried again for a while); one too big becomes a FAILED one. */
  private async storeFinal(base: Base, job: Job, log: Logger): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.store.put(job);
        return;
      } catch (e) {
        if (e instanceof JobTooLargeError) {
          log.error({ err: e }, 'storing a finished job failed');
          job = { ...base, status: 'FAILED', updatedAt: now(), finishedAt: now(), error: { code: 'INTERNAL_SERVER_ERROR', message: e.message } };
          continue;
        }
        if (attempt >= 20) throw e;
        await sleep(Math.min(2000, 100 * 2 ** attempt));
      }
    }
  }

  /**
   * The CANCELLED state (with the last step and preview it reached) and its line `job cancelled`, or the FAILED one
   * and `job failed` (with the error itself when its cause is unknown).
   */
  private failedJob(base: Base, e: unknown, writer: ProgressWriter | undefined, log: Logger): Job {
    const f = classify(e);
    const fields = { kind: base.kind, attempt: base.attempts, code: f.code };
    const progress = writer?.progress;
    const error = { code: f.code, message: f.message, ...(f.retryAfterMs !== undefined ? { retryAfterMs: f.retryAfterMs } : {}) };
    if (f.code === 'CANCELLED') {
      log.info(fields, 'job cancelled');
      const preview = writer?.latestPreview;
      return { ...base, status: 'CANCELLED', updatedAt: now(), ...(progress ? { progress } : {}), ...(preview ? { preview } : {}), finishedAt: now(), error };
    }
    if (f.internal) log.error({ ...fields, err: e }, 'job failed');
    else log.warn({ ...fields, message: f.message }, 'job failed');
    return { ...base, status: 'FAILED', updatedAt: now(), ...(progress ? { progress } : {}), finishedAt: now(), error };
  }
}
