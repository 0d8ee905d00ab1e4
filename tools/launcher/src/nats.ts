import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { NatsIdentity } from '@diffusevae/contracts';
import { writePrivateFile } from '@diffusevae/service-kit';
import { generatePasswords, hashPasswords, platformUsers, renderNatsConfig } from './nats-auth.js';
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
 * time. With `configFile` (its users, and JetStream with the store: nats-server refuses -sd next to a store_dir
 * there) the flags after it are only the address and the port, which override the file's.
 */
export function natsArgs(storeDir: string, port?: number, configFile?: string): string[] {
  const listen = ['-a', '127.0.0.1', '-p', port === undefined ? '-1' : String(port)];
  return configFile ? ['-c', configFile, ...listen] : [...listen, '-js', '-sd', storeDir];
}

export interface NatsLaunch {
  launch: Launch<string>;
  /** removes the configuration (the store stays) */
  cleanup: () => void;
  /** each identity's password (the server's configuration holds their bcrypt hashes) */
  passwords: Record<NatsIdentity, string>;
}

/**
 * nats-server with JetStream on 127.0.0.1 and a port the kernel picks: its configuration (nats.conf, mode 0600: one
 * user per identity of natsPermissions, with a fresh random password each, stored bcrypt-hashed) in a temporary
 * folder (removed by `cleanup`); its store in `state`/jetstream, kept from one launch to the next (the jobs and API
 * keys of the last `npm start` are still there). Nobody connects without one of
 * those identities. `launch.ready` resolves with its URL once it accepts clients. A restart (the same `launch`
 * again) comes back on the port it got the first time, with the same users and store: clients reconnect and
 * JetStream's streams and buckets are still there.
 */
export async function natsLaunch(sup: Supervisor, cwd: string, state: string, timeoutMs: number): Promise<NatsLaunch> {
  const binary = findNatsServer();
  if (!binary) throw new NatsMissingError();
  const passwords = generatePasswords();
  const users = platformUsers(await hashPasswords(passwords));
  const dir = mkdtempSync(path.join(tmpdir(), 'diffusevae-launcher-nats-'));
  const cleanup = () => rmSync(dir, { recursive: true, force: true });
  // nats-server keeps JetStream in <store_dir>/jetstream: the state folder's jetstream/
  const storeDir = state;
  mkdirSync(storeDir, { recursive: true, mode: 0o700 });
  const configFile = path.join(dir, 'nats.conf');
  const header = "written by tools/launcher: the platform's NATS identities (passwords bcrypt-hashed); -a and -p on its command line";
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

/** Whether something accepts TCP connections at a nats:// URL (a launcher's server still running), within `timeoutMs`. */
export function isListening(url: string, timeoutMs = 1000): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = createConnection({ host: hostname, port: Number(port) || 4222, timeout: timeoutMs });
    const done = (up: boolean) => {
      socket.destroy();
      resolve(up);
    };
    socket.once('connect', () => done(true));
    socket.once('timeout', () => done(false));
    socket.once('error', () => done(false));
  });
}
