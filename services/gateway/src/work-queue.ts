/**
 * The work queue of jobs. Over NATS it is a JetStream work-queue stream with one durable pull consumer that every
 * runner (every gateway replica) shares: a submitted job is a message there until the runner that took it has
 * stored its final state and acknowledged it. A runner that dies stops signalling progress (`working()`), so the
 * server hands the job to another after ACK_WAIT; one that shuts down gives its jobs back at once (`release`).
 * The stream's bound is the platform's queue bound, the same on every replica. In one process (JOB_STORE=memory,
 * the tests) it is an array with the same contract.
 */
import { JETSTREAM, PlatformError, SUBJECTS } from '@diffusevae/contracts';
import { JETSTREAM_RETRY_MS, raiseReplicas, replicasError, retryTransient } from '@diffusevae/service-kit';
import {
  AckPolicy,
  DiscardPolicy,
  RetentionPolicy,
  StorageType,
  jetstream,
  jetstreamManager,
  type Consumer,
  type ConsumerMessages,
  type JsMsg,
} from '@nats-io/jetstream';
import { nanos, type NatsConnection } from '@nats-io/transport-node';
import type { JobKind } from './jobs.js';
import type { JobRequest } from './validate.js';

/** What a queued job carries: everything a runner needs to run it, on any replica. */
export interface WorkItem {
  id: string;
  kind: JobKind;
  createdAt: string;
  /** the API key that submitted it (Job.owner) */
  owner?: string;
  /**
   * the model set it runs on (its name: any replica that serves the set runs it on that set's stages); absent in a
   * job queued before jobs named their set: the default set
   */
  model?: string;
  request: JobRequest;
}

/** One delivery of a job to a runner. */
export interface Delivery {
  item: WorkItem;
  /** 1 on the first delivery; more after a runner died or gave the job back */
  attempt: number;
  /** still on it: call at least every `WorkQueue.heartbeatMs` */
  working(): void;
  /** the final state is stored: the job leaves the queue */
  ack(): Promise<void>;
  /** give it back, for any runner to take after `delayMs` */
  release(delayMs: number): void;
}

export interface WorkQueue {
  /** how often a runner must call `working()` on the jobs it runs */
  readonly heartbeatMs: number;
  /** Adds a job; RESOURCE_EXHAUSTED when the queue is full. Resolves with its queueSeq and its place in line (`position`). */
  enqueue(item: WorkItem): Promise<{ seq: number; ahead: number }>;
  /** the job's place in line among those no runner has taken yet: 1 is next; 0 once a runner has it */
  position(seq: number): Promise<number>;
  /** Runs `handle` on each delivery, at most `slots` at once, until `stop()` (which resolves once no more come). */
  consume(slots: number, handle: (d: Delivery) => Promise<void>): { stop(): Promise<void> };
  /** jobs no runner has taken yet (all replicas), for the `diffusevae_queue_depth` gauge: cheap, possibly a second old */
  depth?(): Promise<number>;
}

export interface JetStreamQueueOptions {
  /** MAX_QUEUED_JOBS + MAX_ACTIVE_JOBS: the most jobs in the stream, waiting or running */
  maxJobs: number;
  /** JOB_ACK_WAIT_MS: a job whose runner stopped signalling for this long goes to another runner */
  ackWaitMs: number;
  /** how long a retry hint says to wait when the queue is full */
  retryAfterMs: () => number;
  /**
   * JETSTREAM_REPLICAS (default JETSTREAM.replicas): the stream's copies (its consumer follows the stream); a
   * stream with fewer is raised to this, one with more keeps them
   */
  replicas?: number;
  /**
   * how long enqueue waits out JetStream being unavailable (no leader: a cluster electing one, a server restarting)
   * before it answers SERVICE_UNAVAILABLE (default JETSTREAM_RETRY_MS; 0: at once). A publish tried again is the
   * same message (its id is the job's): the stream keeps one
   */
  retryMs?: number;
}

/** Room left in a message for JetStream's headers. */
const HEADROOM = 4096;

export function queueFull(maxJobs: number, retryAfterMs: number): PlatformError {
  return new PlatformError(
    'RESOURCE_EXHAUSTED',
    `the job queue is full (${maxJobs} jobs waiting or running: MAX_QUEUED_JOBS + MAX_ACTIVE_JOBS); retry in about ${retryAfterMs} ms`,
    undefined,
    retryAfterMs,
  );
}

export class JetStreamWorkQueue implements WorkQueue {
  readonly heartbeatMs: number;
  private delivered = { at: 0, seq: 0 };
  private pending: { at: number; value: number; reading?: Promise<number> | undefined } = { at: 0, value: 0 };

