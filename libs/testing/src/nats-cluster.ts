import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { stopChild, waitForLine } from './child.js';

export interface NatsClusterOptions {
  /** nodes (default 3: the smallest cluster that keeps a quorum of R3 assets with one node down) */
  size?: number;
  /** the binary; default `nats-server` on PATH (Debian: /usr/sbin/nats-server) */
  binary?: string;
  /** --cluster_name (default diffusevae-test) */
  name?: string;
  /** how long start() and restart() wait for the cluster to form and elect a JetStream meta leader (default 30 s) */
  readyTimeoutMs?: number;
}

/** One nats-server of the cluster: its ports stay the same across restarts, and so does its JetStream store. */
export interface NatsNode {
  /** its server_name (-n): n0, n1, …, as JetStream's stream info names leaders and replicas */
  name: string;
  /** its client URL, nats://127.0.0.1:<port> */
  url: string;
  port: number;
  /** where the other nodes route to it (-cluster) */
  clusterPort: number;
  /** its monitoring endpoint (-m): /jsz, /routez, /connz */
  monitorPort: number;
  /** its JetStream store (-sd) */
  storeDir: string;
  /** the process id of its current run; undefined while it is killed */
  pid: number | undefined;
  /** everything it logged so far, across restarts */
  output(): string;
}

export interface NatsCluster {
  readonly nodes: readonly NatsNode[];
  /** every node's client URL */
  readonly urls: string[];
  /** the same, comma-separated: a NATS_URL listing every node */
  readonly url: string;
  /** the index of the node with this server_name (-1 if none) */
  indexOf(serverName: string): number;
  /** the JetStream meta leader's server_name as the running nodes see it; undefined while they do not agree on one */
  metaLeader(): Promise<string | undefined>;
  /**
   * Resolves once every running node routes to every other running one and all of them name the same JetStream
   * meta leader; rejects after `timeoutMs` with what each node reported and logged.
   */
  ready(timeoutMs?: number): Promise<void>;
  /** SIGKILL to node `i` (a crash: no clean shutdown, no leadership handed over); resolves once it is gone */
  kill(i: number): Promise<void>;
  /** starts node `i` again (after kill) on its ports and store; resolves once it has rejoined (ready()) */
  restart(i: number): Promise<void>;
  /** every node's log, for a failing test */
  output(): string;
  /** kills every node and removes their stores; safe to call twice */
  stop(): Promise<void>;
}

/** `n` distinct ports free on 127.0.0.1 now (held together while picked, so no two are the same). */
async function freePorts(n: number): Promise<number[]> {
  const servers: Server[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const s = createServer();
      servers.push(s);
      await new Promise<void>((resolve, reject) => {
        s.once('error', reject);
        s.listen(0, '127.0.0.1', () => resolve());
      });
    }
    return servers.map((s) => (s.address() as { port: number }).port);
  } finally {
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  }
}

interface Monitor {
  /** the node's server id */
  id?: string;
  /** the server ids it has routes to */
  routes: string[];
  leader?: string;
  error?: string;
}

/** What a node reports on its monitoring port: its id, the servers it routes to, and the meta leader it follows. */
async function monitor(node: NatsNode): Promise<Monitor> {
  const get = async <T>(what: string) => {
    const res = await fetch(`http://127.0.0.1:${node.monitorPort}/${what}`, { signal: AbortSignal.timeout(2000) });
    return (await res.json()) as T;
  };
  try {
    const [routez, jsz] = await Promise.all([
      get<{ routes?: { remote_id: string }[] }>('routez'),
      get<{ server_id: string; meta_cluster?: { leader?: string } }>('jsz'),
    ]);
    // nats-server 2.9's /routez names a route by the remote's server id (no server_name)
    const routes = (routez.routes ?? []).map((r) => r.remote_id);
    const leader = jsz.meta_cluster?.leader;
    return { id: jsz.server_id, routes, ...(leader ? { leader } : {}) };
  } catch (e) {
    return { routes: [], error: (e as Error).message };
  }
}

/**
 * A real nats-server cluster with JetStream on 127.0.0.1: `size` nodes (default 3), each with its own server_name
 * (n0, n1, …), client, cluster and monitoring ports (picked free, kept across restarts), JetStream store, and
 * explicit routes to every other node, as a production cluster is configured. start resolves once the cluster
 * has formed and JetStream has a meta leader, so streams with `num_replicas: size` can be created at once.
 */
