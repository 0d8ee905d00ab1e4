/**
 * Reverse-process checkpoints: the scheduler saves where each refine request stands (y_t and the step index)
 * every CHECKPOINT_INTERVAL_MS, off the tick's critical path, in a JetStream KV bucket; a request sent again
 * with the same key (a redelivered job, a retry after a scheduler died) resumes there. The counter-based noise
 * makes the resumed bytes those of an undisturbed run.
 *
 * A value is: uint32 LE length of a JSON header, the header ({ v, stepIndex, steps, count, itemSize,
 * fingerprint, history }), then the float32 LE sample, then (history: true) as many float32 of a multistep solver's
 * state. The fingerprint ties it to the request (seed, samples, sampler,
 * the conditioning bytes): a key reused by something else is ignored, never resumed from.
 */
import { createHash } from 'node:crypto';
import { JETSTREAM, PlatformError, SUBJECTS } from '@diffusevae/contracts';
import type { Checkpoint } from '@diffusevae/schedulers';
import type { KV } from '@nats-io/kv';
import { nuid, type NatsConnection } from '@nats-io/transport-node';
import { openKvBucket } from './jetstream.js';

export interface CheckpointMeta {
  steps: number;
  count: number;
  itemSize: number;
  fingerprint: string;
}

export interface CheckpointStore {
  /** the checkpoint under `key` when it belongs to the same request (`meta`), else undefined */
  load(key: string, meta: CheckpointMeta): Promise<Checkpoint | undefined>;
  save(key: string, meta: CheckpointMeta, c: Checkpoint): Promise<void>;
  delete(key: string): Promise<void>;
}

const VERSION = 1;
const KEY = /^[A-Za-z0-9_-]{1,64}\.\d{1,6}$/;

/** `<jobId>.<firstSample>`: a KV key of a few dozen bytes, never a subject a client could stretch. */
export function checkpointKey(jobId: string, firstSample: number): string {
  const key = `${jobId}.${firstSample}`;
  checkCheckpointKey(key);
  return key;
}

export function checkCheckpointKey(key: string): void {
  if (!KEY.test(key)) throw PlatformError.badInput('checkpoint', `must be <job id>.<first sample> (letters, digits, _ and -, then digits), got ${JSON.stringify(key.slice(0, 80))}`);
}

/** What makes two refine requests the same computation. */
export function checkpointFingerprint(request: { seed: number; firstSample: number; sampler: unknown; init?: boolean }, cond: Float32Array): string {
  const h = createHash('sha256').update(JSON.stringify(request));
  h.update(Buffer.from(cond.buffer, cond.byteOffset, cond.byteLength));
  return h.digest('hex').slice(0, 32);
}

export function encodeCheckpoint(meta: CheckpointMeta, c: Checkpoint): Uint8Array {
  if (c.sample.length !== meta.count * meta.itemSize) throw new Error(`checkpoint: ${c.sample.length} values for ${meta.count} × ${meta.itemSize}`);
  if (c.history && c.history.length !== c.sample.length) throw new Error(`checkpoint: history of ${c.history.length} values for ${c.sample.length}`);
  const header = Buffer.from(JSON.stringify({ v: VERSION, stepIndex: c.stepIndex, ...meta, ...(c.history ? { history: true } : {}) }));
  const out = Buffer.alloc(4 + header.length + c.sample.byteLength * (c.history ? 2 : 1));
  out.writeUInt32LE(header.length, 0);
  header.copy(out, 4);
  Buffer.from(c.sample.buffer, c.sample.byteOffset, c.sample.byteLength).copy(out, 4 + header.length);
  if (c.history) Buffer.from(c.history.buffer, c.history.byteOffset, c.history.byteLength).copy(out, 4 + header.length + c.sample.byteLength);
  return out;
}

/** The checkpoint when `bytes` hold one for this request; undefined for anything else (another request, a torn or old value). */
export function decodeCheckpoint(bytes: Uint8Array, meta: CheckpointMeta): Checkpoint | undefined {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length < 4) return undefined;
  const n = buf.readUInt32LE(0);
  if (4 + n > buf.length) return undefined;
  let h: Record<string, unknown>;
  try {
    h = JSON.parse(buf.subarray(4, 4 + n).toString('utf8')) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  const same = h.v === VERSION && h.steps === meta.steps && h.count === meta.count && h.itemSize === meta.itemSize && h.fingerprint === meta.fingerprint;
  const stepIndex = h.stepIndex;
  const values = meta.count * meta.itemSize;
  const parts = h.history === true ? 2 : 1;
  if (!same || typeof stepIndex !== 'number' || buf.length - 4 - n !== parts * values * 4) return undefined;
  const sample = new Float32Array(values);
  Buffer.from(sample.buffer).set(buf.subarray(4 + n, 4 + n + values * 4));
  if (parts === 1) return { stepIndex, sample };
  const history = new Float32Array(values);
  Buffer.from(history.buffer).set(buf.subarray(4 + n + values * 4));
  return { stepIndex, sample, history };
}

/**
 * Checkpoints in JetStream KV (file storage, one revision a key, kept `ttlMs` after the last write), in `replicas`
 * copies (JETSTREAM_REPLICAS; default JETSTREAM.replicas).
 */
export async function kvCheckpoints(nc: NatsConnection, opts: { ttlMs: number; bucket?: string; replicas?: number }): Promise<CheckpointStore> {
  const kv: KV = await openKvBucket(nc, opts.bucket ?? JETSTREAM.checkpointBucket, { ttl: opts.ttlMs, history: 1, replicas: opts.replicas ?? JETSTREAM.replicas });
  return {
    async load(key, meta) {
      const e = await kv.get(key);
      return e && e.operation === 'PUT' ? decodeCheckpoint(e.value, meta) : undefined;
    },
    async save(key, meta, c) {
      await kv.put(key, encodeCheckpoint(meta, c));
    },
    async delete(key) {
      await kv.delete(key);
    },
  };
}

/**
 * One runner of each checkpoint key across the schedulers. A request sent again (its caller died, or took its
 * scheduler for dead) resumes on some scheduler; the one still running the old try stops there, instead of
 * computing the same steps for nobody.
 */
export interface Takeovers {
  /** `key` runs here now: `signal` aborts when a later try of it starts (here or on another scheduler) */
  claim(key: string): { signal: AbortSignal; release(): void };
  close(): void;
}

export function natsTakeovers(nc: NatsConnection): Takeovers {
  const mine = new Map<string, { token: string; abort: AbortController }>();
  const taken = () => PlatformError.takenOver();
  const sub = nc.subscribe(SUBJECTS.refineTakeover, {
    callback: (err, msg) => {
      if (err) return;
      const [key, token] = msg.string().split(' ');
      const held = key === undefined ? undefined : mine.get(key);
      if (held && held.token !== token) {
        held.abort.abort(taken());
        mine.delete(key!);
      }
    },
  });
  return {
    claim(key) {
      const token = nuid.next();
      const abort = new AbortController();
      mine.get(key)?.abort.abort(taken());
      mine.set(key, { token, abort });
      nc.publish(SUBJECTS.refineTakeover, `${key} ${token}`);
      return {
        signal: abort.signal,
        release: () => void (mine.get(key)?.token === token && mine.delete(key)),
      };
    },
    close: () => sub.unsubscribe(),
  };
}
