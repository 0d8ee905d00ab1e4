import { SERVICES } from '@diffusevae/contracts';
import { ModelSet } from '@diffusevae/models';
import { refineWith } from '@diffusevae/pipeline';
import { DEFAULT_SAMPLER, type SamplerSettings } from '@diffusevae/schedulers';
import { ConfigError, ROUTER_DEFAULTS, loadConfig, natsStages, type RouterStats } from '@diffusevae/service-kit';
import { Tensor } from '@diffusevae/tensor';
import { startNatsServer, startService, type NatsServer, type ServiceProcess } from '@diffusevae/testing';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { routingConfig } from '../src/routing.js';

describe('routingConfig', () => {
  it('defaults to least-outstanding routing with the router’s defaults', () => {
    expect(routingConfig({})).toEqual({ mode: 'least-outstanding', ...ROUTER_DEFAULTS });
    expect(routingConfig({ EPS_ROUTING: 'queue-group', EPS_MIN_PART: '4', EPS_DISCOVERY_MS: '500' })).toMatchObject({ mode: 'queue-group', minPart: 4, discoveryMs: 500 });
  });

  it.each([
    [{ EPS_ROUTING: 'random' }, /^EPS_ROUTING: must be one of least-outstanding, queue-group/],
    [{ EPS_MIN_PART: '0' }, /^EPS_MIN_PART: must be an integer in \[1, 65536\]/],
    [{ EPS_DISCOVERY_MS: '10' }, /^EPS_DISCOVERY_MS: must be an integer in \[100, 3600000\]/],
  ])('refuses %j naming the variable', (env, message) => {
    expect(() => routingConfig(env)).toThrow(ConfigError);
    expect(() => routingConfig(env)).toThrow(message);
  });
});

// Process-level: nats-server, TWO refiner processes and a scheduler process; the bytes are checked against
// refineWith on the in-process model.
let ns: NatsServer;
let nc: NatsConnection;
let scheduler: ServiceProcess;
let refiners: ServiceProcess[] = [];
let models: ModelSet;
const env = () => ({ NATS_URL: ns.url, ORT_THREADS: '1', CHECKPOINT_INTERVAL_MS: '0' });
const schedulerEnv = () => ({ ...env(), EPS_DISCOVERY_MS: '300', EPS_TIMEOUT_MS: '3000' });
const cond = (n: number) => new Tensor(Float32Array.from({ length: n * 784 }, (_, i) => Math.tanh(Math.cos(i * 0.07))), [n, 1, 28, 28]);
const stages = () => natsStages(nc, { set: models.name, imageShape: models.imageShape, timeoutMs: 30_000, refineTimeoutMs: 120_000 });
const same = (a: Tensor, b: Tensor) => Buffer.from(a.data.buffer, a.data.byteOffset, a.data.byteLength).equals(Buffer.from(b.data.buffer, b.data.byteOffset, b.data.byteLength));

interface ReplicaStats {
  direct: number;
  queue: number;
  busyMs: number;
}

/** each refiner replica's requests on its own subject and on the queue group's, and its time in onnxruntime */
async function refinerStats(): Promise<Map<string, ReplicaStats>> {
  const out = new Map<string, ReplicaStats>();
  type Stats = { id: string; endpoints: { name: string; num_requests: number; data: { busyMs: number } }[] };
  for await (const m of await nc.requestMany(`$SRV.STATS.${SERVICES.refiner.name}`, undefined, { strategy: 'timer', maxWait: 1000 })) {
    const s = m.json<Stats>();
    const ep = (name: string) => s.endpoints.find((e) => e.name === name)!;
    out.set(s.id, { direct: ep('eps-direct-fmnist').num_requests, queue: ep('eps-fmnist').num_requests, busyMs: ep('eps-fmnist').data.busyMs });
  }
  return out;
}

async function schedulerStats(): Promise<{ epsRetries: number; routing: RouterStats }> {
  const s = (await nc.request(`$SRV.STATS.${SERVICES.scheduler.name}`, undefined, { timeout: 5000 })).json<{ endpoints: { data: { epsRetries: number; routing: RouterStats } }[] }>();
  return s.endpoints[0]!.data;
}

beforeAll(async () => {
  ns = await startNatsServer();
  nc = await connect({ servers: ns.url });
  [scheduler, models, ...refiners] = await Promise.all([
    startService('services/scheduler/src/main.ts', schedulerEnv()),
    ModelSet.load(loadConfig().modelDir, ['refiner'], { intraOpThreads: 1 }),
    startService('services/refiner/src/main.ts', env()),
    startService('services/refiner/src/main.ts', env()),
  ]);
  // the scheduler finds both (it looks every EPS_DISCOVERY_MS)
  for (let i = 0; i < 100 && (await schedulerStats()).routing.instances < 2; i++) await new Promise((r) => setTimeout(r, 100));
});
afterAll(async () => {
  await Promise.all([scheduler?.stop(), ...refiners.map((r) => r.stop())]);
  await models?.release();
  await nc?.close();
  await ns?.stop();
});

describe('scheduler with two refiner replicas (process-level)', () => {
  it('splits each tick of a big batch over both replicas, on their own subjects, with refineWith’s bytes', async () => {
    expect((await schedulerStats()).routing.instances).toBe(2);
    const before = await refinerStats();
    expect(before.size).toBe(2);
    const sampler: SamplerSettings = { ...DEFAULT_SAMPLER, steps: 4 };
    const remote = await stages().refine(cond(24), { seed: 99, sampler });
    const local = await refineWith((x, t, c) => models.eps(x, t, c), cond(24), { seed: 99, sampler });
    expect(same(remote, local)).toBe(true);

    const after = await refinerStats();
    for (const [id, s] of after) {
      // one part of 12 per tick on each replica's own subject, none through the queue group
      expect(s.direct - before.get(id)!.direct, id).toBe(4);
      expect(s.queue - before.get(id)!.queue, id).toBe(0);
      expect(s.busyMs, id).toBeGreaterThan(before.get(id)!.busyMs);
    }
    expect((await schedulerStats()).routing).toMatchObject({ instances: 2, fallbacks: 0 });
  });

  it('loses no call when a replica is killed mid-stream: its part goes to the queue group, the result is unchanged', async () => {
    const sampler: SamplerSettings = { ...DEFAULT_SAMPLER, steps: 12 };
    const victim = refiners[1]!;
    let killed: Promise<void> | undefined;
    const remote = await stages().refine(cond(24), {
      seed: 7,
      sampler,
      onStep: (s) => void (s.stepIndex === 3 && (killed ??= victim.kill('SIGKILL'))),
    });
    expect(killed).toBeDefined();
    await killed;
    const local = await refineWith((x, t, c) => models.eps(x, t, c), cond(24), { seed: 7, sampler });
    expect(same(remote, local)).toBe(true);
    const s = await schedulerStats();
    // the router dropped it and sent its part again itself: no tick failed, no refiner call was retried by the batcher
    expect(s.routing.drops).toBeGreaterThanOrEqual(1);
    expect(s.routing.fallbacks).toBeGreaterThanOrEqual(1);
    expect(s.epsRetries).toBe(0);
    expect(scheduler.output()).toMatch(/dropped from routing/);
    // one replica left: the queue group, as before
    expect((await stages().refine(cond(2), { seed: 8, sampler: { ...sampler, steps: 2 } })).shape).toEqual([2, 1, 28, 28]);
    expect((await schedulerStats()).routing.instances).toBe(1);
  });
});
