import path from 'node:path';
import { JETSTREAM, inboxPrefixOf } from '@diffusevae/contracts';
import type { ConnectionOptions } from '@nats-io/transport-node';
import { DEFAULT_MODEL_DIR, PRECISIONS, type ExecutionProvider, type Precision, type SessionOptions } from '@diffusevae/models';

/** Every service's settings, read once from the environment at start-up (see loadConfig for the variables). */
export interface ServiceConfig {
  /** NATS_URL: one server or a comma-separated list */
  natsUrl: string;
  /** NATS_USER and NATS_PASSWORD (both or neither): this process's NATS identity; its replies use `_INBOX_<user>` */
  natsAuth?: NatsAuth;
  /**
   * JETSTREAM_REPLICAS (1 to 5, default JETSTREAM.replicas = 1): the replicas of every stream and KV bucket this
   * process creates (the job stream, job states, API keys, checkpoints). More than 1 needs a nats-server cluster
   * with at least that many JetStream servers; an existing one with fewer is raised to it, never lowered
   */
  jetstreamReplicas: number;
  /** MODEL_DIR: a folder written by `diffusevae export` (the first, when it lists several) */
  modelDir: string;
  /**
   * MODEL_DIR as a comma-separated list: the model sets this process serves side by side (each on its own subjects,
   * setSubject); the first is `modelDir`, the gateway's default set
   */
  modelDirs: string[];
  /**
   * REFINER_PRECISION (fp32 or int8, default fp32): the refiner file a refiner replica runs (int8: the set's
   * files.refinerInt8). The gateway reads it too, to quote that file's sha256 in job manifests: give every refiner
   * replica and gateway of a deployment the same value
   */
  refinerPrecision: Precision;
  /** ORT_EXECUTION_PROVIDER */
  executionProvider: ExecutionProvider;
  /** ORT_THREADS: onnxruntime intra-op threads, 0 = every core */
  intraOpThreads: number;
  /** ORT_SPINNING: 1 lets idle onnxruntime threads spin (its default), 0 makes them sleep (ours: see SessionOptions) */
  allowSpinning: boolean;
  /** REQUEST_TIMEOUT_MS: one network call (encode, decode) */
  requestTimeoutMs: number;
  /**
   * EPS_TIMEOUT_MS: one refiner call of the scheduler. A step takes tens of ms, so a call this late went to a
   * replica that died with it: the call is tried again (EPS_ATTEMPTS) rather than waited for
   */
  epsTimeoutMs: number;
  /** REFINE_TIMEOUT_MS: a whole reverse process (up to 1000 refiner calls) */
  refineTimeoutMs: number;
  /** METRICS_PORT (0: a free port), METRICS_HOST (default: every interface): this replica's /metrics, /livez, /readyz */
  metrics: { port: number; host?: string };
  refiner: {
    /** MAX_BATCH: most items merged into one onnxruntime call */
    maxBatch: number;
    /** MAX_WAIT_MS: how long the first request of a batch waits for company */
    maxWaitMs: number;
    /**
     * REFINER_INSTANCES: onnxruntime sessions of the refiner in one replica, each in a worker thread, a batch split
     * across them (libs/models instances.ts); ORT_THREADS is then per instance (0: the cores shared among them)
     */
    instances: number;
  };
  scheduler: {
    /** SCHEDULER_MAX_ACTIVE: most samples advanced together (one refiner call per tick, split by MAX_BATCH) */
    maxActiveSamples: number;
    /** SCHEDULER_MAX_QUEUE: most jobs waiting to join; past that a request is answered RESOURCE_EXHAUSTED */
    maxQueuedJobs: number;
    /** EPS_ATTEMPTS: tries of a refiner call that failed transiently (no responder, EPS_TIMEOUT_MS passed) */
    epsAttempts: number;
    /** CHECKPOINT_INTERVAL_MS: least time between two saved checkpoints of a refine request (0: none) */
    checkpointIntervalMs: number;
    /**
     * CHECKPOINT_TTL_MS: how long a checkpoint is kept after its last write. A running request rewrites its own
     * every CHECKPOINT_INTERVAL_MS; this only needs to outlast a redelivery and its retries
     */
    checkpointTtlMs: number;
  };
}