export async function startNatsCluster(opts: NatsClusterOptions = {}): Promise<NatsCluster> {
  // ports are picked before the servers bind them: another process may take one meanwhile, so try again then
  for (let attempt = 1; ; attempt++) {
    try {
      return await tryStart(opts);
    } catch (e) {
      if (attempt >= 3 || !/address already in use/i.test((e as Error).message)) throw e;
    }
  }
}

async function tryStart(opts: NatsClusterOptions): Promise<NatsCluster> {
  const size = opts.size ?? 3;
  const clusterName = opts.name ?? 'diffusevae-test';
  const readyTimeoutMs = opts.readyTimeoutMs ?? 30_000;
  const dir = mkdtempSync(path.join(tmpdir(), 'diffusevae-nats-cluster-'));
  const ports = await freePorts(3 * size);
  const logs: string[] = Array.from({ length: size }, () => '');
  const children: (ChildProcess | undefined)[] = Array.from({ length: size }, () => undefined);
  const current: ((() => string) | undefined)[] = Array.from({ length: size }, () => undefined);
  const nodes: NatsNode[] = Array.from({ length: size }, (_, i) => {
    const storeDir = path.join(dir, `n${i}`);
    mkdirSync(storeDir);
    return {
      name: `n${i}`,
      url: `nats://127.0.0.1:${ports[3 * i]!}`,
      port: ports[3 * i]!,
      clusterPort: ports[3 * i + 1]!,
      monitorPort: ports[3 * i + 2]!,
      storeDir,
      pid: undefined,
      output: () => logs[i]! + (current[i]?.() ?? ''),
    };
  });

  const launch = async (i: number) => {
    const node = nodes[i]!;
    const routes = nodes.filter((_, j) => j !== i).map((n) => `nats://127.0.0.1:${n.clusterPort}`);
    const args = [
      ...['-a', '127.0.0.1', '-p', String(node.port), '-m', String(node.monitorPort)],
      ...['-n', node.name, '--cluster_name', clusterName, '--cluster', `nats://127.0.0.1:${node.clusterPort}`, '--routes', routes.join(',')],
      ...['-js', '-sd', node.storeDir],
    ];
    const child = spawn(opts.binary ?? 'nats-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const ready = waitForLine(child, /Server is ready/, 10_000, `nats-server ${node.name}`);
    children[i] = child;
    current[i] = ready.output;
    node.pid = child.pid;
    try {
      await ready.ready;
    } catch (e) {
      await kill(i);
      throw e;
    }
  };

  const kill = async (i: number) => {
    const child = children[i];
    if (!child) return;
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await exited;
    }
    logs[i] += current[i]?.() ?? '';
    children[i] = undefined;
    current[i] = undefined;
    nodes[i]!.pid = undefined;
  };

  const running = () => nodes.filter((_, i) => children[i] !== undefined);

  const cluster: NatsCluster = {
    nodes,
    urls: nodes.map((n) => n.url),
    url: nodes.map((n) => n.url).join(','),
    indexOf: (name) => nodes.findIndex((n) => n.name === name),
    async metaLeader() {
      const seen = await Promise.all(running().map(monitor));
      const leaders = new Set(seen.map((m) => m.leader));
      const [leader] = leaders;
      return leaders.size === 1 ? leader : undefined;
    },
    async ready(timeoutMs = readyTimeoutMs) {
      const until = Date.now() + timeoutMs;
      for (;;) {
        const up = running();
        const seen = await Promise.all(up.map(monitor));
        const routed = seen.every((m, k) => seen.every((other, j) => j === k || (other.id !== undefined && m.routes.includes(other.id))));
        const leaders = new Set(seen.map((m) => m.leader));
        if (routed && leaders.size === 1 && !leaders.has(undefined)) return;
        if (Date.now() > until) {
          const state = up.map((n, k) => `${n.name}: ${JSON.stringify(seen[k])}`).join('\n');
          throw new Error(`nats cluster not formed within ${timeoutMs} ms (routes to every running node, one JetStream meta leader):\n${state}\n${cluster.output()}`);
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    kill,
    async restart(i) {
      if (children[i]) throw new Error(`node ${nodes[i]!.name} is running: kill(${i}) first`);
      await launch(i);
      await cluster.ready();
    },
    output: () => nodes.map((n) => `==== nats-server ${n.name} (${n.url})\n${n.output().slice(-6000)}`).join('\n'),
    async stop() {
      await Promise.all(children.map((c) => c && stopChild(c, 2000)));
      children.fill(undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };

  try {
    await Promise.all(nodes.map((_, i) => launch(i)));
    await cluster.ready();
  } catch (e) {
    await Promise.all(nodes.map((_, i) => kill(i)));
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  return cluster;
}
