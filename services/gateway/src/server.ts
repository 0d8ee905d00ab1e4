/**
 * The HTTP server: Apollo for queries and mutations (POST/GET /graphql) and graphql-ws for subscriptions,
 * on one port. A plain node:http handler feeds Apollo (no framework): the gateway needs JSON bodies and CORS,
 * nothing more.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApolloServer, HeaderMap, type ApolloServerPlugin } from '@apollo/server';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import { makeExecutableSchema } from '@graphql-tools/schema';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';
import type { ModelManifest } from '@diffusevae/models';
import type { Stages } from '@diffusevae/pipeline';
import { createFormatError, toGraphQLError } from './errors.js';
import { InMemoryJobStore, type JobStore } from './jobs.js';
import { localJobBus, type JobBus } from './kv-store.js';
import { consoleLogger, type Logger } from './log.js';
import { servedModel } from './model.js';
import { createResolvers, type HealthProbe } from './resolvers.js';
import { DEFAULT_LIMITS, JobRunner, type RunnerLimits } from './runner.js';
import { typeDefs } from './schema.js';
import { MemoryWorkQueue, type WorkQueue } from './work-queue.js';

export const GRAPHQL_PATH = '/graphql';
/** base64 images of at most 1 MiB each, a few per request */
const MAX_BODY_BYTES = 8 * 1024 * 1024;

export interface GatewayOptions {
  stages: Stages;
  /** the served model's manifest.json (job manifests quote its name and checksums) */
  manifest: ModelManifest;
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
  log?: Logger;
  /** true only in development: stack traces in error responses */
  includeStacktrace?: boolean;
}

export interface Gateway {
  /** http://host:port/graphql */
  url: string;
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

async function readJson(req: http.IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new BodyError(413, `request body larger than ${MAX_BODY_BYTES} bytes`);
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

function sendError(res: http.ServerResponse, status: number, message: string, code: string): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ errors: [{ message, extensions: { code } }] }));
}

function corsHeaders(res: http.ServerResponse): void {
  res.setHeader('access-control-allow-origin', '*');
  res.setHeader('access-control-allow-methods', 'GET, POST, OPTIONS');
  res.setHeader('access-control-allow-headers', 'content-type, apollo-require-preflight, x-apollo-operation-name');
}

export async function createGateway(opts: GatewayOptions): Promise<Gateway> {
  const log = opts.log ?? consoleLogger();
  const model = servedModel(opts.manifest);
  const jobs = opts.jobs ?? new InMemoryJobStore();
  const limits = { ...DEFAULT_LIMITS, ...opts.limits };
  const bus = opts.bus ?? localJobBus();
  const queue: WorkQueue = opts.queue ?? new MemoryWorkQueue(limits.maxQueuedJobs + limits.maxActiveJobs, (): number => runner.retryAfterMs());
  const runner: JobRunner = new JobRunner(opts.stages, model, jobs, queue, bus, log, limits).start();
  const health = opts.health ?? (async () => ({ mode: 'in-process', services: [] }));
  const schema = makeExecutableSchema({ typeDefs, resolvers: createResolvers({ runner, jobs, model, health, bus }) });

  const httpServer = http.createServer();
  const wsServer = new WebSocketServer({ server: httpServer, path: GRAPHQL_PATH });
  const wsCleanup = useServer(
    {
      schema,
      // Errors from a subscription's resolvers get the same codes as over HTTP.
      onError: (_ctx, _id, _payload, errors) => errors.map((e) => toGraphQLError(e.originalError ?? e, log).toJSON()),
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

  const apollo = new ApolloServer({
    schema,
    introspection: true,
    includeStacktraceInErrorResponses: opts.includeStacktrace ?? false,
    formatError: createFormatError(log),
    plugins: [ApolloServerPluginDrainHttpServer({ httpServer }), closeWebSockets],
  });
  await apollo.start();

  httpServer.on('request', (req, res) => {
    corsHeaders(res);
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname !== GRAPHQL_PATH) return sendError(res, 404, `not found: use ${GRAPHQL_PATH}`, 'NOT_FOUND');
    if (req.method === 'OPTIONS') {
      res.writeHead(204).end();
      return;
    }
    void (async () => {
      try {
        const headers = new HeaderMap();
        for (const [k, val] of Object.entries(req.headers)) if (val !== undefined) headers.set(k, Array.isArray(val) ? val.join(', ') : val);
        const body = req.method === 'POST' ? await readJson(req) : undefined;
        const response = await apollo.executeHTTPGraphQLRequest({
          httpGraphQLRequest: { method: (req.method ?? 'GET').toUpperCase(), headers, search: url.search, body },
          context: async () => ({}),
        });
        for (const [k, val] of response.headers) res.setHeader(k, val);
        res.statusCode = response.status ?? 200;
        if (response.body.kind === 'complete') {
          res.end(response.body.string);
          return;
        }
        for await (const chunk of response.body.asyncIterator) res.write(chunk);
        res.end();
      } catch (e) {
        if (e instanceof BodyError) return sendError(res, e.status, e.message, 'BAD_REQUEST');
        log.error('http handler failed', { err: e });
        if (!res.headersSent) sendError(res, 500, 'Internal server error', 'INTERNAL_SERVER_ERROR');
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

  let stopping: Promise<void> | undefined;
  return {
    url: `http://${host}:${port}${GRAPHQL_PATH}`,
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
