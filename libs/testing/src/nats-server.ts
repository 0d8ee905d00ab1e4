import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { stopChild, waitForLine } from './child.js';

export interface NatsServerOptions {
  /** start JetStream, storing in a temporary folder removed by stop() */
  jetstream?: boolean;
  /** the binary; default `nats-server` on PATH (Debian: /usr/sbin/nats-server) */
  binary?: string;
  /** a configuration file's text, e.g. 'max_payload: 65536' (nats-server has no flag for that one) */
  config?: string;
  /** extra command-line arguments */
  args?: string[];
}

export interface NatsServer {
  url: string;
  port: number;
  /** the server's process id */
  pid: number;
  /** JetStream's storage folder (inside a temporary folder that stop() removes), when started with jetstream */
  storeDir?: string;
  /** kills the server and removes its storage; safe to call twice */
  stop(): Promise<void>;
}

/**
 * A real nats-server on 127.0.0.1 and a port the kernel picks (-p -1), so parallel test files never collide.
 * The port is read from the server's own log line; it is ready once it logs "Server is ready". Its files
 * (config, JetStream storage) live in a temporary folder that stop() removes.
 */
export async function startNatsServer(opts: NatsServerOptions = {}): Promise<NatsServer> {
  const dir = mkdtempSync(path.join(tmpdir(), 'diffusevae-nats-'));
  const storeDir = opts.jetstream ? path.join(dir, 'jetstream') : undefined;
  const configFile = path.join(dir, 'nats.conf');
  if (opts.config !== undefined) writeFileSync(configFile, opts.config);
  const args = [
    ...(opts.config !== undefined ? ['-c', configFile] : []),
    ...['-a', '127.0.0.1', '-p', '-1'],
    ...(storeDir ? ['-js', '-sd', storeDir] : []),
    ...(opts.args ?? []),
  ];
  const child = spawn(opts.binary ?? 'nats-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const cleanup = async () => {
    await stopChild(child);
    rmSync(dir, { recursive: true, force: true });
  };
  const listening = waitForLine(child, /Listening for client connections on [^:]+:(\d+)/, 10_000, 'nats-server');
  const ready = waitForLine(child, /Server is ready/, 10_000, 'nats-server');
  try {
    const [m] = await Promise.all([listening.ready, ready.ready]);
    const port = Number(m[1]);
    return { url: `nats://127.0.0.1:${port}`, port, pid: child.pid!, ...(storeDir ? { storeDir } : {}), stop: cleanup };
  } catch (e) {
    await cleanup();
    throw e;
  }
}
