import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { NatsIdentity } from '@diffusevae/contracts';
import { generatePasswords, hashPasswords, platformUsers, renderNatsConfig, writePrivateFile } from './nats-auth.js';
import type { Supervisor } from './processes.js';
import type { Launch } from './restarts.js';

/** nats-server on PATH, or where Debian puts it (/usr/sbin is not on every user's PATH). */
export function findNatsServer(envPath = process.env.PATH ?? ''): string | undefined {
  const dirs = [...envPath.split(path.delimiter).filter(Boolean), '/usr/sbin', '/usr/local/sbin', '/usr/local/bin'];
  return dirs.map((d) => path.join(d, 'nats-server')).find((f) => existsSync(f));
}

export class NatsMissingError extends Error {
  constructor() {
    super('nats-server was not found (on PATH or in /usr/sbin): run `bash tools/setup.sh` to install it, or set NATS_URL to a running server');
  }
}

/**
 * nats-server's arguments: JetStream on 127.0.0.1, its store in `storeDir`; the kernel picks the port the first
 * time. With `configFile` (the users and their permissions) first: the flags after it override what it says.
 */
export function natsArgs(storeDir: string, port?: number, configFile?: string): string[] {
  return [...(configFile ? ['-c', configFile] : []), '-a', '127.0.0.1', '-p', port === undefined ? '-1' : String(port), '-js', '-sd', storeDir];
}

export interface NatsLaunch {
  launch: Launch<string>;
  /** removes the configuration and the JetStream store */
  cleanup: () => void;
  /** each identity's password (the server's configuration holds their bcrypt hashes) */
  passwords: Record<NatsIdentity, string>;
}

/**
 * nats-server with JetStream on 127.0.0.1 and a port the kernel picks, in a temporary folder (removed by
 * `cleanup`) holding its configuration (nats.conf, mode 0600: one user per identity of natsPermissions, with a
 * fresh random password each, stored bcrypt-hashed) and its store (jetstream/). Nobody connects without one of
 * those identities. `launch.ready` resolves with its URL once it accepts clients. A restart (the same `launch`
 * again) comes back on the port it got the first time, with the same users and store: clients reconnect and
 * JetStream's streams and buckets are still there.
 */
export async function natsLaunch(sup: Supervisor, cwd: string, timeoutMs: number): Promise<NatsLaunch> {
  const binary = findNatsServer();
  if (!binary) throw new NatsMissingError();
  const passwords = generatePasswords();
  const users = platformUsers(await hashPasswords(passwords));
  const dir = mkdtempSync(path.join(tmpdir(), 'diffusevae-launcher-nats-'));
  const cleanup = () => rmSync(dir, { recursive: true, force: true });
  const storeDir = path.join(dir, 'jetstream');
  const configFile = path.join(dir, 'nats.conf');
  const header = "written by tools/launcher: the platform's NATS identities (passwords bcrypt-hashed); -a, -p, -js, -sd on its command line";
  writePrivateFile(configFile, renderNatsConfig({ header, host: '127.0.0.1', storeDir, users }));
  let port: number | undefined;
  const launch: Launch<string> = {
    label: 'nats-server',
    spawn: () => sup.start({ label: 'nats-server', command: binary, args: natsArgs(storeDir, port, configFile), env: process.env, cwd, tier: 0 }),
    ready: async (nats) => {
      const [listening] = await Promise.all([
        nats.waitFor(/Listening for client connections on [^\s:]+:(\d+)/, timeoutMs),
        nats.waitFor(/Server is ready/, timeoutMs),
      ]);
      port ??= Number(listening[1]);
      return `nats://127.0.0.1:${port}`;
    },
  };
  return { launch, cleanup, passwords };
}
