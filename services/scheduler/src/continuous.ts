import { PlatformError } from '@diffusevae/contracts';
import type { EpsFn } from '@diffusevae/pipeline';
import type { EpsConditioning, ReverseProcess, StepResult } from '@diffusevae/schedulers';
import type { TickInfo } from '@diffusevae/service-kit';
import { Tensor } from '@diffusevae/tensor';

export interface ContinuousBatcherOptions {
  /** [C, H, W] of one sample */
  imageShape: readonly [number, number, number];
  /** what the refiners are fed per sample: the timestep (discrete sets, the default) or the noise level √ᾱ (continuous) */
  conditioning?: EpsConditioning;
  /** MAX_BATCH: most samples per refiner call; a larger tick sends several calls at once */
  maxBatch: number;
  /** SCHEDULER_MAX_ACTIVE: most samples advanced together (a bigger job still runs, alone) */
  maxActiveSamples: number;
  /** SCHEDULER_MAX_QUEUE: most jobs waiting for room in the active set */
  maxQueuedJobs: number;
  /**
   * EPS_ATTEMPTS: tries of one refiner call that failed transiently (no replica answered, or not in time) before
   * the tick fails; each try goes to whichever replica the queue group picks (default 1: no retry)
   */
  epsAttempts?: number;
  /** told after each tick: its duration, samples and jobs (metrics) */
  onTick?: (tick: TickInfo) => void;
  /** told of each refiner call tried again */
  onEpsRetry?: () => void;
}

export interface JobHooks {
  /** called after each of the job's steps (synchronously: progress is published, never awaited) */
  onStep?: (step: StepResult) => void;
  /** aborts the job: it leaves the batch before the next tick and the promise rejects with CANCELLED */
  signal?: AbortSignal;
}

export interface ContinuousBatcherStats {
  jobs: number;
  ticks: number;
  /** samples × steps evaluated */
  imageSteps: number;
  maxJobsPerTick: number;
  /** refiner calls tried again after a transient failure */
  epsRetries: number;
  active: number;
  queued: number;
}

interface Entry extends JobHooks {
  process: ReverseProcess;
  resolve(result: Float32Array): void;
  reject(err: unknown): void;
  detach(): void;
}

const cancelled = () => new PlatformError('CANCELLED', 'refine was cancelled by the caller');

/**
 * Step-level continuous batching: every job in the active set is advanced by one step per tick, with one
 * batched ε_θ call for all of them (t per sample, so jobs at different timesteps and with different samplers
 * share it). Jobs join and leave between ticks; a cancelled job leaves at once and its share of the batch
 * goes with it. Each job's noise is keyed by its own seed and sample indices, so its bytes do not depend on
 * its neighbours.
 */
export class ContinuousBatcher {
  private active: Entry[] = [];
  private waiting: Entry[] = [];
  private looping = false;
  /** moving average of a tick's duration, for retry hints */
  private tickMs = 0;
  private readonly counters = { jobs: 0, ticks: 0, imageSteps: 0, maxJobsPerTick: 0, epsRetries: 0 };

  constructor(
    private readonly eps: EpsFn,
    private readonly opts: ContinuousBatcherOptions,
  ) {}

  get stats(): ContinuousBatcherStats {
    return { ...this.counters, active: this.active.length, queued: this.queued() };
  }

  /** Runs the job to its end; RESOURCE_EXHAUSTED (with a retry hint) when the queue is full. */
  submit(process: ReverseProcess, hooks: JobHooks = {}): Promise<Float32Array> {
    if (hooks.signal?.aborted) return Promise.reject(cancelled());
    // it waits beyond the next tick when it does not fit beside the others (alone, any size runs)
    const others = this.active.length + this.waiting.length;
    const pending = this.samples(this.active) + this.samples(this.waiting) + process.count;
    const waits = others > 0 && (pending > this.opts.maxActiveSamples || this.queued() > 0);
    if (waits && this.queued() >= this.opts.maxQueuedJobs) {
      return Promise.reject(
        new PlatformError(
          'RESOURCE_EXHAUSTED',
          `the scheduler is full (${this.active.length} jobs running, ${this.queued()} waiting; SCHEDULER_MAX_QUEUE=${this.opts.maxQueuedJobs})`,
          undefined,
          this.retryAfterMs(),
        ),
      );
    }
    return new Promise<Float32Array>((resolve, reject) => {
      const entry: Entry = { process, ...hooks, resolve, reject, detach: () => {} };
      if (hooks.signal) {
        const onAbort = () => this.leave(entry, cancelled());
        hooks.signal.addEventListener('abort', onAbort, { once: true });
        entry.detach = () => hooks.signal!.removeEventListener('abort', onAbort);
      }
      this.waiting.push(entry);
      this.counters.jobs++;
      if (!this.looping) {
        // start on the next turn of the event loop: requests read from the socket together share the first tick
        this.looping = true;
        setImmediate(() => void this.loop());
      }
    });
  }

  private samples(entries: Entry[]): number {
    return entries.reduce((a, e) => a + e.process.count, 0);
  }

  /** when the active job closest to its end should finish and make room */
  private retryAfterMs(): number {
    const steps = this.active.length > 0 ? Math.min(...this.active.map((e) => e.process.steps - e.process.stepIndex)) : 1;
    return Math.max(100, Math.round(steps * (this.tickMs || 100)));
  }

