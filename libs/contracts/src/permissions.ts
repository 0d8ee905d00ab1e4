/**
 * Who may do what on NATS: one identity (a NATS user) per service, one for the gateway, and `admin` for operators
 * and the API-keys CLI. Data only: tools/launcher renders it into a nats-server configuration, deploy/k8s/nats.yaml
 * holds the same lists. Every list is built from SUBJECTS and JETSTREAM, so a renamed subject moves its rights too.
 *
 * - Requests go out on a subject the caller may publish to; their replies come back on the caller's own inbox
 *   prefix `_INBOX_<identity>` (clients connect with `inboxPrefix`, see service-kit's natsConnectOptions), and only
 *   that identity may subscribe there: nobody reads another's replies.
 * - Services answer without any publish right on inboxes: `responses` lets them publish once to the reply subject
 *   of a request they were sent, for `expiresMs` (nats-server's own default, 2 minutes, would cut a long refine).
 * - JetStream rights are narrowed to the streams and buckets each identity uses: the gateway's job stream, its
 *   consumer and its KV buckets (jobs, keys), the scheduler's checkpoints bucket.
 */
import { JETSTREAM, SERVICES, SUBJECTS } from './subjects.js';

export const NATS_IDENTITIES = ['gateway', 'encoder', 'vae-decoder', 'refiner', 'scheduler', 'admin'] as const;
export type NatsIdentity = (typeof NATS_IDENTITIES)[number];

export interface ResponsePermission {
  /** replies a request allows (1: a request has one answer) */
  maxMsgs: number;
  /** how long after the request its reply may still be sent */
  expiresMs: number;
}

export interface NatsPermissions {
  /** subjects it may publish to (requests included); wildcards as in NATS */
  publish: string[];
  /** subjects it may subscribe to (queue subscriptions included) */
  subscribe: string[];
  /** nats-server's allow_responses: it may answer the requests it receives, without publish rights on inboxes */
  responses?: ResponsePermission;
  /** where its replies arrive: the client must connect with this inboxPrefix */
  inboxPrefix: string;
}

export interface PermissionOptions {
  /** the gateway's JOB_BUCKET (default JETSTREAM.jobBucket) */
  jobBucket?: string;
  /** the API keys' bucket (default JETSTREAM.keyBucket) */
  keyBucket?: string;
  /** the schedulers' checkpoints (default JETSTREAM.checkpointBucket) */
  checkpointBucket?: string;
}

/** `_INBOX_<identity>`: one token, so that `<prefix>.>` covers its inboxes and nobody else's. */
export function inboxPrefixOf(identity: string): string {
  return `_INBOX_${identity}`;
}

/** The longest REQUEST_TIMEOUT_MS / EPS_TIMEOUT_MS a service config accepts: an encode, decode or ε call. */
const CALL_RESPONSE_MS = 3_600_000;
/** The longest REFINE_TIMEOUT_MS: a whole reverse process, answered at its end. */
const REFINE_RESPONSE_MS = 86_400_000;

const JS_API = '$JS.API';

/** A progress subject: `diffusevae.progress.<token>` (see service-kit's newProgressSubject). */
const PROGRESS = `${SUBJECTS.progress}.*`;
/** Where a refine request's caller cancels it. */
const PROGRESS_CANCEL = `${SUBJECTS.progress}.*.cancel`;

/** The micro protocol: each service answers $SRV.PING|INFO|STATS[.<name>[.<id>]]. */
const SRV_ALL = '$SRV.>';
const SRV_DISCOVERY = ['$SRV.PING', '$SRV.INFO', '$SRV.STATS'];

/** A stage's subjects of every model set (setSubject): `<stage subject>.<set>`, one token. */
const perSet = (subject: string) => `${subject}.*`;
/** Each refiner replica's own ε subjects (refinerEpsSubject): `diffusevae.refiner.eps.<set>.<instance id>`. */
const REFINER_INSTANCE_EPS = `${SUBJECTS.eps}.*.*`;
/** How the scheduler finds the refiner replicas and their own subjects: $SRV.INFO of the refiner service only. */
const REFINER_INFO = `$SRV.INFO.${SERVICES.refiner.name}`;

/**
 * A KV bucket through nats.js (@nats-io/kv): open or create it (stream KV_<bucket>: info, then create when
 * missing), put/create/update/delete (publishes on $KV.<bucket>.<key>, acknowledged by JetStream) and get (a
 * direct get: every bucket here is made by nats.js on a server ≥ 2.9, so with allow_direct). With `watch`: the
 * ordered consumers of watch() and keys(), created (always with a filter inside the bucket), their info read
 * (keys() asks how many keys are pending), deleted when they reset, and answering the server's flow control.
 */
