import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SERVICES } from '@diffusevae/contracts';
import { parsePrometheusText, sampleValue, startNatsServer, startService, type MetricFamily, type NatsServer, type ServiceProcess } from '@diffusevae/testing';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import type { ServiceStats } from '@nats-io/services';
import { readManifest } from '@diffusevae/models';
import { gql, MODEL_DIR } from './helpers.js';

// Operators' view of the real thing: nats-server, the four services and the gateway as processes; every replica is
// found through $SRV.INFO and scraped over HTTP.
let nats: NatsServer;
let nc: NatsConnection;
const services: Record<string, ServiceProcess> = {};
let gateway: ServiceProcess;
let url: string;
/** service name (diffusevae-refiner, …) → its metrics URL, from $SRV.INFO */
const metricsUrls = new Map<string, string>();
/** the served set's name: each service's endpoint for it is `<endpoint>-<set>` (its $SRV name and metrics label) */
let set: string;

beforeAll(async () => {
  set = (await readManifest(MODEL_DIR)).name;
  nats = await startNatsServer({ jetstream: true });
  const env = { NATS_URL: nats.url, MODEL_DIR, ORT_THREADS: '1', METRICS_HOST: '127.0.0.1' };
  const names = ['encoder', 'vae-decoder', 'refiner', 'scheduler'];
  const started = await Promise.all(names.map((n) => startService(`services/${n}/src/main.ts`, env, { timeoutMs: 120_000 })));
  names.forEach((n, i) => (services[n] = started[i]!));
  gateway = await startService('services/gateway/src/main.ts', { ...env, PORT: '0', HOST: '127.0.0.1', AUTH: 'none' }, { timeoutMs: 120_000 });
  url = gateway.output().match(/ready on (http\S+)/)![1]!;
  nc = await connect({ servers: nats.url });
});

afterAll(async () => {
  await nc?.close();
  await gateway?.stop();
  await Promise.all(Object.values(services).map((s) => s.stop()));
  await nats?.stop();
});

