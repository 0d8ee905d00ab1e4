import { hostname } from 'node:os';
import { PlatformError, QUEUE, SERVICES, STATUS, VERSION, decodeMessage, encodeMessage, type ServiceKey, type TensorMap } from '@diffusevae/contracts';
import { Svcm, type Service, type ServiceMsg } from '@nats-io/services';
import { headers as natsHeaders, type NatsConnection } from '@nats-io/transport-node';
import { failureBody, failureHeaders, oneLine } from './failure.js';
import { createLogger, type Logger } from './log.js';
import { requestMetrics, type Metrics } from './metrics.js';
import { serviceLabel } from './run.js';

export interface EndpointRequest {
  tensors: TensorMap;
  /** the params header, parsed (undefined when absent) */
  params: unknown;
  /** a request header ('' or undefined when absent) */
  header(name: string): string | undefined;
}

/** Pure-ish work: decoded request in, tensors out. A PlatformError is an expected failure; anything else a 500. */
export type EndpointHandler = (req: EndpointRequest) => Promise<TensorMap>;

export interface EndpointSpec {
  name: string;
  /** where it listens: a subject, or one made of this replica's instance id (its $SRV id; e.g. refinerEpsSubject) */
  subject: string | ((instanceId: string) => string);
  /** in the QUEUE group, sharing the load with the other replicas (default); false: this replica alone listens */
  queue?: boolean;
  /** this endpoint's `data` in $SRV.STATS (e.g. its model set's batcher), instead of ServeOptions.stats */
  stats?: () => unknown;
  /**
   * the model set it serves: the endpoint is named `<name>-<set>` (its $SRV name and its metrics' `endpoint` label) and
   * carries `{ set }` in its $SRV metadata
   */
  set?: string;
  handler: EndpointHandler;
}

export interface ServeOptions {
  key: ServiceKey;
  endpoints: readonly EndpointSpec[];
  /** extra numbers for $SRV.STATS (each endpoint's `data`), e.g. the refiner's batching counters */
  stats?: () => unknown;
  /** where unexpected errors go (with their stack where log.ts keeps stacks); default: a logger of its own (LOG_LEVEL) */
  log?: Logger;
  /**
   * the process's registry: `diffusevae_requests_total`, `diffusevae_request_duration_seconds` and
   * `diffusevae_requests_in_flight` by endpoint; its `url` goes into $SRV.INFO as `metrics_url`
   */
  metrics?: Metrics;
}

export interface Served {
  service: Service;
  /** this replica's instance id: its `$SRV` id (PING, INFO, STATS answer with it) */
  readonly id: string;
  /** requests being handled right now */
  readonly inFlight: number;
  /** stops taking requests (drains the subscriptions), then waits for the ones in flight */
  stop(): Promise<void>;
}

// @nats-io/services is built against an older @nats-io/nats-core; the connection is the same object at runtime.
type SvcmConnection = ConstructorParameters<typeof Svcm>[0];

/**
 * Adds the service (discoverable through $SRV.PING|INFO|STATS) with its endpoints in the QUEUE group, so
 * replicas share the load (an endpoint with `queue: false` listens outside it, on a subject of its own). Each
 * message is handled as it arrives, without waiting for the previous one:
 * the refiner's batcher depends on seeing concurrent requests.
 */
export async function serve(nc: NatsConnection, opts: ServeOptions): Promise<Served> {
  const { name, description } = SERVICES[opts.key];
  const endpoints = opts.endpoints.map((ep) => (ep.set ? { ...ep, name: `${ep.name}-${ep.set}` } : ep));
  // each endpoint's `data`: its own numbers when it has them, else the service's
  const statsOf = new Map(endpoints.map((ep) => [ep.name, ep.stats ?? opts.stats]));
  const hasStats = [...statsOf.values()].some((f) => f !== undefined);
  const metricsUrl = opts.metrics?.url;
  const service = await new Svcm(nc as unknown as SvcmConnection).add({
    name,
    version: VERSION,
    description,
    // no service-wide group: each endpoint names its own (QUEUE, or none), since @nats-io/services takes an empty
    // endpoint queue for "the service's"
    queue: '',
    // which process a replica is, for operators and the fault suite: $SRV.INFO tells them apart (and where its
    // /metrics is: a scraper finds every replica through NATS)
    metadata: { pid: String(process.pid), host: hostname(), ...(metricsUrl ? { metrics_url: metricsUrl } : {}) },
    // the library hands the endpoint it asks for (typed without its name, which the object carries)
    ...(hasStats ? { statsHandler: async (ep: object): Promise<unknown> => statsOf.get((ep as { name: string }).name)?.() ?? null } : {}),
  });
  const timing = measuredStats(service, endpoints);
  const metrics = opts.metrics ? requestMetrics(opts.metrics) : undefined;
  const log = opts.log ?? createLogger({ service: serviceLabel(opts.key) });
  const inFlight = new Set<Promise<void>>();
  for (const ep of endpoints) {
    const times = timing.get(ep.name)!;
    service.addEndpoint(ep.name, {
      subject: typeof ep.subject === 'string' ? ep.subject : ep.subject(service.info().id),
      ...(ep.queue === false ? {} : { queue: QUEUE }),
      ...(ep.set ? { metadata: { set: ep.set } } : {}),
      handler: (err, msg) => {
        if (err) return; // a subscription error stops the service itself
        const started = performance.now();
        metrics?.inFlight.inc({ endpoint: ep.name });
        const work = (async () => {
          let failure: PlatformError | undefined = UNSENT;
          try {
            failure = await handle(nc, name, ep, msg, log);
          } finally {
            // the whole async work, reply included: what $SRV.STATS and the duration histogram report
            const ms = performance.now() - started;
            times.count(ms, failure);
            metrics?.inFlight.dec({ endpoint: ep.name });
            metrics?.requests.inc({ endpoint: ep.name, outcome: failure?.code ?? 'ok' });
            metrics?.duration.observe({ endpoint: ep.name }, ms / 1000);
          }
        })().finally(() => inFlight.delete(work));
        inFlight.add(work);
      },
    });
  }
  return {
    service,
    id: service.info().id,
    get inFlight() {
      return inFlight.size;
    },
    async stop() {
      await service.stop();
      await Promise.allSettled([...inFlight]);
    },
  };
}