export interface NatsAuth {
  user: string;
  pass: string;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`${variable}: ${message}`);
  }
}

export type Env = Record<string, string | undefined>;

/** An integer variable in [min, max]; unset or empty gives the fallback. The one parser every config uses. */
export function envInt(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name]?.trim();
  if (raw === undefined || raw === '') return fallback;
  const v = Number(raw);
  if (!/^-?\d+$/.test(raw) || v < min || v > max) throw new ConfigError(name, `must be an integer in [${min}, ${max}], got ${JSON.stringify(raw)}`);
  return v;
}

/** One of a fixed set of words; unset or empty gives the fallback. */
export function envOneOf<T extends string>(env: Env, name: string, allowed: readonly T[], fallback: T): T {
  const raw = env[name]?.trim();
  if (raw === undefined || raw === '') return fallback;
  if (!allowed.includes(raw as T)) throw new ConfigError(name, `must be one of ${allowed.join(', ')}, got ${JSON.stringify(raw)}`);
  return raw as T;
}

function natsUrl(env: Env): string {
  const raw = env.NATS_URL?.trim() || 'nats://127.0.0.1:4222';
  for (const server of raw.split(',')) {
    let url: URL | undefined;
    try {
      url = new URL(server.includes('://') ? server.trim() : `nats://${server.trim()}`);
    } catch {
      // reported below
    }
    if (!url || !['nats:', 'tls:', 'ws:', 'wss:'].includes(url.protocol) || !url.hostname) {
      throw new ConfigError('NATS_URL', `must be nats://host:port (or a comma-separated list), got ${JSON.stringify(raw)}`);
    }
  }
  return raw;
}

/**
 * NATS_USER and NATS_PASSWORD: both or neither (a server without authorization). The user names the inbox prefix
 * `_INBOX_<user>`, so it is one subject token; the password is taken as it is (not trimmed).
 */
function natsAuth(env: Env): NatsAuth | undefined {
  const user = env.NATS_USER?.trim() ?? '';
  const pass = env.NATS_PASSWORD ?? '';
  if (!user && !pass) return undefined;
  if (!user) throw new ConfigError('NATS_USER', 'must be set when NATS_PASSWORD is (both or neither)');
  if (!pass) throw new ConfigError('NATS_PASSWORD', 'must be set when NATS_USER is (both or neither)');
  if (!/^[A-Za-z0-9_-]+$/.test(user)) throw new ConfigError('NATS_USER', `must be letters, digits, _ and - (it names the inbox prefix _INBOX_<user>), got ${JSON.stringify(user)}`);
  return { user, pass };
}

/** METRICS_PORT (default 0: a free port, so replicas on one machine never collide) and METRICS_HOST (default: every interface). */
function metricsListen(env: Env): ServiceConfig['metrics'] {
  const port = envInt(env, 'METRICS_PORT', 0, 0, 65535);
  const host = env.METRICS_HOST?.trim();
  if (host && !/^[A-Za-z0-9.:_-]+$/.test(host)) throw new ConfigError('METRICS_HOST', `must be a host name or an IP address (no brackets, no port), got ${JSON.stringify(host)}`);
  return { port, ...(host ? { host } : {}) };
}

