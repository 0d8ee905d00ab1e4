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
  /**
   * REFINER_SETS: refiner replicas per model set, so that each set is scaled on its own, e.g.
   * `models/fmnist:2;models/fmnist-cont,models/fmnist-f2-cont:1` (groups separated by `;`, each the sets its replicas
   * serve and how many, default 1). Unset: REFINER_REPLICAS replicas, each serving every set of MODEL_DIR
   */
  refinerGroups?: RefinerGroup[];
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

export interface RefinerGroup {
  /** the MODEL_DIR of these replicas: folders of MODEL_DIR's list */
  modelDirs: string[];
  replicas: number;
}

/**
 * REFINER_SETS (see LauncherConfig.refinerGroups). Every folder must be one of MODEL_DIR's (`modelDirs`, as written
 * there), and every set of MODEL_DIR needs a refiner: a set without one could take jobs that never run.
 */
export function parseRefinerSets(raw: string, modelDirs: readonly string[]): RefinerGroup[] {
  const fail = (msg: string): never => {
    throw new ConfigError('REFINER_SETS', msg);
  };
  const groups = raw.split(';').map((g, i) => {
    const m = /^\s*([^:]+?)\s*(?::\s*(\d+)\s*)?$/.exec(g);
    if (!m) return fail(`group ${i + 1} (${JSON.stringify(g)}) must be DIR[,DIR…][:REPLICAS]`);
    const dirs = m[1]!.split(',').map((d) => d.trim());
    for (const d of dirs) if (!modelDirs.includes(d)) fail(`${d} is not in MODEL_DIR (${modelDirs.join(', ')})`);
    const replicas = m[2] === undefined ? 1 : Number(m[2]);
    if (replicas < 1 || replicas > 32) fail(`group ${i + 1}: replicas must be in [1, 32], got ${replicas}`);
    return { modelDirs: dirs, replicas };
  });
  const served = new Set(groups.flatMap((g) => g.modelDirs));
  const missing = modelDirs.filter((d) => !served.has(d));
  if (missing.length) fail(`no refiner for ${missing.join(', ')}: every set of MODEL_DIR needs one`);
  return groups;
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
  const refinerSets = env.REFINER_SETS?.trim();
  if (refinerSets && !modelDir) throw new ConfigError('REFINER_SETS', 'needs MODEL_DIR listing the model sets it names');
  if (refinerSets && env.REFINER_REPLICAS?.trim()) throw new ConfigError('REFINER_SETS', 'and REFINER_REPLICAS: choose one (REFINER_SETS gives the count of each group)');
  return {
    ...(refinerSets ? { refinerGroups: parseRefinerSets(refinerSets, modelDir!.split(',').map((d) => d.trim())) } : {}),
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
