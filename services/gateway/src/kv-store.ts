/**
 * What gateway replicas share through NATS: job state in a JetStream KV bucket (any replica answers job(id)
 * and jobProgress(id)), and cancel requests for jobs that run on another replica.
 */
import { JETSTREAM, SUBJECTS } from '@diffusevae/contracts';
import { JETSTREAM_RETRY_MS, openKvBucket, retryTransient } from '@diffusevae/service-kit';
import { KvWatchInclude, type KV, type KvEntry } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { isFinished, latestStates, listOrder, listPage, type Job, type JobEntry, type JobListQuery, type JobPlace, type JobStore } from './jobs.js';

export interface KvJobStoreOptions {
  /** JOB_BUCKET */
  bucket: string;
  /** JOB_RETENTION_MS: every key expires this long after its last write */
  retentionMs: number;
  /** how often a watch reads the job again (default 5000): see watch() */
  pollMs?: number;
  /** JETSTREAM_REPLICAS (default JETSTREAM.replicas): the bucket's copies, raised to this when it has fewer */
  replicas?: number;
  /**
   * how long a read or write waits out JetStream being unavailable (no leader: a cluster electing one, a server
   * restarting) before it fails (default JETSTREAM_RETRY_MS; 0: fail at once)
   */
  retryMs?: number;
}

/** Room left in a message for the KV protocol's headers. */
const HEADROOM = 4096;

/**
 * Jobs as JSON values keyed by job id, one revision kept per key. A value must fit the server's max_payload:
 * 64 PNGs of 28×28 are at most about 150 KB of base64 (pure noise, the worst case), so a finished job of 64 with
 * its stage-1 images is about 300 KB, under the default 1 MiB; a job that would not fit is refused with an error
 * that says so rather than truncated.
 */
export class KvJobStore implements JobStore {
  private constructor(
    private readonly kv: KV,
    private readonly maxBytes: number,
    private readonly pollMs: number,
    private readonly retryMs: number,
  ) {}

  static async open(nc: NatsConnection, opts: KvJobStoreOptions): Promise<KvJobStore> {
    const kv = await openKvBucket(nc, opts.bucket, { ttl: opts.retentionMs, history: 1, replicas: opts.replicas ?? JETSTREAM.replicas });
    return new KvJobStore(kv, (nc.info?.max_payload ?? 1024 * 1024) - HEADROOM, opts.pollMs ?? 5000, opts.retryMs ?? JETSTREAM_RETRY_MS);
  }

  /** Every operation here is safe to repeat (puts, reads, compare-and-set): each rides out a leader election. */
  private retry<T>(op: () => Promise<T>): Promise<T> {
    return retryTransient(op, this.retryMs);
  }

  async put(job: Job): Promise<void> {
    const value = this.encode(job);
    await this.retry(() => this.kv.put(job.id, value));
    // listed as long as it is kept: the index key's TTL starts again with the final state
    if (isFinished(job)) await this.index(job);
  }

  async get(id: string): Promise<Job | undefined> {
    if (!validKey(id)) return undefined;
    return jobOf(await this.retry(() => this.kv.get(id)));
  }

  async entry(id: string): Promise<JobEntry | undefined> {
    if (!validKey(id)) return undefined;
    const e = await this.retry(() => this.kv.get(id));
    const job = jobOf(e);
    return job && { job, revision: e!.revision };
  }

  async update(job: Job, revision: number | undefined): Promise<boolean> {
    const value = this.encode(job);
    try {
      // a try that timed out may have landed: the next one then conflicts, and the caller reads again
      await this.retry(() => (revision === undefined ? this.kv.create(job.id, value) : this.kv.update(job.id, value, revision)));
      if (revision === undefined || isFinished(job)) await this.index(job);
      return true;
    } catch (e) {
      // JetStream's "wrong last sequence": another writer came first
      if (/wrong last sequence|key exists/i.test((e as Error).message)) return false;
      throw e;
    }
  }

  async requestCancel(id: string): Promise<void> {
    await this.retry(() => this.kv.put(cancelKey(id), '1'));
  }

  async cancelRequested(id: string): Promise<boolean> {
    if (!validKey(id)) return false;
    const e = await this.retry(() => this.kv.get(cancelKey(id)));
    return e?.operation === 'PUT';
  }

  /**
   * jobs(): a key per job, `index.<owner>.<createdAt ms>.<id>` (its value is '1'), written when the job is created
   * and again when it finishes, so that a page costs one listing of keys (no values: headers only) of the caller's
   * prefix, then reads of the jobs on the page alone (and of those the status filter skips).
   */
  private async index(job: Job): Promise<void> {
    // best effort: the job's own state is stored; a lost index key only leaves it out of jobs()
    await this.retry(() => this.kv.put(indexKey(job.owner, Date.parse(job.createdAt), job.id), '1')).catch(() => {});
  }

