/**
 * The HTTP server: Apollo for queries and mutations (POST/GET /graphql) and graphql-ws for subscriptions,
 * on one port. A plain node:http handler feeds Apollo (no framework): the gateway needs JSON bodies and CORS,
 * nothing more.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApolloServer, HeaderMap, type ApolloServerPlugin } from '@apollo/server';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import { ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { staticSite } from './static-site.js';
import type { KeyStore } from '@diffusevae/auth';
import { PlatformError } from '@diffusevae/contracts';
import { getOperationAST, getVariableValues, GraphQLError, parse, specifiedRules, validate, type DocumentNode } from 'graphql';
import { makeExecutableSchema } from '@graphql-tools/schema';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';
import type { ModelManifest, Precision } from '@diffusevae/models';
import type { Stages } from '@diffusevae/pipeline';
import { Metrics, gatewayMetrics, jobLogger, requestLogger, sendLiveness, sendMetrics, sendReadiness } from '@diffusevae/service-kit';
import {
  REQUEST_ID_HEADER,
  accessLogPlugin,
  isRequestId,
  logAccess,
  logSubscription,
  operationNameOf,
  outcomeCodes,
  requestIdOf,
  since,
  type AccessRecord,
  type SubscriptionRecord,
} from './access-log.js';
import { MemoryActiveJobs, type ActiveJobs } from './active-jobs.js';
import { connectionKey, Guard, httpStatusOf, presentedKey, type Principal } from './auth.js';
import { DEFAULT_SURFACE, type SurfaceConfig } from './config.js';
import { createFormatError, failureExtensions, toGraphQLError } from './errors.js';
import { InMemoryJobStore, type Job, type JobStore } from './jobs.js';
import { localJobBus, type JobBus } from './kv-store.js';
import { gatewayLogger, type Logger } from './log.js';
import { countingBus, observeFinished, operationMetricsPlugin } from './metrics.js';
import { ModelSets, type SetSource } from './model-sets.js';
import { createResolvers, type HealthProbe } from './resolvers.js';
import { DEFAULT_LIMITS, JobRunner, type RunnerLimits } from './runner.js';
import { typeDefs } from './schema.js';
import { corsHeaders, originAllowed, parseOptions, validationRules, withoutSuggestions } from './surface.js';
import type { JobRequest } from './validate.js';
import { MemoryWorkQueue, type WorkQueue } from './work-queue.js';

export const GRAPHQL_PATH = '/graphql';

/** What each operation's resolvers see. */
export interface GatewayContext {
  principal: Principal;
  /** image-steps of the jobs this operation submitted so far (MAX_IMAGE_STEPS is per request) */
  imageSteps: number;
  /** the request id (`x-request-id`, access-log.ts): the lines of the jobs it submits carry it */
  requestId: string;
  /** over HTTP: whether the access line is out (accessLogPlugin) */
  access?: AccessRecord;
}

export interface GatewayOptions {
  /**
   * the served model sets, the default first (MODEL_DIR's order): each set's manifest.json (job manifests quote its
   * name and checksums) and the stages that run its jobs. Or one set alone: `stages` and `manifest`
   */
  sets?: readonly SetSource[];
  /** one set alone (instead of `sets`): its stages */
  stages?: Stages;
  /** one set alone (instead of `sets`): its manifest.json */
  manifest?: ModelManifest;
  /** the refiner file the replicas run (REFINER_PRECISION): its sha256 goes into job manifests; default fp32 */
  refinerPrecision?: Precision;
  /** 0 picks a free port */
  port?: number;
  host?: string;
  jobs?: JobStore;
  /** queue, per-request and progress limits (DEFAULT_LIMITS where not given) */
  limits?: Partial<RunnerLimits>;
  /** where submitted jobs wait for a runner (a JetStream stream shared by every replica); default: in this process */
  queue?: WorkQueue;
  /** with a shared job store: cancel and finish notices to and from the other replicas; default: in this process */
  bus?: JobBus;
  health?: HealthProbe;
  /** JSON lines (log.ts); default: the gateway's logger on stdout (LOG_LEVEL) */
  log?: Logger;
  /** true only in development: stack traces in error responses */
  includeStacktrace?: boolean;
  /**
   * API keys (every request needs one), and where each key's running jobs are counted (default: in this process);
   * 'none' (the default here; the gateway process defaults to keys, see AUTH): anyone may do anything
   */
  auth?: { keys: KeyStore; active?: ActiveJobs } | 'none';
  /** limits and switches of the GraphQL surface (DEFAULT_SURFACE where not given) */
  surface?: Partial<SurfaceConfig>;
  /** why this replica should not take traffic now (e.g. NATS is disconnected), or undefined: GET /readyz */
  unready?: () => string | undefined;
  /**
   * the process's registry, served at GET /metrics (default: a registry of this gateway alone, without the Node.js
   * defaults); the gateway adds its jobs, queue and GraphQL metrics to it
   */
  metrics?: Metrics;
  /** METRICS_TOKEN: when set, GET /metrics needs `Authorization: Bearer <token>`; otherwise it needs nothing */
  metricsToken?: string;
}

