import { SERVICES, type ServiceKey } from '@diffusevae/contracts';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { ConfigError, loadConfig, natsConnectOptions, type ServiceConfig } from './config.js';

export interface Running {
  /** stop taking requests, finish the ones in flight, release models */
  stop(): Promise<void>;
}

export type ServiceMain = (ctx: { nc: NatsConnection; config: ServiceConfig }) => Promise<Running>;

/** `[encoder]`, `[vae-decoder]`, …: the service's name without the platform prefix. */
export function serviceLabel(key: ServiceKey): string {
  return SERVICES[key].name.replace(/^diffusevae-/, '');
}

/**
 * A service process: read the config (a bad value exits 1 naming the variable), connect, run `main`, print
 * one readiness line `[<service>] ready on <NATS_URL>` (the test harness and launchers wait for it). On
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
  try {
    nc = await connect(natsConnectOptions(config, SERVICES[key].name));
    running = await main({ nc, config });
  } catch (e) {
    console.error(`${label} failed to start:`, e);
    process.exit(1);
  }
  drainOnSignal(label, nc, () => running.stop());
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
