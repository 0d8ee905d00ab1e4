/**
 * What a client sees when something fails: GraphQL errors with `extensions.code`. Expected failures keep
 * their message and code; anything else is INTERNAL_SERVER_ERROR with a generic message (logged here, never
 * sent).
 */
import type { GraphQLFormattedError } from 'graphql';
import { GraphQLError } from 'graphql';
import { unwrapResolverError } from '@apollo/server/errors';
import { PlatformError, type ErrorCode } from '@diffusevae/contracts';
import type { Logger } from './log.js';

export interface Failure {
  code: ErrorCode;
  message: string;
  /** the input field at fault */
  field?: string;
  /** true when the cause is unknown: the message is generic and the error should be logged */
  internal: boolean;
  /** RESOURCE_EXHAUSTED: when to try again */
  retryAfterMs?: number;
}

export const INTERNAL_MESSAGE = 'Internal server error (the gateway log has the details)';

/** NATS client errors, by name, for a service client that lets them through unmapped. */
const NATS_ERRORS: Record<string, ErrorCode> = {
  NoRespondersError: 'SERVICE_UNAVAILABLE',
  ClosedConnectionError: 'SERVICE_UNAVAILABLE',
  DrainingConnectionError: 'SERVICE_UNAVAILABLE',
  ConnectionError: 'SERVICE_UNAVAILABLE',
  TimeoutError: 'DEADLINE_EXCEEDED',
  AbortError: 'CANCELLED',
};

/** Errors thrown by the shared libraries for bad user input; each names its field. */
const INPUT_ERRORS = new Set(['ImageError', 'SchedulerError', 'RngError']);

export function classify(e: unknown): Failure {
  for (let cause = e, depth = 0; cause instanceof Error && depth < 5; cause = cause.cause, depth++) {
    if (cause instanceof PlatformError) {
      return {
        code: cause.code,
        message: cause.message,
        ...(cause.field ? { field: cause.field } : {}),
        ...(cause.retryAfterMs !== undefined ? { retryAfterMs: cause.retryAfterMs } : {}),
        internal: cause.code === 'INTERNAL_SERVER_ERROR',
      };
    }
    if (INPUT_ERRORS.has(cause.name)) {
      const field = (cause as { field?: unknown }).field;
      return { code: 'BAD_USER_INPUT', message: cause.message, ...(typeof field === 'string' ? { field } : {}), internal: false };
    }
    const code = NATS_ERRORS[cause.name];
    if (code) return { code, message: `${code === 'SERVICE_UNAVAILABLE' ? 'a service is unavailable' : 'a service did not answer in time'}: ${cause.message}`, internal: false };
  }
  return { code: 'INTERNAL_SERVER_ERROR', message: INTERNAL_MESSAGE, internal: true };
}

export function failureExtensions(f: Pick<Failure, 'code' | 'field' | 'retryAfterMs'>): Record<string, unknown> {
  return { code: f.code, ...(f.field ? { field: f.field } : {}), ...(f.retryAfterMs !== undefined ? { retryAfterMs: f.retryAfterMs } : {}) };
}

/** For the subscription transport, which does not go through Apollo's formatError. */
export function toGraphQLError(e: unknown, log?: Logger): GraphQLError {
  if (e instanceof GraphQLError) return e;
  const f = classify(e);
  if (f.internal) log?.error({ err: e }, 'unexpected error');
  return new GraphQLError(f.message, { extensions: failureExtensions(f) });
}

/**
 * Apollo's formatError: GraphQL errors that already carry a code (parse, validation, variable coercion, ours)
 * pass through; errors thrown by resolvers are classified. Stack traces are Apollo's business
 * (includeStacktraceInErrorResponses), kept only when it put them there.
 */
export function createFormatError(log: Logger) {
  return (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError => {
    const original = unwrapResolverError(error);
    if (original instanceof GraphQLError) {
      // Apollo's own refusals of a request that carry no code (an APQ hash that does not match the query, 400) are
      // labelled INTERNAL_SERVER_ERROR by Apollo: they are the client's, BAD_REQUEST
      const status = (original.extensions['http'] as { status?: number } | undefined)?.status;
      if (original.extensions['code'] === undefined && status !== undefined && status >= 400 && status < 500) {
        return { ...formatted, extensions: { ...formatted.extensions, code: 'BAD_REQUEST' } };
      }
      return formatted;
    }
    const f = classify(original);
    if (f.internal) log.error({ err: original, path: formatted.path }, 'unexpected error');
    const stacktrace = formatted.extensions?.['stacktrace'];
    return {
      message: f.message,
      ...(formatted.locations ? { locations: formatted.locations } : {}),
      ...(formatted.path ? { path: formatted.path } : {}),
      extensions: { ...failureExtensions(f), ...(stacktrace ? { stacktrace } : {}) },
    };
  };
}