  /** Takes a job out (finished with an error, or cancelled); a tick in flight ignores its share. */
  private leave(entry: Entry, err: unknown): void {
    this.active = this.active.filter((e) => e !== entry);
    this.waiting = this.waiting.filter((e) => e !== entry);
    entry.detach();
    entry.reject(err);
  }

  /** How many waiting jobs join at the next tick: in arrival order while they fit; an empty set takes one of any size. */
  private admissible(): number {
    let room = this.opts.maxActiveSamples - this.samples(this.active);
    let n = 0;
    for (const next of this.waiting) {
      if (next.process.count > room && (this.active.length > 0 || n > 0)) break;
      room -= next.process.count;
      n++;
    }
    return n;
  }

  /** jobs that wait beyond the next tick: the queue that SCHEDULER_MAX_QUEUE bounds */
  private queued(): number {
    return this.waiting.length - this.admissible();
  }

  private admit(): void {
    this.active.push(...this.waiting.splice(0, this.admissible()));
  }

  private async loop(): Promise<void> {
    try {
      for (this.admit(); this.active.length > 0; this.admit()) await this.tick();
    } finally {
      this.looping = false;
    }
  }

  private async tick(): Promise<void> {
    const tickStarted = performance.now();
    const jobs = [...this.active];
    const [c, h, w] = this.opts.imageShape;
    const item = c * h * w;
    const total = this.samples(jobs);
    const t: number[] = [];
    const conditioning = this.opts.conditioning ?? 'timestep';
    for (const e of jobs) {
      const level = e.process.conditioningValue(conditioning);
      for (let s = 0; s < e.process.count; s++) t.push(level);
    }
    // one job: its own buffers, no copy
    const x = jobs.length === 1 ? jobs[0]!.process.modelInput() : concat(jobs.map((e) => e.process.modelInput()), total * item);
    const cond = jobs.length === 1 ? jobs[0]!.process.cond : concat(jobs.map((e) => e.process.cond), total * item);
    const started = performance.now();
    let eps: Float32Array;
    try {
      eps = await this.evaluate(x, t, cond, total);
    } catch (e) {
      for (const entry of jobs) if (this.active.includes(entry)) this.leave(entry, e);
      this.opts.onTick?.({ ms: performance.now() - tickStarted, samples: total, jobs: jobs.length, ok: false });
      return;
    }
    const ms = performance.now() - started;
    this.tickMs = this.tickMs === 0 ? ms : 0.8 * this.tickMs + 0.2 * ms;
    Object.assign(this.counters, {
      ticks: this.counters.ticks + 1,
      imageSteps: this.counters.imageSteps + total,
      maxJobsPerTick: Math.max(this.counters.maxJobsPerTick, jobs.length),
    });
    let off = 0;
    for (const entry of jobs) {
      const n = entry.process.count * item;
      const share = eps.subarray(off, off + n);
      off += n;
      if (!this.active.includes(entry)) continue; // cancelled while the tick ran
      let step: StepResult;
      try {
        step = entry.process.advance(share);
      } catch (e) {
        this.leave(entry, e); // one job's failure is not its neighbours'
        continue;
      }
      try {
        entry.onStep?.(step);
      } catch {
        // progress is best effort: a publish that fails must not fail the job
      }
      if (entry.process.done) {
        this.active = this.active.filter((e) => e !== entry);
        entry.detach();
        entry.resolve(entry.process.result);
      }
    }
    this.opts.onTick?.({ ms: performance.now() - tickStarted, samples: total, jobs: jobs.length, ok: true });
  }

  /** ε_θ for the whole tick: chunks of at most maxBatch samples, of even size, all sent at once. */
  private async evaluate(x: Float32Array, t: number[], cond: Float32Array, total: number): Promise<Float32Array> {
    const shape = this.opts.imageShape;
    const item = x.length / total;
    const per = Math.ceil(total / Math.ceil(total / this.opts.maxBatch));
    const parts: Promise<Tensor>[] = [];
    for (let s = 0; s < total; s += per) {
      const e = Math.min(total, s + per);
      const slice = (a: Float32Array) => new Tensor(a.subarray(s * item, e * item), [e - s, ...shape]);
      parts.push(this.evaluatePart(slice(x), t.slice(s, e), slice(cond)));
    }
    const outs = await Promise.all(parts);
    return outs.length === 1 ? outs[0]!.data : concat(outs.map((o) => o.data), x.length);
  }

  /**
   * One refiner call, tried again (bounded, with a short back-off) when it failed transiently: a refiner that died
   * mid-call loses that call, not the tick of every job in it.
   */
  private async evaluatePart(x: Tensor, t: number[], cond: Tensor): Promise<Tensor> {
    const attempts = this.opts.epsAttempts ?? 1;
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.eps(x, t, cond);
      } catch (e) {
        if (attempt >= attempts || !PlatformError.isTransient(e)) throw e;
        this.counters.epsRetries++;
        this.opts.onEpsRetry?.();
        await new Promise((r) => setTimeout(r, Math.min(1000, 50 * 2 ** attempt)));
      }
    }
  }
}

function concat(parts: Float32Array[], length: number): Float32Array {
  const out = new Float32Array(length);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}