export interface Gateway {
  /** http://host:port/graphql */
  url: string;
  /** http://host:port/metrics */
  metricsUrl: string;
  port: number;
  httpServer: http.Server;
  /**
   * Hands the running jobs over to the other replicas (checkpointed, back in the queue), stops taking requests,
   * lets in-flight ones finish (Apollo's drain), closes WebSockets.
   */
  stop(): Promise<void>;
}

class BodyError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

async function readJson(req: http.IncomingMessage, maxBytes: number): Promise<unknown> {
  const declared = Number(req.headers['content-length']);
  if (declared > maxBytes) throw new BodyError(413, `request body of ${declared} bytes is larger than ${maxBytes} (MAX_BODY_BYTES)`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > maxBytes) throw new BodyError(413, `request body larger than ${maxBytes} bytes (MAX_BODY_BYTES)`);
    chunks.push(chunk as Buffer);
  }
  if (size === 0) return undefined;
  const text = Buffer.concat(chunks).toString('utf8');
  if (!/json/i.test(req.headers['content-type'] ?? '')) return text;
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new BodyError(400, `request body is not valid JSON: ${(e as Error).message}`);
  }
}

function sendError(res: http.ServerResponse, status: number, message: string, extensions: Record<string, unknown>, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
  res.end(JSON.stringify({ errors: [{ message, extensions }] }));
}

/** `Authorization: Bearer <token>` against METRICS_TOKEN, in constant time. */
function tokenMatches(authorization: string | undefined, token: string): boolean {
  const presented = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '')?.[1] ?? '';
  const digest = (s: string) => createHash('sha256').update(s).digest();
  return timingSafeEqual(digest(presented), digest(token));
}

/** A failure before Apollo (no key, a limit): its HTTP status, Retry-After and a GraphQL error body. */
function sendFailure(res: http.ServerResponse, e: PlatformError): void {
  const status = httpStatusOf(e.code) ?? 400;
  const headers: Record<string, string> = {};
  if (e.retryAfterMs !== undefined) headers['retry-after'] = String(Math.max(1, Math.ceil(e.retryAfterMs / 1000)));
  if (status === 401) headers['www-authenticate'] = 'Bearer realm="diffusevae"';
  sendError(res, status, e.message, failureExtensions(e), headers);
}

/**
 * An operation that did nothing but fail for want of a key, a scope or room (every root field null) gets the
 * HTTP status that says so (401, 403, 429 with Retry-After), as well as the GraphQL error.
 */
const statusFromErrors: ApolloServerPlugin = {
  async requestDidStart() {
    return {
      async willSendResponse({ response }) {
        if (response.body.kind !== 'single') return;
        const { data, errors } = response.body.singleResult;
        if (!errors?.length || (data && Object.values(data).some((v) => v !== null))) return;
        const first = errors.find((e) => httpStatusOf(e.extensions?.['code']) !== undefined);
        if (!first) return;
        response.http.status = httpStatusOf(first.extensions!['code'])!;
        const retry = first.extensions!['retryAfterMs'];
        if (typeof retry === 'number') response.http.headers.set('retry-after', String(Math.max(1, Math.ceil(retry / 1000))));
      },
    };
  },
};

