/**
 * The gateway process: config from the environment, NATS, the stages over the services (one set of stages per model
 * set of MODEL_DIR, on that set's subjects), the GraphQL server.
 * Logs JSON lines (LOG_LEVEL; service-kit's log.ts), one of them `ready on <url> (…)` (launchers and tests wait for
 * it); SIGTERM/SIGINT drain and exit 0. A bad setting or a failed start is a `fatal` line and exit code 1.
 */
import { modelFileEntry, readManifests } from '@diffusevae/models';
import { ConfigError, Metrics, drainOnSignal, natsConnectOptions, natsStages, processLogger, watchNats } from '@diffusevae/service-kit';
import { connect } from '@nats-io/transport-node';
import { KvKeyStore } from '@diffusevae/auth';
import { JETSTREAM } from '@diffusevae/contracts';
import { KvActiveJobs, MemoryActiveJobs } from './active-jobs.js';
import { loadGatewayConfig } from './config.js';
import { natsHealth } from './health.js';
import { InMemoryJobStore } from './jobs.js';
import { KvJobStore, natsJobBus } from './kv-store.js';
import { DEFAULT_LIMITS } from './runner.js';
import { createGateway } from './server.js';
import { JetStreamWorkQueue } from './work-queue.js';

const log = processLogger('gateway');

function fail(what: string, e: unknown): never {
  const fields = e instanceof ConfigError ? { variable: e.variable } : { err: e };
  log.fatal(fields, `${what}: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
}

let config;
try {
  config = loadGatewayConfig();
} catch (e) {
  if (e instanceof ConfigError) fail('configuration', e);
  throw e;
}
// every set of MODEL_DIR, in its order (the first is the default); two sets of one name are refused
const manifests = await readManifests(config.modelDirs).catch((e: unknown) => fail('MODEL_DIR', e));
// the refiner file whose sha256 job manifests quote must exist in every set (int8: files.refinerInt8)
for (const manifest of manifests) {
  try {
    modelFileEntry(manifest, 'refiner', config.refinerPrecision);
  } catch (e) {
    fail(`REFINER_PRECISION (model set ${manifest.name})`, e);
  }
}
const nc = await connect(natsConnectOptions(config, 'diffusevae-gateway')).catch(
  (e: unknown) => fail(`NATS_URL ${config.natsUrl}`, e),
);
// the process's metrics (GET /metrics on PORT), with the Node.js defaults and the NATS connection's
const metrics = new Metrics({ labels: { service: 'gateway' } });
// readiness follows the NATS connection: a replica that lost it answers /readyz 503 until it is back
const nats = watchNats(nc, metrics);
const shared = config.jobStore === 'kv';
const jobs = shared
  ? await KvJobStore.open(nc, { bucket: config.jobBucket, retentionMs: config.jobRetentionMs, replicas: config.jetstreamReplicas }).catch((e: unknown) =>
      fail(`JOB_STORE=kv (bucket ${config.jobBucket}; the NATS server needs JetStream: nats-server -js)`, e),
    )
  : new InMemoryJobStore(config.jobHistory);
const { maxQueuedJobs, maxActiveJobs } = { ...DEFAULT_LIMITS, ...config.limits };
// the hint a full queue gives: about one job's time per round of MAX_ACTIVE_JOBS ahead (the gateway refines it)
const queue = shared
  ? await JetStreamWorkQueue.open(nc, {
      maxJobs: maxQueuedJobs + maxActiveJobs,
      ackWaitMs: config.jobAckWaitMs,
      retryAfterMs: () => Math.max(100, Math.ceil(maxQueuedJobs / maxActiveJobs) * 1000),
      replicas: config.jetstreamReplicas,
    }).catch((e: unknown) => fail(`JOB_STORE=kv (stream of jobs; the NATS server needs JetStream: nats-server -js)`, e))
  : undefined;
// API keys live in JetStream KV whatever JOB_STORE is: every replica, and `npm run keys`, see the same ones
const auth =
  config.auth === 'none'
    ? ('none' as const)
    : await (async () => {
        const keys = await KvKeyStore.open(nc, { replicas: config.jetstreamReplicas });
        return { keys, active: shared ? await KvActiveJobs.open(nc, jobs, { replicas: config.jetstreamReplicas }) : new MemoryActiveJobs(jobs) };
      })().catch((e: unknown) => fail(`AUTH=keys (KV bucket ${JETSTREAM.keyBucket}; the NATS server needs JetStream: nats-server -js)`, e));
// each set's jobs call that set's services (their subjects end with the set's name)
const sets = manifests.map((manifest) => {
  const { resolution: r, channels: c } = manifest.image;
  const stages = natsStages(nc, {
    set: manifest.name,
    imageShape: [c, r, r],
    timeoutMs: config.requestTimeoutMs,
    refineTimeoutMs: config.refineTimeoutMs,
    // the store takes progress at most this often: fewer events spare the refiner's cores
    progressIntervalMs: config.limits.progressIntervalMs,
    // and x̂₀, as big as the batch, only as often as a preview PNG is made of it
    previewIntervalMs: config.limits.previewIntervalMs,
    livenessTimeoutMs: config.schedulerLivenessMs,
  });
  return { manifest, stages };
});
const names = manifests.map((m) => m.name);
const gateway = await createGateway({
  sets,
  refinerPrecision: config.refinerPrecision,
  port: config.port,
  ...(config.host ? { host: config.host } : {}),
  jobs,
  limits: config.limits,
  ...(queue ? { queue, bus: natsJobBus(nc) } : {}),
  health: natsHealth(nc),
  log,
  includeStacktrace: config.development,
  auth,
  surface: config.surface,
  unready: nats.unready,
  metrics,
  ...(config.metricsToken ? { metricsToken: config.metricsToken } : {}),
}).catch((e: unknown) => fail(`PORT ${config.port}`, e));

drainOnSignal(log, nc, () => gateway.stop());
if (config.auth === 'none') log.warn(`AUTH=none: no API keys, anyone who reaches ${gateway.url} may do anything`);
log.info({ url: gateway.metricsUrl }, `metrics on ${gateway.metricsUrl} (and /livez, /readyz)${config.metricsToken ? ' (METRICS_TOKEN required)' : ''}`);
// the URL is followed by a space: readers match /ready on (\S+)/
log.info(
  { url: gateway.url, model: names[0], models: names, nats: config.natsUrl, auth: config.auth },
  `ready on ${gateway.url} (${names.length === 1 ? `model ${names[0]}` : `models ${names.join(', ')}; default ${names[0]}`}, NATS ${config.natsUrl}, ${config.auth === 'none' ? 'no API keys' : 'API keys required'})`,
);