function kvBucket(bucket: string, opts: { watch: boolean }): string[] {
  const stream = `KV_${bucket}`;
  return [
    `$KV.${bucket}.>`,
    `${JS_API}.STREAM.INFO.${stream}`,
    `${JS_API}.STREAM.CREATE.${stream}`,
    `${JS_API}.DIRECT.GET.${stream}.>`,
    ...(opts.watch
      ? [
          `${JS_API}.CONSUMER.CREATE.${stream}.*.$KV.${bucket}.>`,
          `${JS_API}.CONSUMER.INFO.${stream}.*`,
          `${JS_API}.CONSUMER.DELETE.${stream}.*`,
          `$JS.FC.${stream}.>`,
        ]
      : []),
  ];
}

/**
 * The job queue (services/gateway/src/work-queue.ts): publish jobs; create the work-queue stream, or update it
 * (info, then update) when its limits changed; create or update its one durable pull consumer (the ≥ 2.9 API:
 * CONSUMER.CREATE.<stream>.<name>), read its info, pull from it, and ack / nak / "still working" what it got.
 */
function jobQueue(): string[] {
  const stream = JETSTREAM.jobStream;
  const consumer = `${stream}.${JETSTREAM.jobConsumer}`;
  return [
    SUBJECTS.jobWork,
    `${JS_API}.STREAM.INFO.${stream}`,
    `${JS_API}.STREAM.CREATE.${stream}`,
    `${JS_API}.STREAM.UPDATE.${stream}`,
    `${JS_API}.CONSUMER.CREATE.${consumer}`,
    `${JS_API}.CONSUMER.INFO.${consumer}`,
    `${JS_API}.CONSUMER.MSG.NEXT.${consumer}`,
    `$JS.ACK.${consumer}.>`,
  ];
}

/** A micro service: its endpoint (in the queue group), discovery, and replies to the requests it makes. */
function service(identity: NatsIdentity, endpoint: string, extra: { publish?: string[]; subscribe?: string[]; responseMs?: number } = {}): NatsPermissions {
  const inboxPrefix = inboxPrefixOf(identity);
  return {
    publish: extra.publish ?? [],
    subscribe: [endpoint, SRV_ALL, ...(extra.subscribe ?? []), `${inboxPrefix}.>`],
    responses: { maxMsgs: 1, expiresMs: extra.responseMs ?? CALL_RESPONSE_MS },
    inboxPrefix,
  };
}

/** Every identity's permissions; the bucket names default to JETSTREAM's (the gateway's JOB_BUCKET may differ). */
export function natsPermissions(opts: PermissionOptions = {}): Record<NatsIdentity, NatsPermissions> {
  const jobBucket = opts.jobBucket ?? JETSTREAM.jobBucket;
  const keyBucket = opts.keyBucket ?? JETSTREAM.keyBucket;
  const checkpointBucket = opts.checkpointBucket ?? JETSTREAM.checkpointBucket;
  const gatewayInbox = inboxPrefixOf('gateway');
  return {
    gateway: {
      publish: [
        perSet(SUBJECTS.encode),
        perSet(SUBJECTS.decode),
        perSet(SUBJECTS.refine),
        PROGRESS_CANCEL,
        SUBJECTS.jobCancel,
        SUBJECTS.jobFinished,
        ...SRV_DISCOVERY,
        `${JS_API}.INFO`,
        ...jobQueue(),
        // jobs: read, written, watched (jobProgress); API keys: read, and each key's running jobs written
        ...kvBucket(jobBucket, { watch: true }),
        ...kvBucket(keyBucket, { watch: false }),
      ],
      subscribe: [PROGRESS, SUBJECTS.jobCancel, SUBJECTS.jobFinished, `${gatewayInbox}.>`],
      inboxPrefix: gatewayInbox,
    },
    encoder: service('encoder', perSet(SUBJECTS.encode)),
    'vae-decoder': service('vae-decoder', perSet(SUBJECTS.decode)),
    // each set's queue-group subject, and its own ones (ids are made at start-up, so the right covers any one token)
    refiner: service('refiner', perSet(SUBJECTS.eps), { subscribe: [REFINER_INSTANCE_EPS] }),
    scheduler: service('scheduler', perSet(SUBJECTS.refine), {
      // ε calls: to the set's queue group, or to the replica it chose (least outstanding work), found through $SRV.INFO
      publish: [perSet(SUBJECTS.eps), REFINER_INSTANCE_EPS, REFINER_INFO, PROGRESS, SUBJECTS.refineTakeover, `${JS_API}.INFO`, ...kvBucket(checkpointBucket, { watch: false })],
      subscribe: [PROGRESS_CANCEL, SUBJECTS.refineTakeover],
      responseMs: REFINE_RESPONSE_MS,
    }),
    admin: { publish: ['>'], subscribe: ['>'], inboxPrefix: inboxPrefixOf('admin') },
  };
}
