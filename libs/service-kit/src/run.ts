import { SERVICES, type ServiceKey } from '@diffusevae/contracts';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { ConfigError, loadConfig, natsConnectOptions, type ServiceConfig } from './config.js';
import { ServiceProbes } from './health.js';
import { createLogger, type Logger } from './log.js';
import { Metrics } from './metrics.js';

export interface Running {
  /** stop taking requests, finish the ones in flight, release models */
  stop(): Promise<void>;
}

/**
 * `metrics`: the process's registry, served on METRICS_PORT (pass it to serve(): its URL goes into $SRV.INFO);
 * `log`: the process's logger (pass it to serve() too)
 */
export type ServiceMain = (ctx: { nc: NatsConnection; config: ServiceConfig; metrics: Metrics; log: Logger }) => Promise<Running>;

/** `encoder`, `vae-decoder`, …: the service's name without the platform prefix (its logs' `service`). */
export function serviceLabel(key: ServiceKey): string {
  return SERVICES[key].name.replace(/^diffusevae-/, '');
}

/**
 * The process's logger (LOG_LEVEL); a bad LOG_LEVEL is said on a logger at the default level, and exits 1 like
 * any other bad setting.
 */
export function processLogger(service: string): Logger {
  try {
    return createLogger({ service });
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    createLogger({ service, level: 'info' }).fatal({ variable: e.variable }, `configuration: ${e.message}`);
    process.exit(1);
  }
}

/**
 * A service process: read the config (a bad value exits 1 with a `fatal` line naming the variable), connect, run
 * `main`, log one readiness line `ready on <NATS_URL> (<service name>)` (the test harness and launchers wait for
 * it), after a line `metrics on http://host:port/metrics (…)` (the probe listener, up from the start: /readyz is
 * 503 until `main` has loaded its models and bound its endpoints, and while NATS is disconnected). On SIGTERM or
 * SIGINT: stop taking requests, let the ones in flight finish, drain the connection, exit 0. Every line is JSON
 * (log.ts), `service` the label above.
 */
export async function runService(key: ServiceKey, main: ServiceMain): Promise<void> {
  const log = processLogger(serviceLabel(key));
  let config: ServiceConfig;
  try {
    config = loadConfig();
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    log.fatal({ variable: e.variable }, `configuration: ${e.message}`);
    process.exit(1);
  }
  let nc: NatsConnection;
  let running: Running;
  let probes: ServiceProbes;
  try {
    probes = await ServiceProbes.start(new Metrics({ labels: { service: serviceLabel(key) } }), config.metrics);
    nc = await connect(natsConnectOptions(config, SERVICES[key].name));
    probes.watch(nc);
    running = await main({ nc, config, metrics: probes.metrics, log });
    probes.ready();
  } catch (e) {
    log.fatal({ err: e }, `failed to start: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  }
  drainOnSignal(log, nc, () => (probes.stopping(), running.stop()));
  log.info({ url: probes.url }, `metrics on ${probes.url} (and /livez, /readyz)`);
  // the URL is followed by a space: readers match /ready on (\S+)/
  log.info({ nats: config.natsUrl }, `ready on ${config.natsUrl} (${SERVICES[key].name})`);
}

/**
 * SIGTERM / SIGINT: stop taking work (`stop`), drain the NATS connection, exit 0. A NATS connection that closes
 * on its own is fatal (exit 1): a process that can no longer serve must not look alive.
 */
export function drainOnSignal(log: Logger, nc: NatsConnection, stop: () => Promise<void>): void {
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, `${signal}: draining`);
    try {
      await stop();
      await nc.drain();
      log.info({ signal }, 'drained');
      process.exit(0);
    } catch (e) {
      log.fatal({ err: e }, `shutdown failed: ${e instanceof Error ? e.message : String(e)}`);
      process.exit(1);
    }
  };
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  process.once('SIGINT', () => void shutdown('SIGINT'));
  void nc.closed().then((err) => {
    if (stopping) return;
    log.fatal({ ...(err ? { err } : {}) }, `NATS connection closed${err ? `: ${err.message}` : ''}`);
    process.exit(1);
  });
}