/** Subscriptions go over graphql-ws; over HTTP, Apollo would run jobProgress's resolver without an event. */
const noSubscriptionsOverHttp: ApolloServerPlugin = {
  async requestDidStart() {
    return {
      async didResolveOperation({ operation }) {
        if (operation?.operation !== 'subscription') return;
        throw new GraphQLError(`subscriptions go over graphql-ws (a WebSocket on ${GRAPHQL_PATH}), not HTTP`, { extensions: { code: 'BAD_REQUEST', http: { status: 400 } } });
      },
    };
  },
};

/** The error codes of a response body Apollo made without running an operation (`ok` when it has none). */
function outcomeOfBody(body: { kind: 'complete'; string: string } | { kind: 'chunked' }): string {
  if (body.kind !== 'complete') return 'ok';
  try {
    const parsed = JSON.parse(body.string) as { errors?: { extensions?: Record<string, unknown> }[] };
    return outcomeCodes(Array.isArray(parsed.errors) ? parsed.errors : undefined);
  } catch {
    return 'ok'; // not JSON (a page)
  }
}

/** A graphql-js error (syntax, validation, variables) with the code Apollo gives it over HTTP. */
function withCode(e: unknown, code: string): GraphQLError {
  if (!(e instanceof GraphQLError)) return toGraphQLError(e);
  return new GraphQLError(e.message, { nodes: e.nodes, source: e.source, positions: e.positions, path: e.path, extensions: { ...e.extensions, code } });
}

/** The sets of GatewayOptions: `sets`, or `stages` and `manifest` for one set alone. */
function setSources(opts: GatewayOptions): readonly SetSource[] {
  const single = opts.stages !== undefined || opts.manifest !== undefined;
  if (opts.sets && single) throw new Error('createGateway: give sets, or stages and manifest (one set alone), not both');
  if (opts.sets) return opts.sets;
  if (!opts.stages || !opts.manifest) throw new Error('createGateway: give sets, or both stages and manifest (one set alone)');
  return [{ manifest: opts.manifest, stages: opts.stages }];
}

