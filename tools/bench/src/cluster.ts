/**
 * (b) End to end: nats-server (JetStream), the four services and the gateway, each its own process as the
 * launcher starts them, and a client that sends GraphQL mutations over HTTP and waits for the PNGs.
 */
import path from 'node:path';
import { SERVICES as SERVICE_NAMES } from '@diffusevae/contracts';
import { startNatsServer, startService, type ServiceProcess } from '@diffusevae/testing';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { cpuMs, peakRssMb } from './proc.js';

const SERVICES = ['encoder', 'vae-decoder', 'refiner', 'scheduler'] as const;
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
  /** the refiner's time in onnxruntime runs so far (busyMs of its $SRV.STATS), ms */
  refinerBusyMs(): Promise<number>;
  stop(): Promise<void>;
}

export async function startCluster(opts: { modelDir: string; threads: number; sampler: string; steps: number }): Promise<Cluster> {
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
    const started = await Promise.all(SERVICES.map((s) => startService(`services/${s}/src/main.ts`, env, { timeoutMs: 180_000 })));
    SERVICES.forEach((s, i) => (procs[s] = started[i]!));
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
    const input = { count, seed: seed++, sampler: { kind: opts.sampler, steps, eta: 0 } }; // as raw.ts and the PyTorch loop
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: GENERATE, variables: { input } }) });
    const body = (await res.json()) as { data?: { generate: { images: unknown[] } }; errors?: { message: string }[] };
    if (body.errors || body.data?.generate.images.length !== count) throw new Error(`generate failed: ${JSON.stringify(body.errors ?? body)}`);
  };
  const timedGenerate = async (count: number) => {
    const t0 = performance.now();
    await generate(count, opts.steps);
    return performance.now() - t0;
  };
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
      const stats = (await nc.request(`$SRV.STATS.${SERVICE_NAMES.refiner.name}`)).json<{ endpoints: { data: { busyMs: number } }[] }>();
      return stats.endpoints.reduce((a, e) => a + e.data.busyMs, 0);
    },
    cpu: () => ({ ...Object.fromEntries(Object.entries(procs).map(([name, p]) => [name, cpuMs(p.pid)])), 'nats-server': cpuMs(nats.pid) }),
    async stop() {
      await nc.close();
      await procs.gateway!.stop();
      await Promise.all(SERVICES.map((s) => procs[s]!.stop()));
      await nats.stop();
    },
  };
}
