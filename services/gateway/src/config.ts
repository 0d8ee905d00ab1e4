import { JETSTREAM } from '@diffusevae/contracts';
import { AUTH_MODES, type AuthMode } from '@diffusevae/auth';
import { ConfigError, envInt, envOneOf, loadConfig, type Env, type NatsAuth } from '@diffusevae/service-kit';
import type { Precision } from '@diffusevae/models';
import { DEFAULT_LIMITS, type RunnerLimits } from './runner.js';
import { DEFAULT_PLAYGROUND_DIR } from './static-site.js';

/** The gateway's settings, read once from the environment; a bad value names its variable. */
export interface GatewayConfig {
  /** PORT (default 4000): HTTP and WebSocket, path /graphql */
  port: number;
  /** HOST (default: every interface) */
  host?: string;
  /** NATS_URL (default nats://127.0.0.1:4222) */
  natsUrl: string;
  /** NATS_USER and NATS_PASSWORD (both or neither): the gateway's NATS identity, as every service reads it */
  natsAuth?: NatsAuth;
  /**
   * JETSTREAM_REPLICAS (1 to 5, default 1), as every service reads it: the copies of the job stream and of the jobs'
   * and keys' buckets (more than 1 needs a nats-server cluster of at least that many; docs/cluster.md)
   */
  jetstreamReplicas: number;
  /** REFINER_PRECISION (fp32 or int8), as every service reads it: the refiner file whose sha256 job manifests quote */
  refinerPrecision: Precision;
  /** MODEL_DIR's first folder (default models/fmnist): the default model set */
  modelDir: string;
  /**
   * MODEL_DIR, a folder or a comma-separated list of them, as every service reads it: the model sets served side by
   * side (their manifests: limits, and what job manifests quote); the first is the default of a request naming none
   */
  modelDirs: string[];
  /** REQUEST_TIMEOUT_MS (default 30000): one encode or decode call */
  requestTimeoutMs: number;
  /** REFINE_TIMEOUT_MS (default 600000): one whole reverse process */
  refineTimeoutMs: number;
  /** JOB_STORE (default kv): kv keeps jobs in JetStream KV, shared by every replica; memory keeps them here */
  jobStore: 'kv' | 'memory';
  /** JOB_BUCKET (default diffusevae-jobs): the KV bucket */
  jobBucket: string;
  /** JOB_RETENTION_MS (default 3600000): how long a job (and its result) stays readable after its last update */
  jobRetentionMs: number;
  /** JOB_HISTORY (default 256): with JOB_STORE=memory, jobs kept, the oldest finished ones forgotten first */
  jobHistory: number;
  /**
   * JOB_ACK_WAIT_MS (default 10000; 30000 with JETSTREAM_REPLICAS > 1): with JOB_STORE=kv, a job whose runner
   * stopped signalling (it died) for this long is redelivered to another runner; runners signal three times as
   * often. On a cluster a runner's signals are lost while the consumer elects a new leader (5 to 10 s after a node
   * dies): the wait must outlast that, or a live runner's job goes to a second one (docs/cluster.md)
   */
  jobAckWaitMs: number;
  /** SCHEDULER_LIVENESS_MS (default 5000): a refine call whose scheduler sent nothing for this long is sent again */
  schedulerLivenessMs: number;
  /**
   * MAX_ACTIVE_JOBS, MAX_QUEUED_JOBS, MAX_IMAGE_STEPS (count × steps of one request), JOB_MAX_ATTEMPTS,
   * PROGRESS_INTERVAL_MS, PREVIEW_INTERVAL_MS; defaults in DEFAULT_LIMITS
   */
  limits: RunnerLimits;
  /** NODE_ENV=development: stack traces in error responses */
  development: boolean;
  /**
   * AUTH (default keys): keys asks every request for an API key (`npm run keys`); none opens the API to anyone who
   * reaches it, and is refused unless HOST is a loopback address
   */
  auth: AuthMode;
  /** the GraphQL surface's limits and switches (see SurfaceConfig) */
  surface: SurfaceConfig;
  /** METRICS_TOKEN (default none: GET /metrics is open, like the probes): when set, /metrics needs it as a Bearer token */
  metricsToken?: string;
}

