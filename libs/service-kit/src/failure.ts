import { HEADERS, PlatformError, STATUS, codeForStatus, type ErrorCode, type ServiceFailure } from '@diffusevae/contracts';
import { ServiceErrorCodeHeader, ServiceErrorHeader } from '@nats-io/services';
import { headers as natsHeaders, type Msg, type MsgHdrs } from '@nats-io/transport-node';

/**
 * How a failure travels. Headers: the micro protocol's Nats-Service-Error(-Code) (so generic NATS tooling sees
 * an error) plus our code and field; body: the ServiceFailure as JSON, which keeps the message intact where a
 * header would have to flatten it.
 */

const ERROR_CODES = new Set<string>(Object.keys(STATUS));

/** Header values cannot hold line breaks. */
export const oneLine = (s: string) => s.replace(/[\r\n]+/g, ' ');

export function failureHeaders(e: PlatformError): MsgHdrs {
  const h = natsHeaders();
  h.set(HEADERS.errorCode, e.code);
  if (e.field) h.set(HEADERS.errorField, oneLine(e.field));
  return h;
}

export function failureBody(e: PlatformError): Uint8Array {
  const f: ServiceFailure = {
    code: e.code,
    message: e.message,
    ...(e.field ? { field: e.field } : {}),
    ...(e.retryAfterMs !== undefined ? { retryAfterMs: e.retryAfterMs } : {}),
  };
  return new TextEncoder().encode(JSON.stringify(f));
}


/** The PlatformError a reply carries, or undefined when it is not an error reply. */
export function failureOf(msg: Pick<Msg, 'headers' | 'data'>): PlatformError | undefined {
  const h = msg.headers;
  const status = h?.get(ServiceErrorCodeHeader);
  if (!h || !status) return undefined;
  const header = h.get(HEADERS.errorCode);
  const code: ErrorCode = ERROR_CODES.has(header) ? (header as ErrorCode) : codeForStatus(Number(status));
  let body: Partial<ServiceFailure> = {};
  try {
    body = JSON.parse(new TextDecoder().decode(msg.data)) as ServiceFailure;
  } catch {
    // an error from something other than serve(): the headers are all there is
  }
  const message = typeof body.message === 'string' ? body.message : h.get(ServiceErrorHeader) || `service error ${status}`;
  const field = h.get(HEADERS.errorField) || undefined;
  const retryAfterMs = typeof body.retryAfterMs === 'number' ? body.retryAfterMs : undefined;
  return new PlatformError(code, message, field, retryAfterMs);
}
