import { HANDOVER, HEADERS, PlatformError, SUBJECTS, decodeMessage, encodeMessage, float32, type ProgressEvent } from '@diffusevae/contracts';
import { Tensor } from '@diffusevae/tensor';
import { headers as natsHeaders, nuid, type Msg, type NatsConnection } from '@nats-io/transport-node';

/**
 * The side channel of a refine request. The caller picks a unique subject under SUBJECTS.progress and sends
 * it in the Diffusevae-Progress-Subject header; the scheduler publishes ProgressEvents there (the event as the
 * params header, x̂_0 as the tensor `x0_pred` when a preview is asked for) and listens on `<subject>.cancel`,
 * where the caller publishes once to stop the reverse process early (an aborted job frees the refiners
 * instead of running to the end for nobody).
 */
export const PREVIEW_TENSOR = 'x0_pred';

export function newProgressSubject(): string {
  return `${SUBJECTS.progress}.${nuid.next()}`;
}

export function cancelSubject(progressSubject: string): string {
  return `${progressSubject}.cancel`;
}

const TOKEN = /^[A-Za-z0-9_-]+$/;

/** The scheduler publishes where the caller says, so the caller must not be able to say "the refiner's subject". */
export function checkProgressSubject(subject: string): void {
  const prefix = `${SUBJECTS.progress}.`;
  if (!subject.startsWith(prefix) || !TOKEN.test(subject.slice(prefix.length))) {
    throw PlatformError.badInput('progressSubject', `must be ${prefix}<token> (letters, digits, _ and -), got ${JSON.stringify(subject)}`);
  }
}

/**
 * The abort reason of a refine request whose caller is handing its job over (a rollout, scale-in): the scheduler
 * saves a checkpoint before it lets go, so that whoever takes the job next resumes there.
 */
export class Handover extends PlatformError {
  constructor() {
    super('CANCELLED', 'the caller handed the job over (it is shutting down); it resumes elsewhere');
  }
}

/** Where the scheduler sends progress and learns of cancellation; the NATS one is natsProgress(nc). */
export interface ProgressChannel {
  publish(subject: string, event: ProgressEvent, preview?: Tensor): void;
  /** tells the caller that the request is alive (it waits, or its steps are slow), with no step in it */
  heartbeat(subject: string): void;
  /** aborts `signal` when the caller cancels (reason: Handover when it hands the job over); close() stops listening */
  watchCancel(subject: string): { signal: AbortSignal; close(): void };
}

/** A message on a progress subject that only says "still alive". */
export function isHeartbeat(msg: Pick<Msg, 'headers'>): boolean {
  return msg.headers?.get(HEADERS.heartbeat) === '1';
}

export function natsProgress(nc: NatsConnection): ProgressChannel {
  return {
    publish(subject, event, preview) {
      const msg = encodeMessage(preview ? { [PREVIEW_TENSOR]: float32(preview.data, preview.shape) } : {}, event);
      const h = natsHeaders();
      for (const [k, v] of Object.entries(msg.headers)) h.set(k, v);
      nc.publish(subject, msg.body, { headers: h });
    },
    heartbeat(subject) {
      const h = natsHeaders();
      h.set(HEADERS.heartbeat, '1');
      nc.publish(subject, undefined, { headers: h });
    },
    watchCancel(subject) {
      const ac = new AbortController();
      const sub = nc.subscribe(cancelSubject(subject), {
        max: 1,
        callback: (_err, msg) => ac.abort(msg?.string() === HANDOVER ? new Handover() : new PlatformError('CANCELLED', 'cancelled by the caller')),
      });
      return { signal: ac.signal, close: () => sub.unsubscribe() };
    },
  };
}

/** A progress message as published by natsProgress. */
export function decodeProgress(msg: Pick<Msg, 'headers' | 'data'>): { event: ProgressEvent; preview?: Tensor } {
  const { tensors, params } = decodeMessage({ get: (k) => msg.headers?.get(k) }, msg.data);
  const p = tensors[PREVIEW_TENSOR];
  return { event: params as ProgressEvent, ...(p ? { preview: new Tensor(p.data as Float32Array, p.shape) } : {}) };
}
