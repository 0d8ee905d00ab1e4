/**
 * What operators and Kubernetes ask a process over HTTP: `GET /metrics` (Prometheus text), `GET /livez` (200 while
 * the process serves) and `GET /readyz` (200 when it should take traffic, 503 with a JSON reason otherwise). Each
 * service replica has a small node:http listener for them (METRICS_PORT, METRICS_HOST); the gateway answers the same
 * paths on its own port.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { networkInterfaces } from 'node:os';
import type { NatsConnection } from '@nats-io/transport-node';
import { natsMetrics, type Metrics } from './metrics.js';

/** Why a process should not take traffic now, or undefined when it should. */
export type Unready = () => string | undefined;

function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}

/** GET /metrics: the registry in the Prometheus text format, with its content type. */
export async function sendMetrics(res: http.ServerResponse, metrics: Metrics): Promise<void> {
  try {
    const { contentType, body } = await metrics.scrape();
    res.writeHead(200, { 'content-type': contentType, 'cache-control': 'no-store' });
    res.end(body);
  } catch (e) {
    if (res.headersSent) return void res.end();
    res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
    res.end(`collecting metrics failed: ${(e as Error).message}\n`);
  }
}

/** GET /readyz: 200 `{ status: 'ready' }`, or 503 `{ status: 'unready', reason }`. */
export function sendReadiness(res: http.ServerResponse, why: string | undefined): void {
  sendJson(res, why ? 503 : 200, why ? { status: 'unready', reason: why } : { status: 'ready' });
}

/** GET /livez: 200 while the process answers at all. */
export function sendLiveness(res: http.ServerResponse): void {
  sendJson(res, 200, { status: 'ok' });
}

export interface ProbeServerOptions {
  metrics: Metrics;
  unready: Unready;
  /** METRICS_PORT: 0 picks a free port */
  port: number;
  /** METRICS_HOST: undefined listens on every interface */
  host?: string;
}

export interface ProbeServer {
  /** http://<advertised host>:<port>/metrics */
  url: string;
  port: number;
  close(): Promise<void>;
}

/**
 * The host in a listener's advertised URL: the bound host when it is a specific one, otherwise (every interface)
 * this machine's first non-internal IPv4 address (a pod's IP in Kubernetes), else 127.0.0.1.
 */
export function advertisedHost(host: string | undefined, interfaces: ReturnType<typeof networkInterfaces> = networkInterfaces()): string {
  const wildcard = host === undefined || host === '' || host === '0.0.0.0' || host === '::';
  let h = host ?? '';
  if (wildcard) {
    const external = Object.values(interfaces)
      .flat()
      .find((a) => a && a.family === 'IPv4' && !a.internal);
    h = external?.address ?? '127.0.0.1';
  }
  return h.includes(':') && !h.startsWith('[') ? `[${h}]` : h;
}

/** A node:http listener for /metrics, /livez and /readyz (GET or HEAD); anything else is 404. */
export async function startProbeServer(opts: ProbeServerOptions): Promise<ProbeServer> {
  const server = http.createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    if (!['/metrics', '/livez', '/readyz'].includes(path)) return sendJson(res, 404, { error: `not found: ${path} (use /metrics, /livez or /readyz)` });
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (path === '/livez') return sendLiveness(res);
    if (path === '/readyz') return sendReadiness(res, opts.unready());
    void sendMetrics(res, opts.metrics);
  });
  // a scraper's keep-alive connection must not hold the process open at exit
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.unref();
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://${advertisedHost(opts.host)}:${port}/metrics`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

export interface NatsWatch {
  /** why NATS is not usable now ('NATS disconnected (…); reconnecting'), or undefined while connected */
  unready: Unready;
}

/**
 * Follows the connection's status: readiness (down from a disconnect until the reconnect, with no restart) and the
 * `diffusevae_nats_*` metrics (reconnects, disconnects, connected).
 */
export function watchNats(nc: NatsConnection, metrics: Metrics): NatsWatch {
  const m = natsMetrics(metrics);
  m.connected.set(nc.isClosed() ? 0 : 1);
  let down: string | undefined;
  void (async () => {
    for await (const s of nc.status()) {
      if (s.type === 'disconnect') {
        down = `NATS disconnected (${s.server}); reconnecting`;
        m.disconnects.inc();
        m.connected.set(0);
      } else if (s.type === 'reconnect') {
        down = undefined;
        m.reconnects.inc();
        m.connected.set(1);
      } else if (s.type === 'close') {
        m.connected.set(0);
      }
    }
  })();
  return { unready: () => (nc.isClosed() ? 'NATS connection closed' : down) };
}

/**
 * A service replica's probes: ready once connected to NATS, with its models loaded and verified and its endpoints
 * bound (`ready()`, after the service's main), and while NATS stays connected; unready again when it stops.
 */
export class ServiceProbes {
  private phase: string | undefined = 'starting: connecting to NATS';
  private nats: NatsWatch | undefined;

  private constructor(
    readonly metrics: Metrics,
    private readonly server: ProbeServer,
  ) {
    metrics.url = server.url;
  }

  static async start(metrics: Metrics, listen: { port: number; host?: string }): Promise<ServiceProbes> {
    const self: { probes?: ServiceProbes } = {};
    const server = await startProbeServer({ metrics, ...listen, unready: () => (self.probes ? self.probes.unready() : 'starting') }).catch((e: unknown) => {
      throw new Error(`METRICS_PORT ${listen.port}${listen.host ? ` on METRICS_HOST ${listen.host}` : ''}: ${(e as Error).message}`);
    });
    return (self.probes = new ServiceProbes(metrics, server));
  }

  /** http://host:port/metrics */
  get url(): string {
    return this.server.url;
  }

  /** connected: now loading models and binding endpoints */
  watch(nc: NatsConnection): void {
    this.nats = watchNats(nc, this.metrics);
    this.phase = 'starting: loading and verifying models, binding endpoints';
  }

  ready(): void {
    this.phase = undefined;
  }

  stopping(): void {
    this.phase = 'shutting down';
  }

  unready(): string | undefined {
    return this.phase ?? this.nats?.unready();
  }

  close(): Promise<void> {
    return this.server.close();
  }
}