  private constructor(
    private readonly nc: NatsConnection,
    private readonly consumer: Consumer,
    private readonly opts: JetStreamQueueOptions,
  ) {
    this.heartbeatMs = Math.max(100, Math.floor(opts.ackWaitMs / 3));
  }

  /**
   * Creates the stream and the consumer, or brings their limits to these settings (the last replica to start wins;
   * the stream's replicas only ever go up: see service-kit's raiseReplicas).
   */
  static async open(nc: NatsConnection, opts: JetStreamQueueOptions): Promise<JetStreamWorkQueue> {
    const jsm = await jetstreamManager(nc);
    const replicas = opts.replicas ?? JETSTREAM.replicas;
    const stream = {
      subjects: [SUBJECTS.jobWork],
      retention: RetentionPolicy.Workqueue,
      storage: StorageType.File,
      max_msgs: opts.maxJobs,
      discard: DiscardPolicy.New,
      max_msg_size: nc.info?.max_payload ?? 1024 * 1024,
      duplicate_window: nanos(120_000),
    };
    try {
      await jsm.streams.add({ name: JETSTREAM.jobStream, ...stream, num_replicas: replicas });
    } catch (e) {
      if (!/already in use/i.test((e as Error).message)) throw replicasError(e, `stream ${JETSTREAM.jobStream}`, replicas);
      // the limits from these settings; the replicas as they are, or raised
      await raiseReplicas(jsm, JETSTREAM.jobStream, replicas, await jsm.streams.update(JETSTREAM.jobStream, stream));
    }
    // no num_replicas: the consumer has the stream's, and follows it when it is raised
    const consumer = { ack_policy: AckPolicy.Explicit, ack_wait: nanos(opts.ackWaitMs), max_deliver: -1, max_ack_pending: -1 };
    try {
      await jsm.consumers.add(JETSTREAM.jobStream, { durable_name: JETSTREAM.jobConsumer, ...consumer });
    } catch (e) {
      if (!/already in use|already exists/i.test((e as Error).message)) throw e;
      await jsm.consumers.update(JETSTREAM.jobStream, JETSTREAM.jobConsumer, consumer);
    }
    return new JetStreamWorkQueue(nc, await jetstream(nc).consumers.get(JETSTREAM.jobStream, JETSTREAM.jobConsumer), opts);
  }

  async enqueue(item: WorkItem): Promise<{ seq: number; ahead: number }> {
    const body = JSON.stringify(item);
    const limit = (this.nc.info?.max_payload ?? 1024 * 1024) - HEADROOM;
    if (Buffer.byteLength(body) > limit) {
      throw PlatformError.badInput(
        'input',
        `the job's input is ${Buffer.byteLength(body)} bytes, over what the job queue takes (${limit}: the NATS server's max_payload); send smaller images`,
      );
    }
    try {
      const js = jetstream(this.nc);
      const ack = await retryTransient(() => js.publish(SUBJECTS.jobWork, body, { msgID: item.id }), this.opts.retryMs ?? JETSTREAM_RETRY_MS);
      return { seq: ack.seq, ahead: await this.position(ack.seq) };
    } catch (e) {
      if (/maximum messages/i.test((e as Error).message)) throw queueFull(this.opts.maxJobs, this.opts.retryAfterMs());
      throw new PlatformError('SERVICE_UNAVAILABLE', `the job queue (JetStream) did not take the job: ${(e as Error).message}`);
    }
  }

  async position(seq: number): Promise<number> {
    // the consumer hands jobs out in stream order: everything after its last delivery still waits
    if (Date.now() - this.delivered.at > 250) {
      // no answer (its leader being elected): the last one known, an estimate that errs on the long side
      const info = await this.consumer.info().catch(() => undefined);
      if (info) this.delivered = { at: Date.now(), seq: info.delivered.stream_seq };
    }
    return Math.max(0, seq - this.delivered.seq);
  }

  /**
   * The consumer's `num_pending` (messages not delivered yet), read at most once a second; a read that takes over a
   * second (NATS reconnecting) answers the last value known rather than holding up the scrape.
   */
  async depth(): Promise<number> {
    const p = this.pending;
    if (Date.now() - p.at < 1000) return p.value;
    p.reading ??= this.consumer
      .info()
      .then((info) => {
        this.pending = { at: Date.now(), value: info.num_pending };
        return info.num_pending;
      })
      .finally(() => (p.reading = undefined));
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<number>((r) => (timer = setTimeout(() => r(this.pending.value), 1000)));
    return Promise.race([p.reading, late])
      .catch(() => this.pending.value)
      .finally(() => clearTimeout(timer));
  }