export async function createGateway(opts: GatewayOptions): Promise<Gateway> {
  const log = opts.log ?? gatewayLogger();
  const sets = ModelSets.of(setSources(opts), opts.refinerPrecision);
  const jobs = opts.jobs ?? new InMemoryJobStore();
  const limits = { ...DEFAULT_LIMITS, ...opts.limits };
  const bus = opts.bus ?? localJobBus();
  const queue: WorkQueue = opts.queue ?? new MemoryWorkQueue(limits.maxQueuedJobs + limits.maxActiveJobs, (): number => runner.retryAfterMs());
  const surface: SurfaceConfig = { ...DEFAULT_SURFACE, ...opts.surface };
  const auth = opts.auth ?? 'none';
  const guard = auth === 'none' ? new Guard(undefined, undefined) : new Guard(auth.keys, auth.active ?? new MemoryActiveJobs(jobs));
  const metrics = opts.metrics ?? new Metrics({ defaults: false });
  const m = gatewayMetrics(metrics, { running: () => runner.active, ...(queue.depth ? { queueDepth: () => queue.depth!() } : {}) });
  const onFinal = (job: Job, request?: JobRequest) => {
    observeFinished(m, job, request);
    void guard.release(job.owner, job.id).catch((e: unknown) => jobLogger(log, job.id).warn({ err: e }, 'releasing a job from its key failed'));
  };
  const runner: JobRunner = new JobRunner(sets, jobs, queue, bus, log, limits, onFinal).start();
  const health = opts.health ?? (async () => ({ mode: 'in-process', services: [] }));
  // a job the resolvers end themselves (cancelled while queued) is counted when they announce it
  const resolverBus = countingBus(bus, jobs, (job) => observeFinished(m, job));
  const schema = makeExecutableSchema({ typeDefs, resolvers: createResolvers({ runner, jobs, sets, health, bus: resolverBus, guard, maxImageSteps: limits.maxImageSteps, log }) });
  const rules = [...specifiedRules, ...validationRules(surface)];

  let stopping: Promise<void> | undefined;
  const httpServer = http.createServer();
  const wsServer = new WebSocketServer({
    server: httpServer,
    path: GRAPHQL_PATH,
    maxPayload: surface.maxBodyBytes,
    // a page from another origin opens no socket here (browsers always send Origin on a WebSocket)
    verifyClient: ({ origin, req }: { origin: string; req: http.IncomingMessage }) => originAllowed(origin || undefined, req.headers.host, surface.corsOrigins),
  });
  // the upgrade's request id: every subscription on the socket carries it
  wsServer.on('headers', (headers: string[], req: http.IncomingMessage) => headers.push(`${REQUEST_ID_HEADER}: ${requestIdOf(req)}`));
  /** the access lines of the socket's subscriptions: one when a subscription starts, one when it ends */
  const subscriptionEnded = (subs: Map<string, SubscriptionRecord> | undefined, id: string, outcome?: string) => {
    const rec = subs?.get(id);
    if (!rec) return;
    subs!.delete(id);
    logSubscription(log, rec, 'ended', outcome);
  };
  const wsCleanup = useServer<Record<string, unknown>, { principal?: Principal; subs?: Map<string, SubscriptionRecord> }>(
    {
      schema,
      onConnect: async (ctx) => {
        try {
          ctx.extra.principal = await guard.authenticate(connectionKey(ctx.connectionParams));
          return true;
        } catch (e) {
          if (!(e instanceof PlatformError)) throw e;
          // graphql-ws would close with 4403 "Forbidden"; this says what is missing (a reason fits 123 bytes)
          ctx.extra.socket.close(4401, 'Unauthorized: send { authorization: "Bearer <key>" } in the connection payload');
          return false;
        }
      },
      onSubscribe: (ctx, id, payload) => {
        const rec: SubscriptionRecord = {
          request: requestIdOf(ctx.extra.request),
          ...(isRequestId(id) ? { subscription: id } : {}),
          operation: operationNameOf(payload.operationName),
          type: 'unknown',
          keyId: ctx.extra.principal?.id,
          started: performance.now(),
        };
        (ctx.extra.subs ??= new Map()).set(id, rec);
        try {
          guard.admitRequest(ctx.extra.principal!);
        } catch (e) {
          return [toGraphQLError(e, log)];
        }
        // Parsed, validated and its variables checked here rather than by graphql-ws, which closes the whole socket
        // (4500) on a syntax error and passes other errors on without a code: each gets the code it has over HTTP.
        let document: DocumentNode;
        try {
          document = parse(payload.query, parseOptions(surface));
        } catch (e) {
          return [withCode(e, 'GRAPHQL_PARSE_FAILED')];
        }
        const invalid = validate(schema, document, rules);
        if (invalid.length) return invalid.map((e) => withCode(e, 'GRAPHQL_VALIDATION_FAILED'));
        const operation = getOperationAST(document, payload.operationName);
        if (!operation) return [new GraphQLError('Unable to identify the operation (operationName)', { extensions: { code: 'OPERATION_RESOLUTION_FAILURE' } })];
        rec.operation = operationNameOf(operation.name?.value);
        rec.type = operation.operation;
        const variables = getVariableValues(schema, operation.variableDefinitions ?? [], payload.variables ?? {});
        if (variables.errors) return variables.errors.map((e) => withCode(e, 'BAD_USER_INPUT'));
        return { schema, document, operationName: payload.operationName, variableValues: payload.variables };
      },
      context: (ctx): GatewayContext => ({ principal: ctx.extra.principal!, imageSteps: 0, requestId: requestIdOf(ctx.extra.request) }),
      onOperation: (ctx, id, _payload, _args, result) => {
        const rec = ctx.extra.subs?.get(id);
        if (!rec) return;
        // a subscription that is on: its start line; anything else (a refused one, a query) has only its end line
        const r = result as Awaited<typeof result>; // graphql-ws awaited it already
        if (Symbol.asyncIterator in r) logSubscription(log, rec, 'started');
        else rec.outcome = outcomeCodes(r.errors);
      },
      onComplete: (ctx, id) => subscriptionEnded(ctx.extra.subs, id),
      // Errors from a subscription's resolvers get the same codes as over HTTP.
      onError: (ctx, id, _payload, errors) => {
        const formatted = errors.map((e) => toGraphQLError(e.originalError ?? e, log).toJSON());
        subscriptionEnded(ctx.extra.subs, id, outcomeCodes(formatted));
        return formatted;
      },
    },
    wsServer,
  );
  const closeWebSockets: ApolloServerPlugin = {
    async serverWillStart() {
      return {
        async drainServer() {
          await wsCleanup.dispose();
        },
      };
    },
  };

  const formatError = createFormatError(log);
  // Apollo's own messages (warnings at start, a failing landing page) as lines of ours
  const apolloLog = log.child({ component: 'apollo' });
  const apollo = new ApolloServer<GatewayContext>({
    schema,
    // the process drains on SIGTERM itself (drainOnSignal in main.ts): Apollo's own handler (on unless
    // NODE_ENV=test) would stop the server and re-raise SIGTERM, killing the gateway before NATS is drained
    stopOnTerminationSignals: false,
    introspection: surface.introspection,
    includeStacktraceInErrorResponses: opts.includeStacktrace ?? false,
    logger: {
      debug: (m: unknown) => apolloLog.debug(String(m)),
      info: (m: unknown) => apolloLog.info(String(m)),
      warn: (m: unknown) => apolloLog.warn(String(m)),
      error: (m: unknown) => apolloLog.error(String(m)),
    },
    // a simple (form-like) POST or a GET without a JSON content type or a preflight header is refused
    csrfPrevention: true,
    allowBatchedHttpRequests: false,
    validationRules: validationRules(surface),
    parseOptions: parseOptions(surface),
    formatError: surface.introspection ? formatError : (formatted, error) => {
      const f = formatError(formatted, error);
      return { ...f, message: withoutSuggestions(f.message) };
    },
    plugins: [
      ApolloServerPluginDrainHttpServer({ httpServer }),
      closeWebSockets,
      statusFromErrors,
      noSubscriptionsOverHttp,
      operationMetricsPlugin(m),
      // after statusFromErrors: its line has the status that plugin sets
      accessLogPlugin(log),
      // the explorer is our own page (static-site.ts), not Apollo's CDN-loaded one
      ApolloServerPluginLandingPageDisabled(),
    ],
  });
  await apollo.start();

  // the playground at / and the explorer page: static files of services/playground's build, nothing private
  const site = surface.playground || surface.explorer ? staticSite(surface.playgroundDir, { explorer: surface.explorer }) : undefined;
  if (site && !site.built) log.warn({ dir: surface.playgroundDir }, 'the playground is not built (npm run build:web): / says so, the API works');

  httpServer.on('request', (req, res) => {
    const origin = req.headers.origin;
    for (const [k, v] of Object.entries(corsHeaders(origin, req.headers.host, surface.corsOrigins))) res.setHeader(k, v);
    const url = new URL(req.url ?? '/', 'http://localhost');
    // probes (no key: they say nothing but up or not, and why)
    if (url.pathname === '/livez') return sendLiveness(res);
    if (url.pathname === '/readyz') return sendReadiness(res, stopping ? 'shutting down' : opts.unready?.());
    // metrics: no API key either (operators keep this path off the public internet, or set METRICS_TOKEN)
    if (url.pathname === '/metrics') {
      if (opts.metricsToken !== undefined && !tokenMatches(req.headers.authorization, opts.metricsToken)) {
        res.writeHead(401, { 'content-type': 'text/plain; charset=utf-8', 'www-authenticate': 'Bearer realm="diffusevae-metrics"' });
        res.end('metrics need Authorization: Bearer <METRICS_TOKEN>\n');
        return;
      }
      return void sendMetrics(res, metrics);
    }
    // (with PLAYGROUND=0 the explorer's files are still served, not the playground's page)
    const page = surface.playground || (url.pathname !== '/' && url.pathname !== '/index.html');
    if (url.pathname !== GRAPHQL_PATH && site && page && site.serve(req, res, url.pathname)) return;
    if (url.pathname !== GRAPHQL_PATH) return sendError(res, 404, `not found: use ${GRAPHQL_PATH}`, { code: 'NOT_FOUND' });
    if (req.method === 'OPTIONS') {
      res.writeHead(204).end();
      return;
    }
    // every GraphQL request has an id (the client's x-request-id when valid), sent back and on its lines
    const requestId = requestIdOf(req);
    res.setHeader(REQUEST_ID_HEADER, requestId);
    const started = performance.now();
    const operation = operationNameOf(url.searchParams.get('operationName'));
    /** the access line of a request Apollo did not log (refused before it, or by Apollo before any operation) */
    const access = (outcome: string, status: number, keyId?: string) =>
      logAccess(log, { request: requestId, operation, type: 'unknown', durationMs: since(started), outcome, status, keyId });
    if (!originAllowed(origin, req.headers.host, surface.corsOrigins)) {
      access('FORBIDDEN', 403);
      return sendError(res, 403, `origin ${JSON.stringify(origin)} is not allowed (CORS_ORIGINS)`, { code: 'FORBIDDEN' });
    }
    // the explorer page itself (a browser's GET with no query) is static: it needs no key
    const landing = req.method === 'GET' && !url.searchParams.has('query') && /text\/html/.test(req.headers.accept ?? '');
    if (landing && site?.serveExplorer(req, res)) return;
    void (async () => {
      let principal: Principal | undefined;
      try {
        principal = landing ? undefined : await guard.authenticate(presentedKey(req.headers.authorization));
        if (principal) guard.admitRequest(principal);
        const headers = new HeaderMap();
        for (const [k, val] of Object.entries(req.headers)) if (val !== undefined) headers.set(k, Array.isArray(val) ? val.join(', ') : val);
        const body = req.method === 'POST' ? await readJson(req, surface.maxBodyBytes) : undefined;
        const record: AccessRecord = { logged: false };
        const response = await apollo.executeHTTPGraphQLRequest({
          httpGraphQLRequest: { method: (req.method ?? 'GET').toUpperCase(), headers, search: url.search, body },
          context: async () => ({ principal: principal!, imageSteps: 0, requestId, access: record }),
        });
        for (const [k, val] of response.headers) res.setHeader(k, val);
        res.statusCode = response.status ?? 200;
        // refused by Apollo before any operation ran (CSRF, a malformed request): no plugin saw it
        if (!record.logged && !landing) access(outcomeOfBody(response.body), res.statusCode, principal?.id);
        if (response.body.kind === 'complete') {
          res.end(response.body.string);
          return;
        }
        for await (const chunk of response.body.asyncIterator) res.write(chunk);
        res.end();
      } catch (e) {
        if (e instanceof PlatformError) {
          access(e.code, httpStatusOf(e.code) ?? 400, principal?.id);
          return sendFailure(res, e);
        }
        // a body refused part-way (413) is left unread: close the connection, or the next request on it hangs
        if (e instanceof BodyError) {
          access('BAD_REQUEST', e.status, principal?.id);
          return sendError(res, e.status, e.message, { code: 'BAD_REQUEST' }, e.status === 413 ? { connection: 'close' } : {});
        }
        requestLogger(log, requestId).error({ err: e }, 'http handler failed');
        access('INTERNAL_SERVER_ERROR', res.headersSent ? res.statusCode : 500, principal?.id);
        if (!res.headersSent) sendError(res, 500, 'Internal server error', { code: 'INTERNAL_SERVER_ERROR' });
        else res.end();
      }
    })();
  });

  await new Promise<void>((resolve, reject) => {
    httpServer.once('error', reject);
    httpServer.listen(opts.port ?? 4000, opts.host, () => resolve());
  });
  const port = (httpServer.address() as AddressInfo).port;
  const host = opts.host && opts.host !== '0.0.0.0' && opts.host !== '::' ? opts.host : 'localhost';

  return {
    url: `http://${host}:${port}${GRAPHQL_PATH}`,
    metricsUrl: `http://${host}:${port}/metrics`,
    port,
    httpServer,
    stop: () =>
      (stopping ??= (async () => {
        // Jobs first: they go back to the queue, checkpointed, and the other replicas resume them. Then Apollo
        // drains: the HTTP server stops accepting, in-flight requests finish within its grace period (one that
        // waits for a job hears when the job finishes elsewhere), then WebSockets close.
        await runner.stop();
        await apollo.stop();
        runner.close();
      })()),
  };
}
