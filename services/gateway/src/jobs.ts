/**
 * Job state. A job is a discriminated union on its status; the store keeps the latest state of each job and
 * lets a caller watch one: in JetStream KV (kv-store.ts), where every gateway replica sees every job, or in a
 * bounded Map (tests, and a gateway without JetStream).
 */
import type { ErrorCode } from '@diffusevae/contracts';
import type { EncodedImage } from './images.js';

export type JobKind = 'generate' | 'superResolve' | 'denoise' | 'reconstruct' | 'interpolate';

export interface StepInfo {
  /** 1-based: the number of steps done */
  step: number;
  steps: number;
  timestep: number;
  /** measured time per step (moving average), ms */
  stepMs?: number;
  /** time to the last step at that pace, ms */
  etaMs?: number;
}

/** Everything that reproduces a job (see runner.ts): JSON only. */
export type JobManifest = Record<string, unknown>;

interface JobBase {
  id: string;
  kind: JobKind;
  createdAt: string;
  /** when this state was stored */
  updatedAt: string;
  /** runs started so far (0 while first queued): a job whose runner died, or that was handed over, runs again */
  attempts: number;
  /** the id of the API key that submitted it (none with AUTH=none): only that key (and admins) see it */
  owner?: string;
}

export interface JobError {
  code: ErrorCode;
  message: string;
  /** RESOURCE_EXHAUSTED: when to try again */
  retryAfterMs?: number;
}

export type Job =
  /**
   * queuePosition: jobs ahead of it when it was stored (live from the queue while it waits; see JobRunner);
   * queueSeq: its place in the work queue (the stream sequence over JetStream)
   */
  | (JobBase & { status: 'QUEUED'; queuePosition: number; queueSeq?: number })
  /** preview: x̂₀ predicted at a recent step (a grid of the job's images), refreshed at most every PREVIEW_INTERVAL_MS */
  | (JobBase & { status: 'RUNNING'; progress?: StepInfo; preview?: EncodedImage })
  | (JobBase & {
      status: 'SUCCEEDED';
      progress?: StepInfo;
      finishedAt: string;
      images: EncodedImage[];
      stage1: EncodedImage[];
      manifest: JobManifest;
    })
  | (JobBase & { status: 'FAILED'; progress?: StepInfo; finishedAt: string; error: JobError })
  /** stopped by cancelJob: error.code CANCELLED; the last step and preview it reached */
  | (JobBase & { status: 'CANCELLED'; progress?: StepInfo; preview?: EncodedImage; finishedAt: string; error: JobError });

export type JobStatus = Job['status'];

export function isFinished(job: Job): job is Extract<Job, { status: 'SUCCEEDED' | 'FAILED' | 'CANCELLED' }> {
  switch (job.status) {
    case 'QUEUED':
    case 'RUNNING':
      return false;
    case 'SUCCEEDED':
    case 'FAILED':
    case 'CANCELLED':
      return true;
    default: {
      const never: never = job;
      throw new Error(`unknown job status ${JSON.stringify(never)}`);
    }
  }
}

/** A job's place in a list: newest first (createdAt), then by id. What a jobs() cursor holds. */
export interface JobPlace {
  createdMs: number;
  id: string;
}

export const placeOf = (job: Job): JobPlace => ({ createdMs: Date.parse(job.createdAt), id: job.id });

/** < 0 when `a` comes before `b` in a list (a is newer, or as new with the greater id). */
export function listOrder(a: JobPlace, b: JobPlace): number {
  return b.createdMs - a.createdMs || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);
}

/** What jobs() asks the store for. */
export interface JobListQuery {
  /** only this key's jobs; undefined: everyone's (admins) */
  owner?: string;
  status?: JobStatus;
  /** only jobs after this place in the list (the page's cursor) */
  after?: JobPlace;
  /** at most this many */
  limit: number;
}

/** Keeps the jobs that a list query wants, in list order, at most its limit. */
export function listPage(all: Iterable<Job>, q: JobListQuery): Job[] {
  const after = q.after;
  return [...all]
    .filter((job) => (q.owner === undefined || job.owner === q.owner) && (q.status === undefined || job.status === q.status) && (!after || listOrder(after, placeOf(job)) < 0))
    .sort((a, b) => listOrder(placeOf(a), placeOf(b)))
    .slice(0, q.limit);
}

/** A stored state and its revision, for a compare-and-set update. */
export interface JobEntry {
  job: Job;
  revision: number;
}

