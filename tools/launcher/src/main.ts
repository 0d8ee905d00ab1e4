/**
 * npm start: nats-server (unless NATS_URL is set), the four services (REFINER_REPLICAS=2 … for more
 * replicas) and the gateway, each its own process with prefixed logs. Ctrl-C stops them all in order; so does
 * any child that dies, with a message naming it.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, loadLauncherConfig, type LauncherConfig } from './config.js';
import { NatsMissingError, startNats } from './nats.js';
import { Supervisor } from './processes.js';
import { banner } from './banner.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const TSX = path.join(ROOT, 'node_modules/.bin/tsx');
const READY = /\bready on (\S+)/;
const say = (line: string) => console.log(`launcher: ${line}`);

let config: LauncherConfig;
try {
  config = loadLauncherConfig();
} catch (e) {
  if (!(e instanceof ConfigError)) throw e;
  console.error(`launcher: configuration: ${e.message}`);
  process.exit(2);
}

let cleanupNats = () => {};
let shuttingDown: Promise<never> | undefined;
const shutdown = (code: number, why: string): Promise<never> =>
  (shuttingDown ??= (async () => {
    say(why);
    await sup.stopAll(config.stopGraceMs);
    cleanupNats();
    say('all stopped');
    process.exit(code);
  })());

const sup = new Supervisor(
  (line) => console.log(line),
  (label, code, signal) => void shutdown(1, `${label} exited unexpectedly (${signal ?? `code ${code}`}); stopping everything`),
);
process.on('SIGINT', () => void shutdown(0, 'stopping (SIGINT)'));
process.on('SIGTERM', () => void shutdown(0, 'stopping (SIGTERM)'));

try {
  let natsUrl = config.natsUrl;
  if (!natsUrl) {
    const nats = await startNats(sup, ROOT, config.readyTimeoutMs);
    natsUrl = nats.url;
    cleanupNats = nats.cleanup;
    say(`nats-server (JetStream) on ${natsUrl}`);
  }
  const env = { ...process.env, NATS_URL: natsUrl, ...(config.modelDir ? { MODEL_DIR: path.resolve(config.modelDir) } : {}) };
  const start = (label: string, entry: string, tier: number, extra: Record<string, string> = {}) => {
    const p = sup.start({ label, command: TSX, args: [path.join(ROOT, entry)], env: { ...env, ...extra }, cwd: ROOT, tier });
    say(`started ${label} (pid ${p.child.pid})`);
    return p.waitFor(READY, config.readyTimeoutMs);
  };
  await Promise.all(config.services.flatMap((s) => Array.from({ length: s.replicas }, (_, i) => start(`${s.name}#${i + 1}`, s.entry, 1))));
  const ready = await start('gateway', 'services/gateway/src/main.ts', 2, { PORT: String(config.port) });
  console.log(banner(ready[1]!));
} catch (e) {
  const message = e instanceof NatsMissingError ? e.message : `start-up failed: ${(e as Error).message}`;
  await shutdown(1, message);
}
