import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Supervisor } from './processes.js';

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
 * nats-server with JetStream on 127.0.0.1 and a port the kernel picks, its store in a temporary folder
 * (removed by the returned cleanup). Resolves with its URL once it accepts clients.
 */
export async function startNats(sup: Supervisor, cwd: string, timeoutMs: number): Promise<{ url: string; cleanup: () => void }> {
  const binary = findNatsServer();
  if (!binary) throw new NatsMissingError();
  const storeDir = mkdtempSync(path.join(tmpdir(), 'diffusevae-launcher-nats-'));
  const cleanup = () => rmSync(storeDir, { recursive: true, force: true });
  const nats = sup.start({ label: 'nats-server', command: binary, args: ['-a', '127.0.0.1', '-p', '-1', '-js', '-sd', storeDir], env: process.env, cwd, tier: 0 });
  try {
    const [listening] = await Promise.all([
      nats.waitFor(/Listening for client connections on [^\s:]+:(\d+)/, timeoutMs),
      nats.waitFor(/Server is ready/, timeoutMs),
    ]);
    return { url: `nats://127.0.0.1:${listening[1]}`, cleanup };
  } catch (e) {
    cleanup();
    throw e;
  }
}
