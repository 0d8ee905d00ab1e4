/**
 * GraphiQL's fetcher: queries and mutations as an HTTP POST to the same origin's /graphql, subscriptions over
 * graphql-ws at ws(s)://<same host>/graphql. Both use the headers of GraphiQL's headers editor: @graphiql/toolkit's
 * fetcher sends them over HTTP only, and its ws client takes fixed connectionParams, so this one builds the
 * connection payload from the editor's headers (the gateway reads `authorization` from it) and opens a new ws
 * client whenever they change.
 */
import type { Fetcher, FetcherOpts, FetcherParams, Observable } from '@graphiql/toolkit';
import { getOperationAST, parse, type DocumentNode } from 'graphql';
import { createClient, type Client, type ExecutionResult } from 'graphql-ws';

export interface ExplorerFetcherOptions {
  /** HTTP endpoint; default: `/graphql` on this origin */
  url?: string;
  /** graphql-ws endpoint; default: ws(s)://<this host>/graphql */
  subscriptionUrl?: string;
  /**
   * Headers for a request that comes without the editor's: GraphiQL fetches the schema as soon as it mounts, before
   * its headers editor exists (and it sends no headers when that editor is empty). The editor's, when it has any,
   * replace these entirely, so a key removed there is not sent.
   */
  fallbackHeaders?: Record<string, string>;
}

type Headers = Record<string, string>;

/** The editor's headers as strings (JSON values that are not strings are sent as their JSON text). */
function stringHeaders(raw: FetcherOpts['headers']): Headers {
  const out: Headers = {};
  for (const [name, value] of Object.entries(raw ?? {})) {
    if (value === undefined || value === null) continue;
    out[name] = typeof value === 'string' ? value : JSON.stringify(value);
  }
  return out;
}

/** graphql-ws connection payload: the headers with lower-case names (`{ authorization: 'Bearer dvae_…' }`). */
export function connectionParamsFor(headers: Headers): Headers {
  const params: Headers = {};
  for (const [name, value] of Object.entries(headers)) params[name.toLowerCase()] = value;
  return params;
}

function isSubscription(params: FetcherParams, documentAST: DocumentNode | undefined): boolean {
  let doc = documentAST;
  if (!doc) {
    try {
      doc = parse(params.query);
    } catch {
      return false; // the server reports the syntax error
    }
  }
  return getOperationAST(doc, params.operationName ?? undefined)?.operation === 'subscription';
}

/** A graphql-ws close or error event as a message GraphiQL can show (without a stack: it prints what it gets). */
function wsError(error: unknown): Error {
  let message: string;
  if (error instanceof Error) message = error.message;
  else if (Array.isArray(error)) message = error.map((e: { message?: string }) => e?.message ?? String(e)).join('; ');
  else {
    const close = error as { code?: number; reason?: string } | null;
    message =
      close && typeof close.code === 'number'
        ? `WebSocket closed (${close.code})${close.reason ? `: ${close.reason}` : ''}`
        : 'WebSocket error: the gateway could not be reached';
  }
  const out = new Error(message);
  delete out.stack;
  return out;
}

export function createExplorerFetcher(options: ExplorerFetcherOptions = {}): Fetcher {
  const url = options.url ?? '/graphql';
  const subscriptionUrl =
    options.subscriptionUrl ?? `${window.location.protocol === 'https:' ? 'wss:' : 'ws:'}//${window.location.host}/graphql`;

  // One lazy client per set of connection params: it connects on the first subscription and closes when the last
  // one ends, so a client left behind by new headers goes away with its last subscription.
  let ws: { key: string; client: Client } | undefined;
  function wsClientFor(params: Headers): Client {
    const key = JSON.stringify(params);
    if (!ws || ws.key !== key) ws = { key, client: createClient({ url: subscriptionUrl, connectionParams: params, retryAttempts: 0 }) };
    return ws.client;
  }

  function subscribe(params: FetcherParams, headers: Headers): Observable<ExecutionResult> {
    const client = wsClientFor(connectionParamsFor(headers));
    return {
      subscribe(nextOrSink?: unknown, error?: unknown, complete?: unknown) {
        const sink =
          typeof nextOrSink === 'object' && nextOrSink !== null
            ? (nextOrSink as { next: (v: ExecutionResult) => void; error: (e: unknown) => void; complete: () => void })
            : {
                next: (nextOrSink as ((v: ExecutionResult) => void) | undefined) ?? (() => {}),
                error: (error as ((e: unknown) => void) | null | undefined) ?? (() => {}),
                complete: (complete as (() => void) | undefined) ?? (() => {}),
              };
        // graphql-ws types a payload as FormattedExecutionResult, @graphiql/toolkit as ExecutionResult: the same JSON.
        const dispose = client.subscribe(
          { query: params.query, variables: params.variables ?? undefined, operationName: params.operationName ?? undefined },
          { next: (value) => sink.next(value as ExecutionResult), error: (e) => sink.error(wsError(e)), complete: () => sink.complete() },
        );
        return { unsubscribe: dispose };
      },
    } as Observable<ExecutionResult>;
  }

  async function post(params: FetcherParams, headers: Headers): Promise<ExecutionResult> {
    const response = await fetch(url, {
      method: 'POST',
      credentials: 'same-origin',
      headers: {
        accept: 'application/graphql-response+json, application/json',
        'content-type': 'application/json',
        ...headers,
      },
      body: JSON.stringify({ query: params.query, variables: params.variables ?? undefined, operationName: params.operationName ?? undefined }),
    });
    const text = await response.text();
    try {
      return JSON.parse(text) as ExecutionResult;
    } catch {
      throw new Error(`HTTP ${response.status} ${response.statusText}: ${text.slice(0, 500)}`);
    }
  }

  return (params, opts) => {
    const headers = opts?.headers ? stringHeaders(opts.headers) : { ...options.fallbackHeaders };
    return isSubscription(params, opts?.documentAST) ? subscribe(params, headers) : post(params, headers);
  };
}
