import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
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

/** nats-server's arguments: JetStream on 127.0.0.1, its store in `storeDir`; the kernel picks the port the first time. */
export function natsArgs(storeDir: string, port?: number): string[] {
  return ['-a', '127.0.0.1', '-p', port === undefined ? '-1' : String(port), '-js', '-sd', storeDir];
}

/**
 * nats-server with JetStream on 127.0.0.1 and a port the kernel picks, its store in a temporary folder
 * (removed by `cleanup`). `launch.ready` resolves with its URL once it accepts clients. A restart (the same
 * `launch` again) comes back on the port it got the first time, with the same store: clients reconnect and
 * JetStream's streams and buckets are still there.
 */
export function natsLaunch(sup: Supervisor, cwd: string, timeoutMs: number): { launch: Launch<string>; cleanup: () => void } {
  const binary = findNatsServer();
  if (!binary) throw new NatsMissingError();
  const storeDir = mkdtempSync(path.join(tmpdir(), 'diffusevae-launcher-nats-'));
  const cleanup = () => rmSync(storeDir, { recursive: true, force: true });
  let port: number | undefined;
  const launch: Launch<string> = {
    label: 'nats-server',
    spawn: () => sup.start({ label: 'nats-server', command: binary, args: natsArgs(storeDir, port), env: process.env, cwd, tier: 0 }),
    ready: async (nats) => {
      const [listening] = await Promise.all([
        nats.waitFor(/Listening for client connections on [^\s:]+:(\d+)/, timeoutMs),
        nats.waitFor(/Server is ready/, timeoutMs),
      ]);
      port ??= Number(listening[1]);
      return `nats://127.0.0.1:${port}`;
    },
  };
  return { launch, cleanup };
}
