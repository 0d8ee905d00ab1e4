import { ConfigError, loadConfig } from '@diffusevae/service-kit';
import type { RunnerLimits } from './runner.js';

/** The gateway's settings, read once from the environment; a bad value names its variable. */
export interface GatewayConfig {
  /** PORT (default 4000): HTTP and WebSocket, path /graphql */
  port: number;
  /** HOST (default: every interface) */
  host?: string;
  /** NATS_URL (default nats://127.0.0.1:4222) */
  natsUrl: string;
  /** MODEL_DIR (default models/fmnist): the manifest the services load, quoted in job manifests */
  modelDir: string;
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
   * MAX_ACTIVE_JOBS (64), MAX_QUEUED_JOBS (256), MAX_IMAGE_STEPS (16384: count × steps of one request),
   * PROGRESS_INTERVAL_MS (100), PREVIEW_INTERVAL_MS (1000)
   */
  limits: RunnerLimits;
  /** NODE_ENV=development: stack traces in error responses */
  development: boolean;
}

type Env = Record<string, string | undefined>;

function int(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name]?.trim();
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
    throw new ConfigError(name, `must be an integer in [${min}, ${max}], got ${JSON.stringify(raw)}`);
  }
  return Number(raw);
}

function oneOf<T extends string>(env: Env, name: string, allowed: readonly T[], fallback: T): T {
  const raw = env[name]?.trim();
  if (raw === undefined || raw === '') return fallback;
  if (!allowed.includes(raw as T)) throw new ConfigError(name, `must be one of ${allowed.join(', ')}, got ${JSON.stringify(raw)}`);
  return raw as T;
}

function bucket(env: Env): string {
  const raw = env.JOB_BUCKET?.trim() || 'diffusevae-jobs';
  if (!/^[-_a-zA-Z0-9]+$/.test(raw)) throw new ConfigError('JOB_BUCKET', `must be letters, digits, - and _ (a JetStream bucket name), got ${JSON.stringify(raw)}`);
  return raw;
}

export function loadGatewayConfig(env: Env = process.env): GatewayConfig {
  // The variables every service shares (NATS_URL, MODEL_DIR, the timeouts) are read the way they read them.
  const shared = loadConfig(env);
  const host = env.HOST?.trim();
  return {
    port: int(env, 'PORT', 4000, 0, 65535),
    ...(host ? { host } : {}),
    natsUrl: shared.natsUrl,
    modelDir: shared.modelDir,
    requestTimeoutMs: shared.requestTimeoutMs,
    refineTimeoutMs: shared.refineTimeoutMs,
    jobStore: oneOf(env, 'JOB_STORE', ['kv', 'memory'], 'kv'),
    jobBucket: bucket(env),
    jobRetentionMs: int(env, 'JOB_RETENTION_MS', 3_600_000, 1000, 30 * 86_400_000),
    jobHistory: int(env, 'JOB_HISTORY', 256, 1, 100_000),
    limits: {
      maxActiveJobs: int(env, 'MAX_ACTIVE_JOBS', 64, 1, 100_000),
      maxQueuedJobs: int(env, 'MAX_QUEUED_JOBS', 256, 0, 1_000_000),
      maxImageSteps: int(env, 'MAX_IMAGE_STEPS', 16_384, 1, 64_000_000),
      progressIntervalMs: int(env, 'PROGRESS_INTERVAL_MS', 100, 0, 600_000),
      previewIntervalMs: int(env, 'PREVIEW_INTERVAL_MS', 1000, 0, 600_000),
    },
    development: env.NODE_ENV === 'development',
  };
}
