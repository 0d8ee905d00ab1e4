import { AUTH_MODES, type AuthMode } from '@diffusevae/auth';
import { ConfigError, envInt, envOneOf, type Env } from '@diffusevae/service-kit';

export { ConfigError };

/**
 * The launcher's settings, from the environment (children inherit the rest: ORT_THREADS, MAX_BATCH, …).
 * A bad value stops it with a message that names the variable.
 */
export interface ServiceSpec {
  /** label in logs and NATS identity: encoder, vae-decoder, … */
  name: ServiceName;
  /** relative to the repository root */
  entry: string;
  replicas: number;
}

export interface LauncherConfig {
  /** NATS_URL: use this server instead of starting one */
  natsUrl?: string;
  /** AUTH (default keys), as the gateway reads it: with keys, a start with its own NATS prints a development key */
  auth: AuthMode;
  /** PORT (default 4000; 0 picks a free one): the gateway's */
  port: number;
  /** MODEL_DIR: passed on to every process when set (one folder, or a comma-separated list of model sets served side by side) */
  modelDir?: string;
  services: ServiceSpec[];
  /** READY_TIMEOUT_MS (default 120000): start-up of one process, model loading included */
  readyTimeoutMs: number;
  /** STOP_GRACE_MS (default 15000): SIGTERM, then SIGKILL after this */
  stopGraceMs: number;
  /**
   * RESTART_BACKOFF_MS (default 500): a child (replica, gateway, the nats-server started here) that exits on its
   * own is restarted after this delay, doubled at each restart that follows …
   */
  restartBackoffMs: number;
  /** RESTART_BACKOFF_MAX_MS (default 30000): … up to this; back to RESTART_BACKOFF_MS once a child has served 60 s */
  restartBackoffMaxMs: number;
}

/** The services in start order; the gateway comes last, once they are ready. */
const SERVICES = ['encoder', 'vae-decoder', 'refiner', 'scheduler'] as const;
export type ServiceName = (typeof SERVICES)[number];

/** REFINER_REPLICAS, VAE_DECODER_REPLICAS, …: the variable that sets a service's replica count. */
export function replicasVariable(service: string): string {
  return `${service.toUpperCase().replace(/-/g, '_')}_REPLICAS`;
}

export function loadLauncherConfig(env: Env = process.env): LauncherConfig {
  const natsUrl = env.NATS_URL?.trim();
  const modelDir = env.MODEL_DIR?.trim();
  return {
    ...(natsUrl ? { natsUrl } : {}),
    auth: envOneOf(env, 'AUTH', AUTH_MODES, 'keys'),
    port: envInt(env, 'PORT', 4000, 0, 65535),
    ...(modelDir ? { modelDir } : {}),
    services: SERVICES.map((name) => ({ name, entry: `services/${name}/src/main.ts`, replicas: envInt(env, replicasVariable(name), 1, 0, 32) })),
    readyTimeoutMs: envInt(env, 'READY_TIMEOUT_MS', 120_000, 1000, 3_600_000),
    stopGraceMs: envInt(env, 'STOP_GRACE_MS', 15_000, 100, 600_000),
    ...restartBackoff(env),
  };
}

function restartBackoff(env: Env): Pick<LauncherConfig, 'restartBackoffMs' | 'restartBackoffMaxMs'> {
  const restartBackoffMs = envInt(env, 'RESTART_BACKOFF_MS', 500, 10, 600_000);
  const restartBackoffMaxMs = envInt(env, 'RESTART_BACKOFF_MAX_MS', Math.max(30_000, restartBackoffMs), 10, 3_600_000);
  if (restartBackoffMaxMs < restartBackoffMs) {
    throw new ConfigError('RESTART_BACKOFF_MAX_MS', `must be at least RESTART_BACKOFF_MS (${restartBackoffMs}), got ${restartBackoffMaxMs}`);
  }
  return { restartBackoffMs, restartBackoffMaxMs };
}
