/**
 * Streams and KV buckets with JETSTREAM_REPLICAS copies. Created with that many; one that exists with fewer is
 * raised to it (nats-server adds the copies online, no message is lost: a rolling restart with a higher setting
 * moves a single-server deployment's assets onto a cluster); one with more is left as it is, so a process with a
 * stale or default setting never weakens what the others run on. Lowering is an operator's decision
 * (`nats stream edit <stream> --replicas 1`).
 */
import { Kvm, type KV, type KvOptions, type KvStatus } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';

// @nats-io/jetstream's types, as @nats-io/kv (this library's dependency) uses them
type JetStreamManager = Awaited<ReturnType<Kvm['js']['jetstreamManager']>>;
type StreamInfo = KvStatus['streamInfo'];

/** What a failure to place `replicas` copies means, on the server's own message. */
export function replicasError(e: unknown, stream: string, replicas: number): Error {
  const message = (e as Error).message ?? String(e);
  if (replicas <= 1) return e instanceof Error ? e : new Error(message);
  return new Error(`${message} (JETSTREAM_REPLICAS=${replicas}: ${stream} needs a nats-server cluster with at least ${replicas} JetStream servers up)`, { cause: e });
}

/**
 * Raises the stream's replicas to `replicas` when it has fewer; resolves with its info once it has a leader again
 * (the new raft group elects one in about a second, and until then the stream takes no message).
 */
export async function raiseReplicas(jsm: JetStreamManager, stream: string, replicas: number, info?: StreamInfo, timeoutMs = 30_000): Promise<StreamInfo> {
  const si = info ?? (await jsm.streams.info(stream));
  if ((si.config.num_replicas ?? 1) >= replicas) return si;
  await jsm.streams.update(stream, { num_replicas: replicas }).catch((e: unknown) => {
    throw replicasError(e, `stream ${stream}`, replicas);
  });
  const until = Date.now() + timeoutMs;
  for (;;) {
    const now = await jsm.streams.info(stream).catch(() => undefined);
    if (now?.cluster?.leader) return now;
    if (Date.now() > until) throw new Error(`stream ${stream}: no leader ${timeoutMs} ms after raising its replicas to ${replicas} (JETSTREAM_REPLICAS)`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A KV bucket with `replicas` copies (at least: see raiseReplicas), created if it does not exist. */
export async function openKvBucket(nc: NatsConnection, bucket: string, opts: Partial<KvOptions> & { replicas: number }): Promise<KV> {
  const kvm = new Kvm(nc);
  const kv = await kvm.create(bucket, opts).catch((e: unknown) => {
    throw replicasError(e, `KV bucket ${bucket}`, opts.replicas);
  });
  const status = await kv.status();
  if (status.replicas < opts.replicas) {
    await raiseReplicas(await kvm.js.jetstreamManager(), status.streamInfo.config.name, opts.replicas, status.streamInfo);
  }
  return kv;
}

/**
 * JetStream unavailable for a moment, not refusing: no responders on its API or a stream's subject (no leader: a
 * cluster electing one after a node died; a server restarting), or no answer in time.
 */
export function transientJetStream(e: unknown): boolean {
  return /no responders|jetstream is not enabled|^timeout$|temporarily unavailable/i.test((e as Error)?.message ?? '');
}

/**
 * Leader elections last seconds (5 to 10 on nats-server 2.9, measured by the fault suite's cluster test): what waits
 * on JetStream rides them out for this long before it reports a failure.
 */
export const JETSTREAM_RETRY_MS = 20_000;

/**
 * Runs `op` again (100 ms, doubling to 1 s apart) while it fails transiently, for at most `budgetMs`; the last
 * failure, or one that is not transient, is thrown. Only for operations that are safe to repeat: a publish with a
 * message id (the stream drops the copy), a put, a read, a compare-and-set (a repeat of one that landed conflicts).
 */
export async function retryTransient<T>(op: () => Promise<T>, budgetMs = JETSTREAM_RETRY_MS): Promise<T> {
  const until = Date.now() + budgetMs;
  for (let delay = 100; ; delay = Math.min(1000, delay * 2)) {
    try {
      return await op();
    } catch (e) {
      if (!transientJetStream(e) || Date.now() + delay > until) throw e;
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}
