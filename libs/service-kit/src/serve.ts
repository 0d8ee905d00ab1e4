import { hostname } from 'node:os';
import { PlatformError, QUEUE, SERVICES, STATUS, VERSION, decodeMessage, encodeMessage, type ServiceKey, type TensorMap } from '@diffusevae/contracts';
import { Svcm, type Service, type ServiceMsg } from '@nats-io/services';
import { headers as natsHeaders, type NatsConnection } from '@nats-io/transport-node';
import { failureBody, failureHeaders, oneLine } from './failure.js';

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
  subject: string;
  handler: EndpointHandler;
}

export interface ServeOptions {
  key: ServiceKey;
  endpoints: readonly EndpointSpec[];
  /** extra numbers for $SRV.STATS (each endpoint's `data`), e.g. the refiner's batching counters */
  stats?: () => unknown;
  /** where unexpected errors go, with their stack; default console */
  log?: Pick<Console, 'error'>;
}

export interface Served {
  service: Service;
  /** requests being handled right now */
  readonly inFlight: number;
  /** stops taking requests (drains the subscriptions), then waits for the ones in flight */
  stop(): Promise<void>;
}

// @nats-io/services is built against an older @nats-io/nats-core; the connection is the same object at runtime.
type SvcmConnection = ConstructorParameters<typeof Svcm>[0];

/**
 * Adds the service (discoverable through $SRV.PING|INFO|STATS) with its endpoints in the QUEUE group, so
 * replicas share the load. Each message is handled as it arrives, without waiting for the previous one:
 * the refiner's batcher depends on seeing concurrent requests.
 */
export async function serve(nc: NatsConnection, opts: ServeOptions): Promise<Served> {
  const { name, description } = SERVICES[opts.key];
  const stats = opts.stats;
  const service = await new Svcm(nc as unknown as SvcmConnection).add({
    name,
    version: VERSION,
    description,
    queue: QUEUE,
    // which process a replica is, for operators and the fault suite: $SRV.INFO tells them apart
    metadata: { pid: String(process.pid), host: hostname() },
    ...(stats ? { statsHandler: async () => stats() } : {}),
  });
  const log = opts.log ?? console;
  const inFlight = new Set<Promise<void>>();
  for (const ep of opts.endpoints) {
    service.addEndpoint(ep.name, {
      subject: ep.subject,
      handler: (err, msg) => {
        if (err) return; // a subscription error stops the service itself
        const work = handle(nc, name, ep, msg, log).finally(() => inFlight.delete(work));
        inFlight.add(work);
      },
    });
  }
  return {
    service,
    get inFlight() {
      return inFlight.size;
    },
    async stop() {
      await service.stop();
      await Promise.allSettled([...inFlight]);
    },
  };
}

async function handle(nc: NatsConnection, service: string, ep: EndpointSpec, msg: ServiceMsg, log: Pick<Console, 'error'>): Promise<void> {
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
  } catch (e) {
    let failure: PlatformError;
    if (e instanceof PlatformError) failure = e;
    else {
      // never leak internals to callers; the stack goes to this service's log
      log.error(`[${service}] ${ep.name}: unexpected error`, e);
      failure = new PlatformError('INTERNAL_SERVER_ERROR', `${service} failed to handle ${ep.name} (see its log)`);
    }
    msg.respondError(STATUS[failure.code], oneLine(failure.message), failureBody(failure), {
      headers: failureHeaders(failure),
    } as Parameters<ServiceMsg['respondError']>[3]);
  }
}