/** What a request counts as when even its error reply could not be sent (the connection closed under it). */
const UNSENT = new PlatformError('INTERNAL_SERVER_ERROR', 'the reply could not be sent');

/** One endpoint's requests as $SRV.STATS reports them, measured over the handler's whole async work. */
class EndpointTimes {
  requests = 0;
  errors = 0;
  /** nanoseconds */
  total = 0;
  lastError: string | undefined;

  count(ms: number, failure: PlatformError | undefined): void {
    this.requests++;
    this.total += Math.round(ms * 1e6);
    if (failure) {
      this.errors++;
      this.lastError = `${STATUS[failure.code]}: ${oneLine(failure.message)}`;
    }
  }

  reset(): void {
    Object.assign(this, { requests: 0, errors: 0, total: 0, lastError: undefined });
  }
}

/**
 * @nats-io/services times an endpoint only until its handler callback returns (`countLatency` in a `finally`
 * around the synchronous call) and counts an error only when that call throws: for async handlers it reports
 * microseconds and no errors. Its `stats()` (what answers $SRV.STATS, looked up on the instance) is wrapped here so
 * that each endpoint of ours reports the requests as serve() measured them: from arrival to reply, failures
 * (answered with respondError) counted as errors. `reset()` clears them too.
 */
function measuredStats(service: Service, endpoints: readonly EndpointSpec[]): Map<string, EndpointTimes> {
  const timing = new Map(endpoints.map((ep) => [ep.name, new EndpointTimes()]));
  const stats = service.stats.bind(service);
  service.stats = async () => {
    const s = await stats();
    for (const e of s.endpoints ?? []) {
      const t = timing.get(e.name);
      if (!t) continue;
      Object.assign(e, {
        num_requests: t.requests,
        num_errors: t.errors,
        processing_time: t.total,
        average_processing_time: t.requests > 0 ? Math.round(t.total / t.requests) : 0,
      });
      if (t.lastError !== undefined) e.last_error = t.lastError;
    }
    return s;
  };
  const reset = service.reset.bind(service);
  service.reset = () => {
    reset();
    for (const t of timing.values()) t.reset();
  };
  return timing;
}

/** Handles one request and replies; resolves with the failure it answered, if any (it never rejects). */
async function handle(nc: NatsConnection, service: string, ep: EndpointSpec, msg: ServiceMsg, log: Logger): Promise<PlatformError | undefined> {
  try {
    const { tensors, params } = decodeMessage({ get: (k) => msg.headers?.get(k) }, msg.data);
    const out = encodeMessage(await ep.handler({ tensors, params, header: (k) => msg.headers?.get(k) || undefined }));
    const h = natsHeaders();
    let headerBytes = 16;
    for (const [k, v] of Object.entries(out.headers)) {
      h.set(k, v);
      headerBytes += k.length + v.length + 4;
    }
    const max = nc.info?.max_payload ?? Infinity;
    if (out.body.byteLength + headerBytes > max) {
      throw PlatformError.badInput('message', `the reply would be ${out.body.byteLength} bytes, over the server's max_payload ${max}; send fewer items per request`);
    }
    msg.respond(out.body, { headers: h } as Parameters<ServiceMsg['respond']>[1]);
    return undefined;
  } catch (e) {
    let failure: PlatformError;
    if (e instanceof PlatformError) failure = e;
    else {
      // never leak internals to callers; the stack goes to this service's log
      log.error({ endpoint: ep.name, err: e }, `${ep.name}: unexpected error`);
      failure = new PlatformError('INTERNAL_SERVER_ERROR', `${service} failed to handle ${ep.name} (see its log)`);
    }
    msg.respondError(STATUS[failure.code], oneLine(failure.message), failureBody(failure), {
      headers: failureHeaders(failure),
    } as Parameters<ServiceMsg['respondError']>[3]);
    return failure;
  }
}
