/**
 * npm run keys -- create --name NAME | list | revoke ID|NAME (see commands.ts). Exit codes: 0 done, 1 NATS or the
 * key store failed, 2 a usage error.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { KeyError, KvKeyStore } from '@diffusevae/auth';
import { natsConnectOptions, readLocalNats, stateDir } from '@diffusevae/service-kit';
import { connect, type ConnectionOptions } from '@nats-io/transport-node';
import { parseCommand, runCommand, UsageError, USAGE, type Command } from './commands.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

let cmd: Command;
try {
  cmd = parseCommand(process.argv.slice(2));
} catch (e) {
  if (!(e instanceof UsageError)) throw e;
  console.error(`keys: ${e.message}\n\n${USAGE}`);
  process.exit(2);
}
if (cmd.kind === 'help') {
  console.log(USAGE);
  process.exit(0);
}

/**
 * NATS_URL (with NATS_USER / NATS_PASSWORD), else the server `npm start` runs here, as its admin identity; each
 * identity's replies come on its own inbox prefix (natsConnectOptions), as its permissions require.
 */
function natsOptions(): ConnectionOptions {
  const url = process.env.NATS_URL?.trim();
  if (url) {
    const user = process.env.NATS_USER?.trim();
    return natsConnectOptions({ natsUrl: url, ...(user ? { natsAuth: { user, pass: process.env.NATS_PASSWORD ?? '' } } : {}) }, 'diffusevae-keys');
  }
  const local = readLocalNats(stateDir(ROOT));
  if (!local) {
    console.error('keys: no NATS server: start the platform (`npm start`) or set NATS_URL (and NATS_USER, NATS_PASSWORD for an identity allowed to write the keys bucket)');
    process.exit(1);
  }
  return natsConnectOptions({ natsUrl: local.url, natsAuth: { user: local.user, pass: local.pass } }, 'diffusevae-keys');
}

const opts = natsOptions();
const nc = await connect({ ...opts, maxReconnectAttempts: 0, timeout: 5000 }).catch((e: unknown) => {
  console.error(`keys: cannot reach NATS at ${String(opts.servers)}: ${(e as Error).message}`);
  process.exit(1);
});
let code = 0;
try {
  await runCommand(cmd, await KvKeyStore.open(nc), (line) => console.log(line));
} catch (e) {
  console.error(`keys: ${e instanceof KeyError ? e.message : `the key store failed: ${(e as Error).message}`}`);
  code = 1;
}
await nc.close();
process.exit(code);
