/** Error normalisation: whatever failed (HTTP, GraphQL, WebSocket) becomes ApiError { message, code, field }. Pure. */
import type { ApiError } from './types';

interface RawGraphQLError {
  message?: unknown;
  extensions?: { code?: unknown; field?: unknown; retryAfterMs?: unknown } | null;
}

export const KEY_HELP =
  'Ask an operator for an API key (`npm run keys -- create --name NAME`), or open the link that `npm start` prints (it ends in #key=…), then paste the key into “API key”.';

/** One GraphQL error object (from a response body or a graphql-ws error frame) → ApiError. */
export function fromGraphQLError(e: RawGraphQLError): ApiError {
  const ext = e.extensions ?? {};
  const out: ApiError = { message: typeof e.message === 'string' && e.message !== '' ? e.message : 'Unknown error' };
  if (typeof ext.code === 'string') out.code = ext.code;
  if (typeof ext.field === 'string') out.field = ext.field;
  if (typeof ext.retryAfterMs === 'number') out.retryAfterMs = ext.retryAfterMs;
  return out;
}

/** A response (HTTP status + parsed body, or null when it was not JSON) → its errors; empty when it has none. */
export function errorsFromResponse(status: number, body: unknown): ApiError[] {
  const errors = (body as { errors?: unknown } | null)?.errors;
  if (Array.isArray(errors) && errors.length > 0) {
    return errors.map((e) => {
      const err = fromGraphQLError((e ?? {}) as RawGraphQLError);
      if (!err.code && status === 401) err.code = 'UNAUTHENTICATED';
      return err;
    });
  }
  if (status === 401) return [{ message: 'This request needs an API key.', code: 'UNAUTHENTICATED' }];
  if (status === 403) return [{ message: 'This API key may not do that.', code: 'FORBIDDEN' }];
  if (status === 429) return [{ message: 'Too many requests: try again in a moment.', code: 'RATE_LIMITED' }];
  if (status < 200 || status >= 300) return [{ message: `The gateway answered HTTP ${status}.`, code: `HTTP_${status}` }];
  if (body === null || typeof body !== 'object') return [{ message: 'The gateway sent a response that is not GraphQL JSON.', code: 'BAD_RESPONSE' }];
  return [];
}

/** What graphql-ws hands a sink's error(): an array of GraphQL errors, a CloseEvent-like {code, reason}, or an Error. */
export function fromSubscriptionError(err: unknown): ApiError {
  if (Array.isArray(err) && err.length > 0) return fromGraphQLError(err[0] as RawGraphQLError);
  if (err && typeof err === 'object' && 'code' in err && typeof (err as { code: unknown }).code === 'number') {
    const { code, reason } = err as { code: number; reason?: string };
    if (code === 4401 || code === 4403) {
      return { message: reason || 'The API key was refused.', code: code === 4401 ? 'UNAUTHENTICATED' : 'FORBIDDEN' };
    }
    if (code === 4429) return { message: reason || 'Too many subscriptions.', code: 'RATE_LIMITED' };
    return { message: `The live connection closed (${code}${reason ? `: ${reason}` : ''}).`, code: 'CONNECTION_CLOSED' };
  }
  if (err instanceof Error) return { message: err.message, code: 'NETWORK_ERROR' };
  return { message: 'The live connection failed.', code: 'NETWORK_ERROR' };
}

/** The message the page shows: the API's, with the way to get a key added for UNAUTHENTICATED. */
export function describeError(e: ApiError): string {
  if (e.code === 'UNAUTHENTICATED') return `${e.message} — ${KEY_HELP}`;
  if (e.retryAfterMs != null && e.retryAfterMs > 0) return `${e.message} (try again in ${Math.ceil(e.retryAfterMs / 1000)} s)`;
  return e.message;
}
