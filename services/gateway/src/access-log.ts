/**
 * The access log: one line per GraphQL operation, and per subscription one when it starts and one when it ends.
 *
 *   {"level":"info",…,"service":"gateway","request":"3f0c…","operation":"Gen","type":"mutation","durationMs":41.2,
 *    "outcome":"ok","status":200,"keyId":"k3v…","msg":"graphql request"}
 *
 * `request` is the request id: the client's `x-request-id` when it is short and safe (letters, digits, `.`, `_`,
 * `:`, `-`; at most 64), otherwise a new UUID. The gateway sends it back as `x-request-id` (also on a WebSocket's
 * upgrade) and the jobs an operation submits carry it, so their lines (`job submitted`, `job started`, … on whichever
 * replica runs them) name the request too. `keyId` is the API key's id (never the key); `outcome` is `ok` or the
 * distinct error codes, comma-separated; `status` the HTTP status.
 *
 * Operations Apollo runs are logged by `accessLogPlugin`; requests refused before it (no key, a limit, a body
 * too large, CSRF) by the HTTP handler with `logAccess` (server.ts); subscriptions over graphql-ws by server.ts's
 * graphql-ws hooks with `logSubscription`.
 */
import { randomUUID } from 'node:crypto';
import type http from 'node:http';
import type { ApolloServerPlugin } from '@apollo/server';
import type { Logger } from '@diffusevae/service-kit';
import { classify } from './errors.js';
import type { GatewayContext } from './server.js';

export const REQUEST_ID_HEADER = 'x-request-id';
/** the access line of an operation over HTTP */
export const ACCESS_MESSAGE = 'graphql request';
export const SUBSCRIPTION_STARTED = 'subscription started';
export const SUBSCRIPTION_ENDED = 'subscription ended';

const SAFE_ID = /^[A-Za-z0-9._:-]{1,64}$/;
/** A GraphQL Name (the spec's grammar), kept short: what an operation name may be in a line. */
const NAME = /^[_A-Za-z][_0-9A-Za-z]{0,63}$/;

/** true for an id a client may choose: short, and nothing but letters, digits, `.`, `_`, `:`, `-` */
export function isRequestId(id: unknown): id is string {
  return typeof id === 'string' && SAFE_ID.test(id);
}

const ids = new WeakMap<http.IncomingMessage, string>();

/** The request's id: its `x-request-id` when valid, else a new UUID (the same one every time for one request). */
export function requestIdOf(req: http.IncomingMessage): string {
  let id = ids.get(req);
  if (id === undefined) {
    const given = req.headers[REQUEST_ID_HEADER];
    id = isRequestId(given) ? given : randomUUID();
    ids.set(req, id);
  }
  return id;
}

/** An operation name as a client sent it: kept when it is a GraphQL name, otherwise left out. */
export function operationNameOf(name: unknown): string | undefined {
  return typeof name === 'string' && NAME.test(name) ? name : undefined;
}

type ErrorLike = { extensions?: Record<string, unknown> | undefined; originalError?: unknown };

/** `ok`, or the distinct error codes (`BAD_USER_INPUT`, `NOT_FOUND,FORBIDDEN`, …) in order. */
export function outcomeCodes(errors: readonly ErrorLike[] | undefined): string {
  if (!errors?.length) return 'ok';
  const codes = new Set<string>();
  for (const e of errors) {
    const code = e.extensions?.['code'];
    codes.add(typeof code === 'string' && /^[A-Z][A-Z0-9_]{0,47}$/.test(code) ? code : e.originalError !== undefined ? classify(e.originalError).code : 'INTERNAL_SERVER_ERROR');
  }
  return [...codes].join(',');
}

export interface AccessFields {
  request: string;
  operation?: string | undefined;
  /** query, mutation, subscription, or unknown (not parsed) */
  type: string;
  durationMs: number;
  outcome: string;
  status?: number | undefined;
  keyId?: string | undefined;
}

const round = (ms: number) => Math.round(ms * 10) / 10;

/** Milliseconds since `started` (performance.now()), to 0.1 ms. */
export function since(started: number): number {
  return round(performance.now() - started);
}

/** One access line. */
export function logAccess(log: Logger, f: AccessFields): void {
  log.info(
    {
      request: f.request,
      operation: f.operation ?? null,
      type: f.type,
      durationMs: f.durationMs,
      outcome: f.outcome,
      ...(f.status !== undefined ? { status: f.status } : {}),
      ...(f.keyId !== undefined ? { keyId: f.keyId } : {}),
    },
    ACCESS_MESSAGE,
  );
}

/** What the HTTP handler learns of a request Apollo answered: whether the plugin logged it already. */
export interface AccessRecord {
  logged: boolean;
}

/**
 * Apollo's side: the access line of each operation it runs, once its response is ready. Put it after the plugins
 * that set the response's HTTP status (statusFromErrors).
 */
export function accessLogPlugin(log: Logger): ApolloServerPlugin<GatewayContext> {
  return {
    async requestDidStart({ request, contextValue }) {
      const started = performance.now();
      return {
        async willSendResponse({ response, operation, operationName }) {
          const body = response.body;
          const errors = body.kind === 'single' ? body.singleResult.errors : body.initialResult.errors;
          if (contextValue.access) contextValue.access.logged = true;
          logAccess(log, {
            request: contextValue.requestId,
            operation: operationNameOf(operationName ?? request.operationName),
            type: operation?.operation ?? 'unknown',
            durationMs: since(started),
            outcome: outcomeCodes(errors),
            status: response.http.status ?? 200,
            keyId: contextValue.principal?.id,
          });
        },
      };
    },
  };
}

/** A subscription's state, from its start to its end line. */
export interface SubscriptionRecord {
  request: string;
  /** graphql-ws's id of the subscription on its socket (chosen by the client: only a safe one is kept) */
  subscription?: string | undefined;
  operation?: string | undefined;
  /** subscription (a query or mutation may go over graphql-ws too), or unknown until parsed */
  type: string;
  keyId?: string | undefined;
  started: number;
  /** errors in the subscribe call's result (a NOT_FOUND job), for the end line */
  outcome?: string;
}

export function logSubscription(log: Logger, s: SubscriptionRecord, event: 'started' | 'ended', outcome = s.outcome ?? 'ok'): void {
  const fields = {
    request: s.request,
    ...(s.subscription !== undefined ? { subscription: s.subscription } : {}),
    operation: s.operation ?? null,
    type: s.type,
    ...(s.keyId !== undefined ? { keyId: s.keyId } : {}),
  };
  if (event === 'started') log.info(fields, SUBSCRIPTION_STARTED);
  else log.info({ ...fields, durationMs: since(s.started), outcome }, SUBSCRIPTION_ENDED);
}