/** What the GraphQL surface lets through. */
export interface SurfaceConfig {
  /** CORS_ORIGINS (default none: same origin only): browser origins allowed to call the API, comma-separated, or * */
  corsOrigins: string[];
  /** INTROSPECTION (default 1, 0 when NODE_ENV=production) */
  introspection: boolean;
  /** EXPLORER (default 1, 0 when NODE_ENV=production): the GraphQL explorer page for a browser at /graphql */
  explorer: boolean;
  /** PLAYGROUND (default 1): the playground page at / (a client of the API like any other; it needs a key to do anything) */
  playground: boolean;
  /** PLAYGROUND_DIR (default services/playground/dist, what `npm run build:web` writes): the pages' build */
  playgroundDir: string;
  /** MAX_BODY_BYTES (default 8 MiB): an HTTP body or WebSocket message */
  maxBodyBytes: number;
  /** MAX_QUERY_DEPTH (default 8): fields nested in one operation (introspection's own depth aside) */
  maxDepth: number;
  /** MAX_ALIASES (default 8): aliases in one operation (each aliased mutation is one more job) */
  maxAliases: number;
  /** MAX_DIRECTIVES (default 16) */
  maxDirectives: number;
  /** MAX_QUERY_COST (default 2000): graphql-armor's cost (objects 2, scalars 1, times depth) */
  maxCost: number;
  /** MAX_TOKENS (default 2000): lexical tokens of one document, counted while parsing */
  maxTokens: number;
}

export const DEFAULT_SURFACE: SurfaceConfig = {
  corsOrigins: [],
  introspection: true,
  explorer: true,
  playground: true,
  playgroundDir: DEFAULT_PLAYGROUND_DIR,
  maxBodyBytes: 8 * 1024 * 1024,
  maxDepth: 8,
  maxAliases: 8,
  maxDirectives: 16,
  maxCost: 2000,
  maxTokens: 2000,
};

/** JOB_ACK_WAIT_MS's default on a single nats-server, and with JETSTREAM_REPLICAS > 1 (a cluster: see GatewayConfig) */
export const ACK_WAIT_MS = 10_000;
export const CLUSTER_ACK_WAIT_MS = 30_000;

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

export function isLoopback(host: string | undefined): boolean {
  return host !== undefined && (LOOPBACK.has(host) || /^127\.\d+\.\d+\.\d+$/.test(host));
}

function flag(env: Env, name: string, fallback: boolean): boolean {
  return envInt(env, name, fallback ? 1 : 0, 0, 1) === 1;
}

function origins(env: Env): string[] {
  const raw = env.CORS_ORIGINS?.trim();
  if (!raw) return [];
  const list = raw.split(',').map((o) => o.trim()).filter(Boolean);
  for (const o of list) {
    if (o === '*') continue;
    let url: URL | undefined;
    try {
      url = new URL(o);
    } catch {
      // reported below
    }
    if (!url || !/^https?:$/.test(url.protocol) || url.origin !== o) {
      throw new ConfigError('CORS_ORIGINS', `must be origins such as https://app.example.com (scheme://host[:port], no path), comma-separated, or *; got ${JSON.stringify(o)}`);
    }
  }
  return list;
}

function bucket(env: Env): string {
  const raw = env.JOB_BUCKET?.trim() || JETSTREAM.jobBucket;
  if (!/^[-_a-zA-Z0-9]+$/.test(raw)) throw new ConfigError('JOB_BUCKET', `must be letters, digits, - and _ (a JetStream bucket name), got ${JSON.stringify(raw)}`);
  return raw;
}

function metricsToken(env: Env): string | undefined {
  const raw = env.METRICS_TOKEN?.trim();
  if (!raw) return undefined;
  if (raw.length < 16 || /\s/.test(raw)) throw new ConfigError('METRICS_TOKEN', `must be at least 16 characters without spaces (e.g. openssl rand -hex 24), got ${raw.length} characters`);
  return raw;
}