export interface JobStore {
  put(job: Job): Promise<void>;
  get(id: string): Promise<Job | undefined>;
  entry(id: string): Promise<JobEntry | undefined>;
  /**
   * Stores `job` only if the stored state is still at `revision` (undefined: only if there is none); false when
   * someone else wrote first. Moves between owners (QUEUED → RUNNING, QUEUED → cancelled) go through here.
   */
  update(job: Job, revision: number | undefined): Promise<boolean>;
  /** Remembers that the job's owner must cancel it, also one that owns it only later (a redelivered job). */
  requestCancel(id: string): Promise<void>;
  cancelRequested(id: string): Promise<boolean>;
  /**
   * The job's current state, then each newer one until it is finished; undefined when the job is unknown.
   * Updates that arrive faster than they are read are coalesced: a watcher sees the latest state, not every one.
   */
  watch(id: string): Promise<AsyncIterableIterator<Job> | undefined>;
  /** The jobs the store still has that match, newest first (jobs() pages through them). */
  list(q: JobListQuery): Promise<Job[]>;
}

type Listener = (job: Job | undefined) => void;

/**
 * The latest state of a job as an async iterator; ends after a finished state, when the subscription reports
 * the job gone (undefined: expired or deleted), or on return().
 */
export function latestStates(initial: Job, subscribe: (fn: Listener) => () => void): AsyncIterableIterator<Job> {
  let latest = initial;
  let fresh = true;
  let done = false;
  let wake: (() => void) | undefined;
  let gone = false;
  const off = subscribe((job) => {
    if (job) latest = job;
    else gone = true;
    fresh = true;
    wake?.();
  });
  const end = async (): Promise<IteratorResult<Job>> => {
    done = true;
    off();
    wake?.();
    return { done: true, value: undefined };
  };
  return {
    async next() {
      while (!done && !fresh) await new Promise<void>((r) => (wake = r));
      wake = undefined;
      if (done) return { done: true, value: undefined };
      fresh = false;
      if (gone) {
        await end();
        return { done: true, value: undefined };
      }
      const value = latest;
      if (isFinished(value)) {
        done = true;
        off();
      }
      return { done: false, value };
    },
    return: end,
    throw: async (e: unknown) => {
      await end();
      throw e;
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}

/**
 * Jobs in a Map, at most `maxJobs` of them: past that, the oldest finished job is forgotten (the oldest job
 * of all when none has finished, which only a flood of concurrent jobs reaches).
 */
export class InMemoryJobStore implements JobStore {
  private readonly jobs = new Map<string, Job>();
  private readonly revisions = new Map<string, number>();
  private readonly cancels = new Set<string>();
  private readonly listeners = new Map<string, Set<Listener>>();
  private revision = 0;

  constructor(readonly maxJobs = 256) {
    if (!Number.isInteger(maxJobs) || maxJobs < 1) throw new RangeError(`maxJobs must be a positive integer, got ${maxJobs}`);
  }

  get size(): number {
    return this.jobs.size;
  }

  async put(job: Job): Promise<void> {
    this.jobs.set(job.id, job);
    this.revisions.set(job.id, ++this.revision);
    if (this.jobs.size > this.maxJobs) this.evict(job.id);
    for (const fn of this.listeners.get(job.id) ?? []) fn(job);
  }

  async get(id: string): Promise<Job | undefined> {
    return this.jobs.get(id);
  }

  async entry(id: string): Promise<JobEntry | undefined> {
    const job = this.jobs.get(id);
    return job && { job, revision: this.revisions.get(id)! };
  }

  async update(job: Job, revision: number | undefined): Promise<boolean> {
    if (this.revisions.get(job.id) !== revision) return false;
    await this.put(job);
    return true;
  }

  async requestCancel(id: string): Promise<void> {
    this.cancels.add(id);
  }

  async cancelRequested(id: string): Promise<boolean> {
    return this.cancels.has(id);
  }

  async watch(id: string): Promise<AsyncIterableIterator<Job> | undefined> {
    const job = this.jobs.get(id);
    if (!job) return undefined;
    return latestStates(job, (fn) => {
      const set = this.listeners.get(id) ?? new Set<Listener>();
      this.listeners.set(id, set.add(fn));
      return () => {
        set.delete(fn);
        if (set.size === 0) this.listeners.delete(id);
      };
    });
  }

  async list(q: JobListQuery): Promise<Job[]> {
    return listPage(this.jobs.values(), q);
  }

  private evict(keep: string): void {
    let victim: string | undefined;
    for (const [id, job] of this.jobs) {
      if (id === keep) continue;
      victim ??= id;
      if (isFinished(job)) {
        victim = id;
        break;
      }
    }
    if (victim !== undefined) {
      this.jobs.delete(victim);
      this.revisions.delete(victim);
      this.cancels.delete(victim);
    }
  }
}
