/**
 * What gateway replicas share through NATS: job state in a JetStream KV bucket (any replica answers job(id)
 * and jobProgress(id)), and cancel requests for jobs that run on another replica.
 */
import { SUBJECTS } from '@diffusevae/contracts';
import { Kvm, KvWatchInclude, type KV, type KvEntry } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { latestStates, type Job, type JobStore } from './jobs.js';

export interface KvJobStoreOptions {
  /** JOB_BUCKET */
  bucket: string;
  /** JOB_RETENTION_MS: every key expires this long after its last write */
  retentionMs: number;
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
  ) {}

  static async open(nc: NatsConnection, opts: KvJobStoreOptions): Promise<KvJobStore> {
    const kv = await new Kvm(nc).create(opts.bucket, { ttl: opts.retentionMs, history: 1 });
    return new KvJobStore(kv, (nc.info?.max_payload ?? 1024 * 1024) - HEADROOM);
  }

  async put(job: Job): Promise<void> {
    const value = JSON.stringify(job);
    const bytes = Buffer.byteLength(value);
    if (bytes > this.maxBytes) {
      throw new Error(`job ${job.id} (${job.status}) is ${bytes} bytes of JSON, over what the job store takes (${this.maxBytes}: the server's max_payload)`);
    }
    await this.kv.put(job.id, value);
  }

  async get(id: string): Promise<Job | undefined> {
    if (!validKey(id)) return undefined;
    return jobOf(await this.kv.get(id));
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
      void (async () => {
        for await (const e of watcher) {
          const job = jobOf(e);
          if (!job) break; // deleted or expired: nothing more will come
          if (e.revision <= revision) continue;
          revision = e.revision;
          emit(job);
        }
      })();
      return () => watcher.stop();
    });
  }
}

function jobOf(entry: KvEntry | null): Job | undefined {
  return entry && entry.operation === 'PUT' ? entry.json<Job>() : undefined;
}

/** KV keys are subject tokens: an id from a client that is not one cannot name a job. */
function validKey(id: string): boolean {
  return /^[-/_=.a-zA-Z0-9]+$/.test(id) && !id.startsWith('.') && !id.endsWith('.');
}

/** Cancel requests between gateway replicas: each replica cancels the jobs it runs. */
export interface CancelBus {
  publish(jobId: string): void;
  subscribe(onCancel: (jobId: string) => void): () => void;
}

export function natsCancelBus(nc: NatsConnection): CancelBus {
  return {
    publish: (jobId) => nc.publish(SUBJECTS.jobCancel, jobId),
    subscribe(onCancel) {
      const sub = nc.subscribe(SUBJECTS.jobCancel, { callback: (err, msg) => void (!err && onCancel(msg.string())) });
      return () => sub.unsubscribe();
    },
  };
}