async function scrape(metricsUrl: string): Promise<Map<string, MetricFamily>> {
  const r = await fetch(metricsUrl);
  expect(r.status).toBe(200);
  expect(r.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
  return parsePrometheusText(await r.text());
}

function expectFamilies(f: Map<string, MetricFamily>, types: Record<string, MetricFamily['type']>): void {
  for (const [name, type] of Object.entries(types)) expect(f.get(name)?.type, name).toBe(type);
}

const COMMON = {
  diffusevae_nats_reconnects_total: 'counter',
  diffusevae_nats_connected: 'gauge',
  process_cpu_seconds_total: 'counter',
  nodejs_heap_size_used_bytes: 'gauge',
} as const;
const SERVED = { ...COMMON, diffusevae_requests_total: 'counter', diffusevae_request_duration_seconds: 'histogram', diffusevae_requests_in_flight: 'gauge' } as const;

describe('metrics and probes of every process', () => {
  it('finds every service replica through $SRV.INFO, with a metrics URL that answers /metrics, /livez and /readyz', async () => {
    for await (const m of await nc.requestMany('$SRV.INFO', undefined, { strategy: 'timer', maxWait: 1000 })) {
      const info = m.json<{ name: string; metadata: Record<string, string> }>();
      metricsUrls.set(info.name, info.metadata['metrics_url']!);
      expect(info.metadata['pid']).toBe(String(Object.values(services).find((s) => s.output().includes(info.metadata['metrics_url']!))?.pid));
    }
    expect([...metricsUrls.keys()].sort()).toEqual(Object.values(SERVICES).map((s) => s.name).sort());
    for (const [name, metricsUrl] of metricsUrls) {
      expect(metricsUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
      expectFamilies(await scrape(metricsUrl), SERVED);
      const base = metricsUrl.replace(/\/metrics$/, '');
      expect((await fetch(`${base}/livez`)).status, name).toBe(200);
      expect(await (await fetch(`${base}/readyz`)).json(), name).toEqual({ status: 'ready' });
    }
    expectFamilies(await scrape(metricsUrls.get(SERVICES.refiner.name)!), {
      diffusevae_refiner_batch_size: 'histogram',
      diffusevae_refiner_batch_requests: 'histogram',
      diffusevae_refiner_onnxruntime_run_duration_seconds: 'histogram',
    });
    expectFamilies(await scrape(metricsUrls.get(SERVICES.scheduler.name)!), {
      diffusevae_scheduler_tick_duration_seconds: 'histogram',
      diffusevae_scheduler_tick_samples: 'histogram',
      diffusevae_scheduler_tick_jobs: 'histogram',
      diffusevae_scheduler_image_steps_total: 'counter',
      diffusevae_scheduler_active_jobs: 'gauge',
    });
    // the gateway's on its own port, next to its probes, without an API key
    expectFamilies(await scrape(url.replace(/\/graphql$/, '/metrics')), {
      ...COMMON,
      diffusevae_jobs_total: 'counter',
      diffusevae_job_duration_seconds: 'histogram',
      diffusevae_job_image_steps_total: 'counter',
      diffusevae_queue_depth: 'gauge',
      diffusevae_jobs_running: 'gauge',
      diffusevae_graphql_operations_total: 'counter',
      diffusevae_graphql_operation_duration_seconds: 'histogram',
    });
  });

  it('after one generate job: the refiner’s batches, the scheduler’s ticks, the requests and the gateway’s job counters count it', async () => {
    const r = await gql(url, `mutation Generate($input: GenerateInput!) { generate(input: $input) { status } }`, { input: { count: 2, seed: 3, sampler: { kind: 'DDIM', steps: 5 } } });
    expect(r.data?.generate).toEqual({ status: 'SUCCEEDED' });

    const refiner = await scrape(metricsUrls.get(SERVICES.refiner.name)!);
    expect(sampleValue(refiner, 'diffusevae_refiner_batch_size_count')).toBeGreaterThan(0);
    expect(sampleValue(refiner, 'diffusevae_refiner_batch_size_sum')).toBeGreaterThanOrEqual(10); // 2 samples × 5 steps
    expect(sampleValue(refiner, 'diffusevae_refiner_onnxruntime_run_duration_seconds_count')).toBeGreaterThan(0);
    expect(sampleValue(refiner, 'diffusevae_requests_total', { endpoint: `eps-${set}`, outcome: 'ok' })).toBeGreaterThanOrEqual(5);

    const scheduler = await scrape(metricsUrls.get(SERVICES.scheduler.name)!);
    expect(sampleValue(scheduler, 'diffusevae_scheduler_tick_duration_seconds_count')).toBeGreaterThanOrEqual(5);
    expect(sampleValue(scheduler, 'diffusevae_scheduler_tick_samples_sum')).toBeGreaterThanOrEqual(10);
    expect(sampleValue(scheduler, 'diffusevae_scheduler_tick_jobs_count')).toBeGreaterThanOrEqual(5);
    expect(sampleValue(scheduler, 'diffusevae_scheduler_image_steps_total')).toBeGreaterThanOrEqual(10);
    expect(sampleValue(scheduler, 'diffusevae_requests_total', { endpoint: `refine-${set}`, outcome: 'ok' })).toBe(1);

    const decoder = await scrape(metricsUrls.get(SERVICES.vaeDecoder.name)!);
    expect(sampleValue(decoder, 'diffusevae_requests_total', { endpoint: `decode-${set}`, outcome: 'ok' })).toBeGreaterThanOrEqual(1);

    const gw = await scrape(url.replace(/\/graphql$/, '/metrics'));
    expect(sampleValue(gw, 'diffusevae_jobs_total', { kind: 'generate', status: 'SUCCEEDED' })).toBe(1);
    expect(sampleValue(gw, 'diffusevae_job_duration_seconds_count', { kind: 'generate', status: 'SUCCEEDED' })).toBe(1);
    expect(sampleValue(gw, 'diffusevae_job_image_steps_total', { kind: 'generate' })).toBe(10);
    expect(sampleValue(gw, 'diffusevae_graphql_operations_total', { operation: 'Generate', type: 'mutation', outcome: 'ok' })).toBe(1);
    expect(sampleValue(gw, 'diffusevae_graphql_operation_duration_seconds_count', { operation: 'Generate', type: 'mutation' })).toBe(1);
    expect(sampleValue(gw, 'diffusevae_queue_depth')).toBe(0);
    expect(sampleValue(gw, 'diffusevae_jobs_running')).toBe(0);

    // $SRV.STATS reports the real processing time: each onnxruntime run lies inside the requests it answers
    const stats = (await nc.request(`$SRV.STATS.${SERVICES.refiner.name}`)).json<ServiceStats>();
    const eps = stats.endpoints!.find((e) => e.name === `eps-${set}`)!;
    const busyMs = (eps.data as { busyMs: number }).busyMs;
    expect(eps.processing_time / 1e6).toBeGreaterThanOrEqual(busyMs);
    expect(eps.average_processing_time / 1e6).toBeGreaterThanOrEqual(busyMs / (eps.data as { runs: number }).runs / 2);
  });

  it('every process’s /readyz is 503 while NATS is down and 200 again once it is back, with no restart', async () => {
    // the four services' listeners (found through $SRV.INFO) and the gateway's own port
    const bases = new Map([...metricsUrls].map(([name, m]) => [name, m.replace(/\/metrics$/, '')]));
    bases.set('gateway', new URL(url).origin);
    const pids = new Map([...Object.values(services), gateway].map((p) => [p, p.pid]));
    const restarted = nats.restart(3000);
    const down = new Map<string, unknown>();
    for (let i = 0; i < 50 && down.size < bases.size; i++) {
      await Promise.all(
        [...bases].filter(([name]) => !down.has(name)).map(async ([name, base]) => {
          const r = await fetch(`${base}/readyz`);
          if (r.status === 503) down.set(name, await r.json());
        }),
      );
      if (down.size < bases.size) await new Promise((res) => setTimeout(res, 100));
    }
    expect([...down.keys()].sort()).toEqual([...bases.keys()].sort());
    for (const [name, body] of down) expect(body, name).toMatchObject({ status: 'unready', reason: expect.stringMatching(/NATS/) });
    expect(down.get(SERVICES.refiner.name)).toEqual({ status: 'unready', reason: expect.stringMatching(/^NATS disconnected \(.+\); reconnecting$/) });
    for (const [name, base] of bases) expect((await fetch(`${base}/livez`)).status, name).toBe(200);
    await restarted;
    const ready = new Set<string>();
    for (let i = 0; i < 150 && ready.size < bases.size; i++) {
      await Promise.all(
        [...bases].filter(([name]) => !ready.has(name)).map(async ([name, base]) => {
          if ((await fetch(`${base}/readyz`)).status === 200) ready.add(name);
        }),
      );
      if (ready.size < bases.size) await new Promise((res) => setTimeout(res, 100));
    }
    expect([...ready].sort()).toEqual([...bases.keys()].sort());
    // the same processes, told of their reconnect
    for (const [p, pid] of pids) expect(p.pid).toBe(pid);
    const refinerBase = bases.get(SERVICES.refiner.name)!;
    const refiner = services['refiner']!;
    expect(refiner.output().match(/metrics on (\S+)/)![1]).toBe(`${refinerBase}/metrics`);
    const f = await scrape(`${refinerBase}/metrics`);
    expect(sampleValue(f, 'diffusevae_nats_reconnects_total')).toBe(1);
    expect(sampleValue(f, 'diffusevae_nats_disconnects_total')).toBe(1);
    expect(sampleValue(f, 'diffusevae_nats_connected')).toBe(1);
  });
});
