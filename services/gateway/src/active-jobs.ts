/**
 * How many jobs each API key has queued or running, for its `concurrentJobs` limit, the same on every gateway
 * replica: a set of job ids per key, in the keys' KV bucket (`active.<keyId>`), changed by compare-and-set. A job
 * joins at submit and leaves when its final state is stored. A set that looks full is checked against the job
 * store first (jobs finished or forgotten leave it), so an id whose removal was lost (a crash between the two
 * writes) costs nothing lasting.
 */
import { JETSTREAM } from '@diffusevae/contracts';
import { openKvBucket, retryTransient } from '@diffusevae/service-kit';
import type { KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { isFinished, type JobStore } from './jobs.js';

export interface ActiveJobs {
  /** Adds the job to the key's set unless it already holds `limit` live jobs; false then. */
  acquire(keyId: string, jobId: string, limit: number): Promise<boolean>;
  release(keyId: string, jobId: string): Promise<void>;
}

/** Keeps the ids that are still queued or running. */
async function live(jobs: JobStore, ids: string[]): Promise<string[]> {
  const states = await Promise.all(ids.map((id) => jobs.get(id).catch(() => undefined)));
  return ids.filter((_, i) => states[i] !== undefined && !isFinished(states[i]!));
}

export class MemoryActiveJobs implements ActiveJobs {
  private readonly sets = new Map<string, string[]>();
  constructor(private readonly jobs: JobStore) {}

  async acquire(keyId: string, jobId: string, limit: number): Promise<boolean> {
    let ids = this.sets.get(keyId) ?? [];
    if (ids.length >= limit) ids = await live(this.jobs, ids);
    if (ids.length >= limit) return false;
    this.sets.set(keyId, [...ids, jobId]);
    return true;
  }

  async release(keyId: string, jobId: string): Promise<void> {
    const ids = this.sets.get(keyId)?.filter((id) => id !== jobId) ?? [];
    if (ids.length) this.sets.set(keyId, ids);
    else this.sets.delete(keyId);
  }
}

const activeKey = (keyId: string) => `active.${keyId}`;
const CONFLICT = /wrong last sequence|key exists/i;

export class KvActiveJobs implements ActiveJobs {
  private constructor(
    private readonly kv: KV,
    private readonly jobs: JobStore,
  ) {}

  /** `replicas`: JETSTREAM_REPLICAS (default JETSTREAM.replicas), the keys bucket's copies, raised to this when it has fewer */
  static async open(nc: NatsConnection, jobs: JobStore, opts: { bucket?: string; replicas?: number } = {}): Promise<KvActiveJobs> {
    const kv = await openKvBucket(nc, opts.bucket ?? JETSTREAM.keyBucket, { history: 1, replicas: opts.replicas ?? JETSTREAM.replicas });
    return new KvActiveJobs(kv, jobs);
  }

  async acquire(keyId: string, jobId: string, limit: number): Promise<boolean> {
    let held = false;
    const added = await this.change(keyId, async (ids) => {
      // already there: a write that timed out had landed after all
      if (ids.includes(jobId)) return void (held = true);
      if (ids.length >= limit) ids = await live(this.jobs, ids);
      return ids.length >= limit ? undefined : [...ids, jobId];
    });
    return added || held;
  }

  async release(keyId: string, jobId: string): Promise<void> {
    await this.change(keyId, async (ids) => (ids.includes(jobId) ? ids.filter((id) => id !== jobId) : undefined));
  }

  /** Compare-and-set until it holds; `next` returns undefined to leave the set as it is (false). */
  private async change(keyId: string, next: (ids: string[]) => Promise<string[] | undefined>): Promise<boolean> {
    for (let i = 0; ; i++) {
      const e = await retryTransient(() => this.kv.get(activeKey(keyId)));
      const ids = e && e.operation === 'PUT' ? e.json<string[]>() : [];
      const updated = await next(ids);
      if (!updated) return false;
      try {
        // a write tried again after it landed conflicts, and the loop reads again
        const value = JSON.stringify(updated);
        await retryTransient(() => (e ? this.kv.update(activeKey(keyId), value, e.revision) : this.kv.create(activeKey(keyId), value)));
        return true;
      } catch (err) {
        if (!CONFLICT.test((err as Error).message) || i >= 20) throw err;
      }
    }
  }
}
