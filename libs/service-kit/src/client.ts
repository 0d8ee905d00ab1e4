import { PlatformError, SERVICES, SUBJECTS, decodeMessage, encodeMessage, type TensorMap } from '@diffusevae/contracts';
import { Tensor } from '@diffusevae/tensor';
import { errors, headers as natsHeaders, type NatsConnection } from '@nats-io/transport-node';
import { failureOf } from './failure.js';

export interface CallOptions {
  timeoutMs: number;
  /** extra request headers (e.g. the refine request's progress subject) */
  headers?: Record<string, string>;
}

const SERVICE_OF: [string, string][] = [
  [SUBJECTS.encode, SERVICES.encoder.name],
  [SUBJECTS.decode, SERVICES.vaeDecoder.name],
  [SUBJECTS.eps, SERVICES.refiner.name],
  [SUBJECTS.refine, SERVICES.scheduler.name],
];

/**
 * The service that answers on `subject`, for messages: a stage's subject of a model set (`<stage>.<set>`, a refiner
 * replica's own `<eps>.<set>.<id>` included) names the set too: "diffusevae-encoder (model set fmnist)".
 */
export function serviceFor(subject: string): string {
  for (const [base, name] of SERVICE_OF) {
    if (subject === base) return name;
    if (subject.startsWith(`${base}.`)) return `${name} (model set ${subject.slice(base.length + 1).split('.')[0]})`;
  }
  return subject;
}

/**
 * One request/reply. Transport failures become PlatformErrors: nobody listening → SERVICE_UNAVAILABLE at once
 * (the server answers "no responders" immediately), no reply in time → DEADLINE_EXCEEDED; a service's error
 * reply comes back with its code, field and message.
 */
export async function callService(nc: NatsConnection, subject: string, tensors: TensorMap, params: unknown, opts: CallOptions): Promise<TensorMap> {
  const service = serviceFor(subject);
  const msg = encodeMessage(tensors, params);
  const h = natsHeaders();
  for (const [k, v] of Object.entries({ ...msg.headers, ...opts.headers })) h.set(k, v);
  let reply;
  try {
    reply = await nc.request(subject, msg.body, { timeout: opts.timeoutMs, headers: h });
  } catch (e) {
    throw transportError(e, service, subject, opts.timeoutMs);
  }
  const failure = failureOf(reply);
  if (failure) throw failure;
  try {
    return decodeMessage({ get: (k) => reply.headers?.get(k) }, reply.data).tensors;
  } catch (e) {
    // the caller's input was fine: a reply we cannot read is the service's fault
    throw new PlatformError('INTERNAL_SERVER_ERROR', `${service} sent a reply that does not decode: ${(e as Error).message}`);
  }
}

function transportError(e: unknown, service: string, subject: string, timeoutMs: number): PlatformError {
  if (e instanceof errors.TimeoutError || (e as Error)?.cause instanceof errors.TimeoutError) {
    return new PlatformError('DEADLINE_EXCEEDED', `${service} did not answer within ${timeoutMs} ms`);
  }
  if (e instanceof errors.RequestError && e.isNoResponders()) {
    return new PlatformError('SERVICE_UNAVAILABLE', `no ${service} replica is running (nothing listens on ${subject})`);
  }
  return new PlatformError('SERVICE_UNAVAILABLE', `${service} could not be reached: ${(e as Error)?.message ?? String(e)}`);
}

/** A float32 tensor of a reply; its absence is the service's fault, not the caller's. */
export function replyTensor(reply: TensorMap, name: string, subject: string): Tensor {
  const t = reply[name];
  if (!t || t.dtype !== 'float32') throw new PlatformError('INTERNAL_SERVER_ERROR', `${serviceFor(subject)} replied without a float32 ${name}`);
  return new Tensor(t.data as Float32Array, t.shape);
}

/** [start, end) ranges of at most `per` items covering [0, total). */
export function chunks(total: number, per: number): [number, number][] {
  const out: [number, number][] = [];
  for (let s = 0; s < total; s += per) out.push([s, Math.min(total, s + per)]);
  return out;
}