  async list(q: JobListQuery): Promise<Job[]> {
    const places: JobPlace[] = [];
    const keys = await this.retry(() => this.kv.keys(q.owner === undefined ? `${INDEX}.>` : `${INDEX}.${ownerToken(q.owner)}.>`));
    for await (const key of keys) {
      const m = /^index\.[^.]+\.(\d+)\.([^.]+)$/.exec(key);
      if (m) places.push({ createdMs: Number(m[1]), id: m[2]! });
    }
    const after = q.after;
    const candidates = places.filter((p) => !after || listOrder(after, p) < 0).sort(listOrder);
    // read in batches of a page: an index key outlives its job for a moment at most (TTL), and a status filter skips some
    const out: Job[] = [];
    for (let i = 0; i < candidates.length && out.length < q.limit; i += q.limit) {
      const read = await Promise.all(candidates.slice(i, i + q.limit).map((p) => this.get(p.id)));
      out.push(...listPage(read.filter((j): j is Job => j !== undefined), { ...q, after: undefined }));
    }
    return out.slice(0, q.limit);
  }

  private encode(job: Job): string {
    const value = JSON.stringify(job);
    const bytes = Buffer.byteLength(value);
    if (bytes > this.maxBytes) {
      throw new JobTooLargeError(`job ${job.id} (${job.status}) is ${bytes} bytes of JSON, over what the job store takes (${this.maxBytes}: the server's max_payload)`);
    }
    return value;
  }

  async watch(id: string): Promise<AsyncIterableIterator<Job> | undefined> {
    if (!validKey(id)) return undefined;
    // Watch first, then read: an update between the two arrives twice (dropped by revision), never not at all.
    const watcher = await this.kv.watch({ key: id, include: KvWatchInclude.UpdatesOnly });
    const entry = await this.kv.get(id);
    const initial = jobOf(entry);
    if (!initial) {
      watcher.stop();
      return undefined;
    }
    let revision = entry!.revision;
    return latestStates(initial, (emit) => {
      const seen = (e: KvEntry | null) => {
        const job = jobOf(e);
        if (!job) return emit(undefined); // deleted or expired: nothing more will come
        if (e!.revision <= revision) return;
        revision = e!.revision;
        emit(job);
      };
      void (async () => {
        for await (const e of watcher) seen(e);
      })();
      // a watch sees no expiry (TTL removes keys without a marker on this server), and may miss an update
      // around a reconnect: a read every pollMs ends a subscription to a job that is gone, and catches up
      const poll = setInterval(() => void this.kv.get(id).then(seen, () => {}), this.pollMs);
      return () => {
        clearInterval(poll);
        watcher.stop();
      };
    });
  }
}

/** A state too big for the store's messages: the job must end with a smaller one. */
export class JobTooLargeError extends Error {
  override name = 'JobTooLargeError';
}

const cancelKey = (id: string) => `cancel.${id}`;

const INDEX = 'index';
/** a key id is a subject token already; a job of AUTH=none has no owner */
const ownerToken = (owner: string | undefined) => (owner && validKey(owner) && !owner.includes('.') ? owner : '_');
const indexKey = (owner: string | undefined, createdMs: number, id: string) => `${INDEX}.${ownerToken(owner)}.${createdMs}.${id}`;

function jobOf(entry: KvEntry | null): Job | undefined {
  return entry && entry.operation === 'PUT' ? entry.json<Job>() : undefined;
}

/** KV keys are subject tokens: an id from a client that is not one cannot name a job. */
function validKey(id: string): boolean {
  return /^[-/_=.a-zA-Z0-9]+$/.test(id) && !id.startsWith('.') && !id.endsWith('.');
}

/**
 * What gateway replicas tell each other about jobs: "cancel it" (the replica running it stops it) and "it is
 * finished" (a replica waiting for it to answer a `wait: true` mutation answers). Both carry the job id only;
 * the state itself is in the store.
 */
export interface JobBus {
  cancel(jobId: string): void;
  finished(jobId: string): void;
  subscribe(handlers: { onCancel(jobId: string): void; onFinished(jobId: string): void }): () => void;
}

export function natsJobBus(nc: NatsConnection): JobBus {
  return {
    cancel: (jobId) => nc.publish(SUBJECTS.jobCancel, jobId),
    finished: (jobId) => nc.publish(SUBJECTS.jobFinished, jobId),
    subscribe({ onCancel, onFinished }) {
      const subs = [
        nc.subscribe(SUBJECTS.jobCancel, { callback: (err, msg) => void (!err && onCancel(msg.string())) }),
        nc.subscribe(SUBJECTS.jobFinished, { callback: (err, msg) => void (!err && onFinished(msg.string())) }),
      ];
      return () => subs.forEach((s) => s.unsubscribe());
    },
  };
}

/** The bus of a single process (JOB_STORE=memory, tests). */
export function localJobBus(): JobBus {
  const all = new Set<{ onCancel(jobId: string): void; onFinished(jobId: string): void }>();
  return {
    cancel: (id) => all.forEach((h) => h.onCancel(id)),
    finished: (id) => all.forEach((h) => h.onFinished(id)),
    subscribe(h) {
      all.add(h);
      return () => all.delete(h);
    },
  };
}
