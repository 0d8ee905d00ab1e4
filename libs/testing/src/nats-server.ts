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
  /** everything the server logged so far (stdout and stderr), across restarts: e.g. its "Publish Violation" lines */
  output(): string;
  /**
   * Kills the server (SIGKILL: as a crash would), waits `downMs`, and starts it again on the same port with the
   * same configuration and JetStream storage; resolves once it is ready again. Clients reconnect on their own.
   */
  restart(downMs?: number): Promise<void>;
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
  const launch = async (port: number | '-1') => {
    const child = spawn(opts.binary ?? 'nats-server', [...args.slice(0, args.indexOf('-p') + 1), String(port), ...args.slice(args.indexOf('-p') + 2)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const listening = waitForLine(child, /Listening for client connections on [^:]+:(\d+)/, 10_000, 'nats-server');
    const ready = waitForLine(child, /Server is ready/, 10_000, 'nats-server');
    try {
      const [m] = await Promise.all([listening.ready, ready.ready]);
      return { child, port: Number(m[1]), output: listening.output };
    } catch (e) {
      await stopChild(child);
      throw e;
    }
  };
  let current: Awaited<ReturnType<typeof launch>>;
  try {
    current = await launch('-1');
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  const port = current.port;
  let earlier = '';
  const server: NatsServer = {
    url: `nats://127.0.0.1:${port}`,
    port,
    pid: current.child.pid!,
    ...(storeDir ? { storeDir } : {}),
    output: () => earlier + current.output(),
    async restart(downMs = 0) {
      const exited = new Promise((r) => current.child.once('exit', r));
      current.child.kill('SIGKILL');
      await exited;
      earlier += current.output();
      await new Promise((r) => setTimeout(r, downMs));
      current = await launch(port);
      server.pid = current.child.pid!;
    },
    async stop() {
      await stopChild(current.child);
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return server;
}
