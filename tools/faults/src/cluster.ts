/**
 * The platform as an operator runs it, for the fault suite: a real nats-server with JetStream on disk (or a
 * cluster of them, see Cluster.on), and replicas of every service and of the gateway, each its own process with
 * default settings. Any process can be killed (kill -9), stopped (SIGTERM) or replaced; GraphQL requests go to
 * whichever gateway is alive.
 */
import { writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { SERVICES } from '@diffusevae/contracts';
import { startNatsServer, startService, type NatsServer, type ServiceProcess } from '@diffusevae/testing';
import { parseLogLines } from '@diffusevae/service-kit';
import { connect, type NatsConnection } from '@nats-io/transport-node';

export const KINDS = ['encoder', 'vae-decoder', 'refiner', 'scheduler', 'gateway'] as const;
export type Kind = (typeof KINDS)[number];

export interface Member {
  kind: Kind;
  label: string;
  proc: ServiceProcess;
  /** its NATS_URL */
  natsUrl: string;
  /** the gateway's GraphQL URL */
  url?: string;
}

const ENTRY: Record<Kind, string> = {
  encoder: 'services/encoder/src/main.ts',
  'vae-decoder': 'services/vae-decoder/src/main.ts',
  refiner: 'services/refiner/src/main.ts',
  scheduler: 'services/scheduler/src/main.ts',
  gateway: 'services/gateway/src/main.ts',
};

const GENERATE = `mutation($input: GenerateInput!) { generate(input: $input) { id status } }`;
const JOB = `query($id: ID!) { job(id: $id) { id status errorCode error attempts createdAt finishedAt progress { step steps } images { png } } }`;

/** A job as JOB reads it. */
export interface JobView {
  id: string;
  status: 'QUEUED' | 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'CANCELLED';
  errorCode: string | null;
  error: string | null;
  attempts: number;
  createdAt: string;
  finishedAt: string | null;
  progress: { step: number; steps: number } | null;
  images: { png: string }[];
}

export interface GqlResult {
  data?: Record<string, unknown> | null;
  errors?: { message: string; extensions?: Record<string, unknown> }[];
}

export interface ClusterOptions {
  modelDir: string;
  /** replicas of each kind */
  replicas: number;
  /** the kinds to run (default KINDS: every service and the gateway) */
  kinds?: readonly Kind[];
  env?: Record<string, string>;
}

/** What runs NATS for the platform: stopped with it. */
interface Nats {
  stop(): Promise<void>;
}

export class Cluster<N extends Nats = NatsServer> {
  readonly members: Member[] = [];
  private counter = 0;

  private constructor(
    readonly nats: N,
    readonly nc: NatsConnection,
    private readonly seeds: readonly string[],
    private readonly env: Record<string, string>,
  ) {}

  /** nats-server, then `replicas` of each service, then `replicas` gateways. */
  static async start(opts: ClusterOptions): Promise<Cluster> {
    const nats = await startNatsServer({ jetstream: true });
    return Cluster.on(nats, [nats.url], opts);
  }

  /**
   * The services, then the gateways, on NATS servers run by the caller (`nats`, stopped by stop()): the n-th
   * process started has NATS_URL `seeds[n % seeds.length]`, so a list of one URL per node of a NATS cluster spreads
   * them over its nodes (a client learns the other nodes from the one it reaches, and fails over to them).
   */
  static async on<N extends Nats>(nats: N, seeds: readonly string[], opts: ClusterOptions): Promise<Cluster<N>> {
    let nc: NatsConnection;
    try {
      nc = await connect({ servers: [...seeds], name: 'diffusevae-faults', maxReconnectAttempts: -1, reconnectTimeWait: 250 });
    } catch (e) {
      await nats.stop();
      throw e;
    }
    // one onnxruntime thread a process: ten processes share two cores
    const c = new Cluster(nats, nc, seeds, { MODEL_DIR: path.resolve(opts.modelDir), ORT_THREADS: '1', ...opts.env });
    const kinds = opts.kinds ?? KINDS;
    try {
      await Promise.all(kinds.filter((k) => k !== 'gateway').flatMap((k) => Array.from({ length: opts.replicas }, () => c.add(k))));
      if (kinds.includes('gateway')) await Promise.all(Array.from({ length: opts.replicas }, () => c.add('gateway')));
    } catch (e) {
      await c.stop();
      throw e;
    }
    return c;
  }

  /** Starts one more replica of `kind` (on the next seed in turn); resolves once it is ready. */
  async add(kind: Kind): Promise<Member> {
    const n = this.counter++;
    const natsUrl = this.seeds[n % this.seeds.length]!;
    const env = { ...this.env, NATS_URL: natsUrl, ...(kind === 'gateway' ? { PORT: '0', HOST: '127.0.0.1', AUTH: 'none' } : {}) };
    const proc = await startService(ENTRY[kind], env, { timeoutMs: 240_000 });
    const member: Member = { kind, label: `${kind}#${n + 1}`, proc, natsUrl };
    if (kind === 'gateway') member.url = proc.output().match(/ready on (http\S+)/)![1]!;
    this.members.push(member);
    return member;
  }

  alive(kind: Kind): Member[] {
    return this.members.filter((m) => m.kind === kind);
  }

  /** Sends `signal` to a member and waits until it is gone; it leaves the cluster. */
  async signal(m: Member, signal: NodeJS.Signals): Promise<void> {
    await m.proc.kill(signal);
    this.members.splice(this.members.indexOf(m), 1);
  }

  /** The gateway whose runner took `jobId` last (its log has the `job started` line with the highest attempt). */
  runnerOf(jobId: string): Member | undefined {
    let best: { m: Member; attempt: number } | undefined;
    for (const g of this.alive('gateway')) {
      for (const line of parseLogLines(g.proc.output())) {
        if (line.msg !== 'job started' || line.job !== jobId || typeof line['attempt'] !== 'number') continue;
        if (!best || line['attempt'] > best.attempt) best = { m: g, attempt: line['attempt'] };
      }
    }
    return best?.m;
  }

  /** The scheduler replica that has reverse processes in flight now (by $SRV.STATS and the pid in $SRV.INFO). */
  async busyScheduler(): Promise<Member | undefined> {
    const name = SERVICES.scheduler.name;
    const pids = new Map<string, string>();
    for await (const m of await this.nc.requestMany(`$SRV.INFO.${name}`, undefined, { maxWait: 500 })) {
      const info = m.json<{ id: string; metadata?: Record<string, string> }>();
      if (info.metadata?.pid) pids.set(info.id, info.metadata.pid);
    }
    for await (const m of await this.nc.requestMany(`$SRV.STATS.${name}`, undefined, { maxWait: 500 })) {
      const stats = m.json<{ id: string; endpoints: { data?: { active?: number } }[] }>();
      if ((stats.endpoints[0]?.data?.active ?? 0) > 0) {
        const pid = Number(pids.get(stats.id));
        return this.alive('scheduler').find((s) => s.proc.pid === pid);
      }
    }
    return undefined;
  }

  /** A `generate` job submitted with `wait: false`: its id (throws with the errors when it is refused). */
  async submit(input: Record<string, unknown>): Promise<string> {
    const r = await this.gql(GENERATE, { input: { ...input, wait: false } });
    if (r.errors) throw new Error(`submit: ${JSON.stringify(r.errors)}`);
    return (r.data!.generate as { id: string }).id;
  }

  /** job(id) with what the suites check; undefined while no gateway can answer (a process restarting, an election). */
  async job(id: string): Promise<JobView | undefined> {
    try {
      const r = await this.gql(JOB, { id });
      return (r.data?.job as JobView | null) ?? undefined;
    } catch {
      return undefined;
    }
  }

  /** A GraphQL request to the first gateway that answers (others may be down). */
  async gql(query: string, variables?: Record<string, unknown>): Promise<GqlResult> {
    let last: unknown;
    for (const g of this.alive('gateway')) {
      try {
        const res = await fetch(g.url!, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ query, variables }),
          // a gateway whose NATS server just died may hold a request for a while: never for ever
          signal: AbortSignal.timeout(60_000),
        });
        return (await res.json()) as GqlResult;
      } catch (e) {
        last = e;
      }
    }
    throw new Error(`no gateway answered: ${String(last)}`);
  }

  /** What every member printed (the last `tailChars` of each), for a failing test. */
  logs(tailChars = 4000): string {
    return this.members.map((m) => `==== ${m.label}\n${m.proc.output().slice(-tailChars)}`).join('\n');
  }

  async stop(): Promise<void> {
    await Promise.all(this.alive('gateway').map((m) => m.proc.stop()));
    await Promise.all(this.members.filter((m) => m.kind !== 'gateway').map((m) => m.proc.stop()));
    await this.nc.close().catch(() => {});
    await this.nats.stop();
  }
}

/** Writes JSON to `file` (relative to the repository root is the caller's business). */
export function writeJson(file: string, value: unknown): void {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(value, null, 2)}\n`);
}