  consume(slots: number, handle: (d: Delivery) => Promise<void>): { stop(): Promise<void> } {
    let stopped = false;
    let running = 0;
    let fetching: ConsumerMessages | undefined;
    let freed: (() => void) | undefined;
    const settled = new Set<Promise<void>>();
    /**
     * The deliveries running here, by stream sequence. A job can come back to the runner that still has it: its
     * working() signals were lost for ACK_WAIT (a NATS cluster electing a new leader takes seconds, a reconnect too).
     * That delivery replaces the one held (signals and the ack go through the latest), and the job is not run twice.
     */
    const held = new Map<number, Holder>();
    const loop = (async () => {
      while (!stopped) {
        if (running >= slots) {
          await new Promise<void>((r) => (freed = r));
          continue;
        }
        try {
          fetching = await this.consumer.fetch({ max_messages: slots - running, expires: 5000 });
          for await (const m of fetching) {
            if (stopped) {
              m.nak(); // taken after stop(): straight back for another runner
              continue;
            }
            const mine = held.get(m.seq);
            if (mine && !mine.settled) {
              mine.msg = m;
              m.working();
              continue;
            }
            const holder: Holder = { msg: m, settled: false };
            let d: Delivery;
            try {
              d = delivery(holder);
            } catch {
              m.term('not a job: the body is not a WorkItem'); // never redelivered, never holds a slot
              continue;
            }
            running++;
            held.set(m.seq, holder);
            const p = handle(d).finally(() => {
              running--;
              if (held.get(m.seq) === holder) held.delete(m.seq);
              settled.delete(p);
              freed?.();
            });
            settled.add(p);
          }
        } catch {
          // a server restart or a reconnect: fetch again in a moment
          if (!stopped) await new Promise((r) => setTimeout(r, 500));
        } finally {
          fetching = undefined;
        }
      }
    })();
    return {
      async stop() {
        stopped = true;
        freed?.();
        await fetching?.close();
        await loop;
        await Promise.allSettled([...settled]);
      },
    };
  }
}

/** A job running here: the message the server delivered it with last; settled once acked or given back. */
interface Holder {
  msg: JsMsg;
  settled: boolean;
}

/** One delivery, through whichever message the server delivered it with last (see `held` in consume). */
function delivery(holder: Holder): Delivery {
  return {
    item: holder.msg.json<WorkItem>(),
    attempt: holder.msg.info.deliveryCount,
    working: () => holder.msg.working(),
    ack: async () => {
      holder.settled = true;
      await holder.msg.ackAck();
    },
    release: (delayMs) => {
      holder.settled = true;
      holder.msg.nak(delayMs);
    },
  };
}

/** The queue of one process: the same contract in an array (nothing survives the process). */
export class MemoryWorkQueue implements WorkQueue {
  readonly heartbeatMs = 60_000;
  private readonly waiting: { seq: number; item: WorkItem; attempt: number }[] = [];
  private seq = 0;
  private readonly pumps = new Set<() => void>();
  /** taken and not acked yet, or waiting out a release delay: they count against maxJobs */
  private inFlight = 0;

  constructor(
    private readonly maxJobs: number,
    private readonly retryAfterMs: () => number,
  ) {}

  async enqueue(item: WorkItem): Promise<{ seq: number; ahead: number }> {
    if (this.waiting.length + this.inFlight >= this.maxJobs) throw queueFull(this.maxJobs, this.retryAfterMs());
    const seq = ++this.seq;
    this.waiting.push({ seq, item, attempt: 0 });
    this.wake();
    return { seq, ahead: this.waiting.length };
  }

  private wake(): void {
    for (const pump of this.pumps) pump();
  }

  async position(seq: number): Promise<number> {
    const i = this.waiting.findIndex((w) => w.seq === seq);
    return i < 0 ? 0 : i + 1;
  }

  async depth(): Promise<number> {
    return this.waiting.length;
  }

  consume(slots: number, handle: (d: Delivery) => Promise<void>): { stop(): Promise<void> } {
    let stopped = false;
    let running = 0;
    const settled = new Set<Promise<void>>();
    const pump = () => {
      while (!stopped && running < slots && this.waiting.length > 0) {
        const w = this.waiting.shift()!;
        running++;
        this.inFlight++;
        w.attempt++;
        let done = false;
        const finish = () => {
          if (done) return;
          done = true;
          this.inFlight--;
        };
        const d: Delivery = {
          item: w.item,
          attempt: w.attempt,
          working: () => {},
          ack: async () => finish(),
          release: (delayMs) => {
            setTimeout(() => {
              finish();
              this.waiting.unshift(w);
              this.wake();
            }, delayMs);
          },
        };
        const p = handle(d).finally(() => {
          running--;
          settled.delete(p);
          pump();
        });
        settled.add(p);
      }
    };
    this.pumps.add(pump);
    pump();
    const pumps = this.pumps;
    return {
      async stop() {
        stopped = true;
        pumps.delete(pump);
        await Promise.allSettled([...settled]);
      },
    };
  }
}