export function loadGatewayConfig(env: Env = process.env): GatewayConfig {
  // The variables every service shares (NATS_URL, MODEL_DIR, the timeouts) are read the way they read them.
  const shared = loadConfig(env);
  const host = env.HOST?.trim();
  const production = env.NODE_ENV === 'production';
  const auth = envOneOf(env, 'AUTH', AUTH_MODES, 'keys');
  if (auth === 'none' && !isLoopback(host)) {
    throw new ConfigError('AUTH', `none opens the API to anyone who reaches it: allowed only with HOST=127.0.0.1 (or ::1, localhost), got HOST=${JSON.stringify(host ?? '')} (every interface). Use API keys: npm run keys -- create --name NAME`);
  }
  return {
    port: envInt(env, 'PORT', 4000, 0, 65535),
    ...(host ? { host } : {}),
    natsUrl: shared.natsUrl,
    ...(shared.natsAuth ? { natsAuth: shared.natsAuth } : {}),
    jetstreamReplicas: shared.jetstreamReplicas,
    modelDir: shared.modelDir,
    modelDirs: shared.modelDirs,
    refinerPrecision: shared.refinerPrecision,
    requestTimeoutMs: shared.requestTimeoutMs,
    refineTimeoutMs: shared.refineTimeoutMs,
    jobStore: envOneOf(env, 'JOB_STORE', ['kv', 'memory'], 'kv'),
    jobBucket: bucket(env),
    jobRetentionMs: envInt(env, 'JOB_RETENTION_MS', 3_600_000, 1000, 30 * 86_400_000),
    jobHistory: envInt(env, 'JOB_HISTORY', 256, 1, 100_000),
    jobAckWaitMs: envInt(env, 'JOB_ACK_WAIT_MS', shared.jetstreamReplicas > 1 ? CLUSTER_ACK_WAIT_MS : ACK_WAIT_MS, 1000, 3_600_000),
    schedulerLivenessMs: envInt(env, 'SCHEDULER_LIVENESS_MS', 5000, 200, 3_600_000),
    limits: {
      maxActiveJobs: envInt(env, 'MAX_ACTIVE_JOBS', DEFAULT_LIMITS.maxActiveJobs, 1, 100_000),
      maxQueuedJobs: envInt(env, 'MAX_QUEUED_JOBS', DEFAULT_LIMITS.maxQueuedJobs, 0, 1_000_000),
      maxImageSteps: envInt(env, 'MAX_IMAGE_STEPS', DEFAULT_LIMITS.maxImageSteps, 1, 64_000_000),
      maxAttempts: envInt(env, 'JOB_MAX_ATTEMPTS', DEFAULT_LIMITS.maxAttempts, 1, 1000),
      progressIntervalMs: envInt(env, 'PROGRESS_INTERVAL_MS', DEFAULT_LIMITS.progressIntervalMs, 0, 600_000),
      previewIntervalMs: envInt(env, 'PREVIEW_INTERVAL_MS', DEFAULT_LIMITS.previewIntervalMs, 0, 600_000),
    },
    development: env.NODE_ENV === 'development',
    auth,
    ...(metricsToken(env) ? { metricsToken: metricsToken(env)! } : {}),
    surface: {
      corsOrigins: origins(env),
      introspection: flag(env, 'INTROSPECTION', !production),
      explorer: flag(env, 'EXPLORER', !production),
      playground: flag(env, 'PLAYGROUND', true),
      playgroundDir: env.PLAYGROUND_DIR?.trim() || DEFAULT_PLAYGROUND_DIR,
      maxBodyBytes: envInt(env, 'MAX_BODY_BYTES', DEFAULT_SURFACE.maxBodyBytes, 1024, 256 * 1024 * 1024),
      maxDepth: envInt(env, 'MAX_QUERY_DEPTH', DEFAULT_SURFACE.maxDepth, 1, 1000),
      maxAliases: envInt(env, 'MAX_ALIASES', DEFAULT_SURFACE.maxAliases, 0, 10_000),
      maxDirectives: envInt(env, 'MAX_DIRECTIVES', DEFAULT_SURFACE.maxDirectives, 0, 10_000),
      maxCost: envInt(env, 'MAX_QUERY_COST', DEFAULT_SURFACE.maxCost, 1, 10_000_000),
      maxTokens: envInt(env, 'MAX_TOKENS', DEFAULT_SURFACE.maxTokens, 10, 10_000_000),
    },
  };
}
