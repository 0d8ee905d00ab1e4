import { SERVICES, type ServiceKey } from '@diffusevae/contracts';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { ConfigError, loadConfig, natsConnectOptions, type ServiceConfig } from './config.js';
import { ServiceProbes } from './health.js';
import { Metrics } from './metrics.js';

export interface Running {
  /** stop taking requests, finish the ones in flight, release models */
  stop(): Promise<void>;
}

/** `metrics`: the process's registry, served on METRICS_PORT (pass it to serve(): its URL goes into $SRV.INFO) */
export type ServiceMain = (ctx: { nc: NatsConnection; config: ServiceConfig; metrics: Metrics }) => Promise<Running>;

/** `[encoder]`, `[vae-decoder]`, …: the service's name without the platform prefix. */
export function serviceLabel(key: ServiceKey): string {
  return SERVICES[key].name.replace(/^diffusevae-/, '');
}

/**
 * A service process: read the config (a bad value exits 1 naming the variable), connect, run `main`, print
 * one readiness line `[<service>] ready on <NATS_URL>` (the test harness and launchers wait for it), after a line
 * `[<service>] metrics on http://host:port/metrics` (the probe listener, up from the start: /readyz is 503 until
 * `main` has loaded its models and bound its endpoints, and while NATS is disconnected). On
 * SIGTERM or SIGINT: stop taking requests, let the ones in flight finish, drain the connection, exit 0.
 */
export async function runService(key: ServiceKey, main: ServiceMain): Promise<void> {
  const label = `[${serviceLabel(key)}]`;
  let config: ServiceConfig;
  try {
    config = loadConfig();
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    console.error(`${label} configuration: ${e.message}`);
    process.exit(1);
  }
  let nc: NatsConnection;
  let running: Running;
  let probes: ServiceProbes;
  try {
    probes = await ServiceProbes.start(new Metrics({ labels: { service: serviceLabel(key) } }), config.metrics);
    nc = await connect(natsConnectOptions(config, SERVICES[key].name));
    probes.watch(nc);
    running = await main({ nc, config, metrics: probes.metrics });
    probes.ready();
  } catch (e) {
    console.error(`${label} failed to start:`, e);
    process.exit(1);
  }
  drainOnSignal(label, nc, () => (probes.stopping(), running.stop()));
  console.log(`${label} metrics on ${probes.url} (and /livez, /readyz)`);
  console.log(`${label} ready on ${config.natsUrl}`);
}

/**
 * SIGTERM / SIGINT: stop taking work (`stop`), drain the NATS connection, exit 0. A NATS connection that closes
 * on its own is fatal (exit 1): a process that can no longer serve must not look alive.
 */
export function drainOnSignal(label: string, nc: NatsConnection, stop: () => Promise<void>): void {
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`${label} ${signal}: draining`);
    try {
      await stop();
      await nc.drain();
      process.exit(0);
    } catch (e) {
      console.error(`${label} shutdown failed:`, e);
      process.exit(1);
    }
  };
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  process.once('SIGINT', () => void shutdown('SIGINT'));
  void nc.closed().then((err) => {
    if (stopping) return;
    console.error(`${label} NATS connection closed${err ? `: ${err.message}` : ''}`);
    process.exit(1);
  });
}