/** Reads and validates the environment; a bad value throws a ConfigError naming the variable and what it allows. */
export function loadConfig(env: Env = process.env): ServiceConfig {
  const auth = natsAuth(env);
  const modelDirs = modelDirList(env);
  return {
    natsUrl: natsUrl(env),
    ...(auth ? { natsAuth: auth } : {}),
    jetstreamReplicas: envInt(env, 'JETSTREAM_REPLICAS', JETSTREAM.replicas, 1, 5),
    modelDir: modelDirs[0]!,
    modelDirs,
    refinerPrecision: envOneOf(env, 'REFINER_PRECISION', PRECISIONS, 'fp32'),
    executionProvider: envOneOf(env, 'ORT_EXECUTION_PROVIDER', ['cpu', 'cuda'] as const, 'cpu'),
    intraOpThreads: envInt(env, 'ORT_THREADS', 0, 0, 256),
    allowSpinning: envInt(env, 'ORT_SPINNING', 0, 0, 1) === 1,
    requestTimeoutMs: envInt(env, 'REQUEST_TIMEOUT_MS', 30_000, 1, 3_600_000),
    epsTimeoutMs: envInt(env, 'EPS_TIMEOUT_MS', 5000, 1, 3_600_000),
    refineTimeoutMs: envInt(env, 'REFINE_TIMEOUT_MS', 600_000, 1, 86_400_000),
    metrics: metricsListen(env),
    refiner: {
      maxBatch: envInt(env, 'MAX_BATCH', 64, 1, 4096),
      // 0: no timer. The scheduler already merges every job into one call per tick, so waiting for company
      // mostly adds latency; requests that arrive together (a tick's chunks) still merge (see Batcher).
      maxWaitMs: envInt(env, 'MAX_WAIT_MS', 0, 0, 10_000),
      instances: envInt(env, 'REFINER_INSTANCES', DEFAULT_REFINER_INSTANCES, 1, 64),
    },
    scheduler: {
      maxActiveSamples: envInt(env, 'SCHEDULER_MAX_ACTIVE', 256, 1, 65_536),
      maxQueuedJobs: envInt(env, 'SCHEDULER_MAX_QUEUE', 1024, 0, 1_000_000),
      epsAttempts: envInt(env, 'EPS_ATTEMPTS', 4, 1, 100),
      checkpointIntervalMs: envInt(env, 'CHECKPOINT_INTERVAL_MS', 1000, 0, 3_600_000),
      checkpointTtlMs: envInt(env, 'CHECKPOINT_TTL_MS', 600_000, 1000, 30 * 86_400_000),
    },
  };
}

/**
 * How every process connects: the servers of NATS_URL, its name (the server's logs and monitoring show it),
 * reconnecting for ever, and with NATS_USER / NATS_PASSWORD its identity and that identity's inbox prefix
 * `_INBOX_<user>` (requests, JetStream and KV consumers all take their reply subjects from it; the server lets
 * only that user subscribe there).
 */
export function natsConnectOptions(config: Pick<ServiceConfig, 'natsUrl' | 'natsAuth'>, name: string): ConnectionOptions {
  return {
    servers: config.natsUrl.split(',').map((s) => s.trim()),
    name,
    maxReconnectAttempts: -1,
    ...(config.natsAuth ? { user: config.natsAuth.user, pass: config.natsAuth.pass, inboxPrefix: inboxPrefixOf(config.natsAuth.user) } : {}),
  };
}

/** MODEL_DIR: one folder or a comma-separated list of them, each once; default the repository's models/fmnist. */
function modelDirList(env: Env): string[] {
  const raw = env.MODEL_DIR?.trim();
  if (!raw) return [DEFAULT_MODEL_DIR];
  const dirs = raw.split(',').map((d) => d.trim());
  if (dirs.some((d) => d === '')) throw new ConfigError('MODEL_DIR', `an empty entry in ${JSON.stringify(raw)} (a folder, or folders separated by commas)`);
  const resolved = dirs.map((d) => path.resolve(d));
  const twice = resolved.find((d, i) => resolved.indexOf(d) !== i);
  if (twice) throw new ConfigError('MODEL_DIR', `${twice} is listed twice`);
  return resolved;
}

/** REFINER_INSTANCES when unset: one session (docs/efficiency.md measures two). */
export const DEFAULT_REFINER_INSTANCES = 1;

/** onnxruntime options from the config. CUDA keeps the CPU provider behind it for the few ops it lacks. */
export function sessionOptions(config: ServiceConfig): SessionOptions {
  return {
    executionProviders: config.executionProvider === 'cuda' ? ['cuda', 'cpu'] : ['cpu'],
    intraOpThreads: config.intraOpThreads,
    allowSpinning: config.allowSpinning,
  };
}
