import { ConfigError, loadConfig } from '@diffusevae/service-kit';

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
  /** JOB_HISTORY (default 256): jobs kept in memory, the oldest finished ones forgotten first */
  jobHistory: number;
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
    jobHistory: int(env, 'JOB_HISTORY', 256, 1, 100_000),
    development: env.NODE_ENV === 'development',
  };
}
