/**
 * (b) End to end: nats-server (JetStream), the four services and the gateway, each its own process as the
 * launcher starts them, and a client that sends GraphQL mutations over HTTP and waits for the PNGs. The scale-out
 * stage starts it with several refiner replicas, each pinned to one CPU (taskset -c) with one onnxruntime thread.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { SERVICES as SERVICE_NAMES } from '@diffusevae/contracts';
import { startNatsServer, startService, type ServiceProcess } from '@diffusevae/testing';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { cpuMs, peakRssMb } from './proc.js';

const SERVICES = ['encoder', 'vae-decoder', 'scheduler'] as const;
const GENERATE = `mutation($input: GenerateInput!) { generate(input: $input) { status images { png } } }`;

export interface Cluster {
  /** one job of `batch` images at one step, and as many single-image jobs at once: warms every process up */
  warmUp(batch: number): Promise<void>;
  /** one generation job of `batch` images, request to reply, ms */
  once(batch: number): Promise<number>;
  /** `jobs` single-image jobs at once: wall time of the round and each job's latency, ms */
  concurrentOnce(jobs: number): Promise<{ wallMs: number; latenciesMs: number[] }>;
  /** peak RSS of each process so far, MB */
  memory(): Record<string, number>;
  /** CPU time of each process so far (nats-server included), ms */
  cpu(): Record<string, number>;
  /** the refiners' time in onnxruntime runs so far (busyMs of their $SRV.STATS, every replica), ms */
  refinerBusyMs(): Promise<number>;
  /** the scheduler's $SRV.STATS data: its batcher's counters and `routing` (the ε router's) */
  schedulerStats(): Promise<SchedulerStats>;
  /** waits until the scheduler routes ε calls over `n` refiner replicas (it looks them up every few seconds) */
  routingOver(n: number, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

export interface SchedulerStats {
  ticks: number;
  imageSteps: number;
  epsRetries: number;
  routing?: { instances: number; routedCalls: number; parts: number; queueCalls: number; fallbacks: number; drops: number };
}

export interface ClusterOptions {
  modelDir: string;
  /** ORT_THREADS of every service (0: every core), the refiners' too unless they are pinned */
  threads: number;
  sampler: string;
  steps: number;
  /** refiner replicas (default 1); their processes are `refiner`, or `refiner 1`, `refiner 2`, … */
  refiners?: number;
  /**
   * pins refiner i to CPU refinerCpus[i] (`taskset -c`, from its start), with ORT_THREADS=1: one core each. The
   * other processes are not pinned
   */
  refinerCpus?: readonly number[];
}

export async function startCluster(opts: ClusterOptions): Promise<Cluster> {
  const replicas = opts.refiners ?? 1;
  const cpus = opts.refinerCpus;
  if (cpus && cpus.length < replicas) throw new Error(`${replicas} refiners need ${replicas} CPUs to be pinned to, got ${cpus.join(',')}`);
  const refinerNames = Array.from({ length: replicas }, (_, i) => (replicas === 1 ? 'refiner' : `refiner ${i + 1}`));
  const nats = await startNatsServer({ jetstream: true });
  const procs: Record<string, ServiceProcess> = {};
  try {
    const env = {
      NATS_URL: nats.url,
      MODEL_DIR: path.resolve(opts.modelDir),
      ORT_THREADS: String(opts.threads),
      // the bench's biggest request must not hit the per-request limit
      MAX_IMAGE_STEPS: String(Math.max(16_384, 256 * opts.steps)),
    };
    const start = (s: string, extra: Record<string, string> = {}, prefix: string[] = []) => startService(`services/${s}/src/main.ts`, { ...env, ...extra }, { timeoutMs: 180_000, prefix });
    const started = await Promise.allSettled([
      ...SERVICES.map((s) => start(s)),
      ...refinerNames.map((_, i) => (cpus ? start('refiner', { ORT_THREADS: '1' }, ['taskset', '-c', String(cpus[i])]) : start('refiner'))),
    ]);
    // the ones that did start are stopped below when another did not
    [...SERVICES, ...refinerNames].forEach((s, i) => {
      const r = started[i]!;
      if (r.status === 'fulfilled') procs[s] = r.value;
    });
    const failed = started.find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;
    if (cpus) {
      refinerNames.forEach((name, i) => {
        const allowed = cpusAllowed(procs[name]!.pid);
        if (allowed !== String(cpus[i])) throw new Error(`${name} (pid ${procs[name]!.pid}) runs on CPUs ${allowed}, not ${cpus[i]}: is taskset there?`);
      });
    }
    procs.gateway = await startService('services/gateway/src/main.ts', { ...env, PORT: '0', HOST: '127.0.0.1', AUTH: 'none' }, { timeoutMs: 180_000 });
  } catch (e) {
    await Promise.all(Object.values(procs).map((p) => p.stop()));
    await nats.stop();
    throw e;
  }
  const url = procs.gateway.output().match(/ready on (http\S+)/)![1]!;
  const nc: NatsConnection = await connect({ servers: nats.url });
  let seed = 1;
  const generate = async (count: number, steps: number) => {
    const input = { count, seed: seed++, sampler: { kind: opts.sampler, steps, timestepSpacing: 'LEADING', ...(opts.sampler === 'DDIM' ? { eta: 0 } : {}) } }; // as raw.ts and the PyTorch loop
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: GENERATE, variables: { input } }) });
    const body = (await res.json()) as { data?: { generate: { images: unknown[] } }; errors?: { message: string }[] };
    if (body.errors || body.data?.generate.images.length !== count) throw new Error(`generate failed: ${JSON.stringify(body.errors ?? body)}`);
  };
  const timedGenerate = async (count: number) => {
    const t0 = performance.now();
    await generate(count, opts.steps);
    return performance.now() - t0;
  };
  const schedulerStats = async (): Promise<SchedulerStats> =>
    (await nc.request(`$SRV.STATS.${SERVICE_NAMES.scheduler.name}`, undefined, { timeout: 10_000 })).json<{ endpoints: { data: SchedulerStats }[] }>().endpoints[0]!.data;
  return {
    async warmUp(batch) {
      await generate(batch, 1);
      await Promise.all(Array.from({ length: batch }, () => generate(1, 1)));
    },
    once: timedGenerate,
    async concurrentOnce(jobs) {
      const t0 = performance.now();
      const latenciesMs = await Promise.all(Array.from({ length: jobs }, () => timedGenerate(1)));
      return { wallMs: performance.now() - t0, latenciesMs };
    },
    memory: () => Object.fromEntries(Object.entries(procs).map(([name, p]) => [name, peakRssMb(p.pid)])),
    async refinerBusyMs() {
      // every replica answers; each endpoint of one replica (the queue group's, its own) carries the same counters
      let busy = 0;
      let answers = 0;
      const replies = await nc.requestMany(`$SRV.STATS.${SERVICE_NAMES.refiner.name}`, undefined, { strategy: 'count', maxMessages: replicas, maxWait: 10_000 });
      for await (const m of replies) {
        busy += m.json<{ endpoints: { data: { busyMs: number } }[] }>().endpoints[0]!.data.busyMs;
        answers++;
      }
      if (answers !== replicas) throw new Error(`${answers} of ${replicas} refiners answered $SRV.STATS`);
      return busy;
    },
    schedulerStats,
    async routingOver(n, timeoutMs = 30_000) {
      const end = Date.now() + timeoutMs;
      for (;;) {
        const known = (await schedulerStats()).routing?.instances ?? 0;
        if (known >= n) return;
        if (Date.now() > end) throw new Error(`the scheduler routes over ${known} refiners, not ${n}, after ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 200));
      }
    },
    cpu: () => ({ ...Object.fromEntries(Object.entries(procs).map(([name, p]) => [name, cpuMs(p.pid)])), 'nats-server': cpuMs(nats.pid) }),
    async stop() {
      await nc.close();
      await procs.gateway!.stop();
      await Promise.all([...SERVICES, ...refinerNames].map((s) => procs[s]!.stop()));
      await nats.stop();
    },
  };
}

/** The CPUs a process may run on, as /proc says (`0`, `0-1`, …). */
function cpusAllowed(pid: number): string {
  return readFileSync(`/proc/${pid}/status`, 'utf8').match(/^Cpus_allowed_list:\s*(\S+)/m)?.[1] ?? '?';
}
