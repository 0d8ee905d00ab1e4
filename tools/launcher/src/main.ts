/**
 * npm start: nats-server (unless NATS_URL is set), the four services (REFINER_REPLICAS=2 … for more
 * replicas) and the gateway, each its own process with prefixed logs. Once up, a child that dies (a replica, the
 * gateway, nats-server) is restarted under the same label after a back-off (RESTART_BACKOFF_MS, doubling to
 * RESTART_BACKOFF_MAX_MS), while the others go on serving: nats-server on the same port and JetStream store, the
 * gateway on the same port. Each death and restart gets a `launcher:` line. A child that dies or is not ready
 * during start-up stops everything, naming it. Ctrl-C or SIGTERM stops them all in order (gateway first, NATS
 * last) and cancels pending restarts.
 *
 * The nats-server started here lets in only the platform's identities (natsPermissions in libs/contracts): each
 * child gets its own NATS_USER / NATS_PASSWORD (fresh random passwords per launch, bcrypt-hashed in the server's
 * configuration; its JetStream store is kept in .diffusevae/jetstream, so jobs and keys outlive a restart), and the
 * admin identity is left in .diffusevae/nats.json (mode 0600, removed on the way out) for
 * operator tools (readLocalNats: `npm run keys`). With NATS_URL the children keep this environment's NATS_USER /
 * NATS_PASSWORD, if any, and nothing is written.
 *
 * With its own nats-server and API keys on (AUTH unset or keys), it makes a development key on first start (and
 * reuses it while it works: .diffusevae/dev-key) and prints it with the playground and explorer links that carry it.
 * It builds the playground first (services/playground/dist) when its sources changed since the last build.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, loadLauncherConfig, type LauncherConfig } from './config.js';
import type { NatsIdentity } from '@diffusevae/contracts';
import { isListening, NatsMissingError, natsLaunch } from './nats.js';
import { readLocalNats, removeLocalNats, stateDir, writeLocalNats } from '@diffusevae/service-kit';
import { describeExit, Supervisor } from './processes.js';
import { Keeper, type Launch } from './restarts.js';
import { banner, type BannerKey } from './banner.js';
import { developmentKey } from './dev-key.js';
import { ensurePlayground } from './playground.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const TSX = path.join(ROOT, 'node_modules/.bin/tsx');
/** .diffusevae (or DIFFUSEVAE_STATE_DIR): the JetStream store, nats.json and dev-key */
const STATE = stateDir(ROOT);
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
    keeper.stop();
    await sup.stopAll(config.stopGraceMs);
    cleanupNats();
    say('all stopped');
    process.exit(code);
  })());

const sup = new Supervisor(
  (line) => console.log(line),
  (label, code, signal) => {
    // Kept children come back; one that dies while starting stops everything (start-up also fails on it).
    if (!keeper.exited(label, code, signal)) void shutdown(1, `${label} exited unexpectedly (${describeExit(code, signal)}); stopping everything`);
  },
);
const keeper = new Keeper({ sup, say, initialMs: config.restartBackoffMs, maxMs: config.restartBackoffMaxMs });
process.on('SIGINT', () => void shutdown(0, 'stopping (SIGINT)'));
process.on('SIGTERM', () => void shutdown(0, 'stopping (SIGTERM)'));

try {
  // the page at / (built while NATS and the services start, unless current); the API works without it
  const pages = ensurePlayground(ROOT, say).catch((e: unknown) =>
    say(`the playground could not be built (${(e as Error).message.split('\n')[0]}): the API works; try \`npm run build:web\``),
  );
  let natsUrl = config.natsUrl;
  /** each child's NATS_USER / NATS_PASSWORD; none with NATS_URL (they inherit this environment's, if any) */
  let identity: (id: NatsIdentity) => Record<string, string> = () => ({});
  let dev: Promise<BannerKey> | undefined;
  if (!natsUrl) {
    // one launcher per state folder: two nats-servers must not share a JetStream store
    const running = readLocalNats(STATE);
    if (running && (await isListening(running.url))) {
      throw new Error(`another \`npm start\` is running with ${path.relative(ROOT, STATE) || '.'} (NATS on ${running.url}): stop it, or give this one DIFFUSEVAE_STATE_DIR=<another folder>`);
    }
    const nats = await natsLaunch(sup, ROOT, STATE, config.readyTimeoutMs);
    cleanupNats = nats.cleanup;
    natsUrl = await keeper.start(nats.launch);
    // the admin identity, for operator tools (readLocalNats); removed again on the way out
    const local = { url: natsUrl, user: 'admin', pass: nats.passwords.admin };
    writeLocalNats(STATE, local);
    cleanupNats = () => {
      removeLocalNats(STATE, local);
      nats.cleanup();
    };
    identity = (id) => ({ NATS_USER: id, NATS_PASSWORD: nats.passwords[id] });
    say(`nats-server (JetStream) on ${natsUrl}; store and admin credentials in ${path.relative(ROOT, STATE) || '.'}`);
    // the gateway asks for keys (AUTH=keys): a first user gets one, made while the services start
    if (config.auth === 'keys') dev = developmentKey(ROOT, STATE, local);
  }
  const env = { ...process.env, NATS_URL: natsUrl, ...(config.modelDir ? { MODEL_DIR: config.modelDir.split(',').map((d) => path.resolve(d.trim())).join(',') } : {}) };
  const child = (label: string, entry: string, tier: number, extra: () => Record<string, string> = () => ({})): Launch<string> => ({
    label,
    spawn: () => sup.start({ label, command: TSX, args: [path.join(ROOT, entry)], env: { ...env, ...extra() }, cwd: ROOT, tier }),
    ready: async (p) => (await p.waitFor(READY, config.readyTimeoutMs))[1]!,
  });
  const resolveDirs = (dirs: readonly string[]) => dirs.map((d) => path.resolve(d)).join(',');
  await Promise.all(
    config.services.flatMap((s) =>
      s.name === 'refiner' && config.refinerGroups
        ? // REFINER_SETS: each group's replicas serve only its sets, so each set is scaled on its own
          config.refinerGroups.flatMap((g) =>
            Array.from({ length: g.replicas }, (_, i) =>
              keeper.start(child(`refiner[${g.modelDirs.map((d) => path.basename(d)).join(',')}]#${i + 1}`, s.entry, 1, () => ({ ...identity(s.name), MODEL_DIR: resolveDirs(g.modelDirs) }))),
            ),
          )
        : Array.from({ length: s.replicas }, (_, i) => keeper.start(child(`${s.name}#${i + 1}`, s.entry, 1, () => identity(s.name)))),
    ),
  );
  // A restarted gateway comes back on the port it got the first time (PORT=0 picks one), so its URL stays valid.
  let gatewayPort = config.port;
  await pages;
  const url = await keeper.start(child('gateway', 'services/gateway/src/main.ts', 2, () => ({ ...identity('gateway'), PORT: String(gatewayPort) })));
  gatewayPort = Number(new URL(url).port) || gatewayPort;
  console.log(banner(url, await dev, config.auth));
} catch (e) {
  const message = e instanceof NatsMissingError ? e.message : `start-up failed: ${(e as Error).message}`;
  await shutdown(1, message);
}
