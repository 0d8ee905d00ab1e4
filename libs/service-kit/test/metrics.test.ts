import { parsePrometheusText, sampleValue } from '@diffusevae/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, Metrics, advertisedHost, gatewayMetrics, loadConfig, refinerMetrics, requestMetrics, schedulerMetrics, startProbeServer, type ProbeServer } from '../src/index.js';

describe('Metrics', () => {
  it('collects the Node.js defaults and labels every sample of the registry', async () => {
    const m = new Metrics({ labels: { service: 'refiner' } });
    const f = parsePrometheusText((await m.scrape()).body);
    expect(f.get('process_cpu_seconds_total')?.type).toBe('counter');
    expect(f.get('nodejs_eventloop_lag_seconds')?.type).toBe('gauge');
    expect(f.get('process_cpu_seconds_total')!.samples[0]!.labels).toEqual({ service: 'refiner' });
  });

  it('returns the metric already registered under a name instead of failing', () => {
    const m = new Metrics({ defaults: false });
    expect(requestMetrics(m).requests).toBe(requestMetrics(m).requests);
    expect(m.counter('x_total', 'x')).toBe(m.counter('x_total', 'x'));
  });

  it('every platform metric follows the conventions: diffusevae_ prefix, _total counters, _seconds for time', async () => {
    const m = new Metrics({ defaults: false });
    requestMetrics(m);
    refinerMetrics(m);
    schedulerMetrics(m, () => ({ active: 2, queued: 1 })).tick({ ms: 12, samples: 8, jobs: 3, ok: true });
    gatewayMetrics(m, { queueDepth: async () => 5, running: () => 4 });
    const f = parsePrometheusText((await m.scrape()).body);
    for (const fam of f.values()) {
      expect(fam.name).toMatch(/^diffusevae_[a-z_]+$/);
      expect(fam.help).not.toBe('');
      if (fam.type === 'counter') expect(fam.name).toMatch(/_total$/);
      else expect(fam.name).not.toMatch(/_total$/);
      if (/duration/.test(fam.name)) expect(fam.name).toMatch(/_seconds$/);
    }
    expect(sampleValue(f, 'diffusevae_scheduler_tick_duration_seconds_sum')).toBeCloseTo(0.012);
    expect(sampleValue(f, 'diffusevae_scheduler_tick_samples_sum')).toBe(8);
    expect(sampleValue(f, 'diffusevae_scheduler_tick_jobs_count')).toBe(1);
    expect(sampleValue(f, 'diffusevae_scheduler_image_steps_total')).toBe(8);
    expect(sampleValue(f, 'diffusevae_scheduler_active_jobs')).toBe(2);
    expect(sampleValue(f, 'diffusevae_scheduler_queued_jobs')).toBe(1);
    expect(sampleValue(f, 'diffusevae_queue_depth')).toBe(5);
    expect(sampleValue(f, 'diffusevae_jobs_running')).toBe(4);
  });

  it('a failed tick counts as one, with its duration, and adds no image-steps', async () => {
    const m = new Metrics({ defaults: false });
    schedulerMetrics(m).tick({ ms: 5, samples: 8, jobs: 2, ok: false });
    const f = parsePrometheusText((await m.scrape()).body);
    expect(sampleValue(f, 'diffusevae_scheduler_failed_ticks_total')).toBe(1);
    expect(sampleValue(f, 'diffusevae_scheduler_tick_duration_seconds_count')).toBe(1);
    expect(sampleValue(f, 'diffusevae_scheduler_image_steps_total')).toBe(0);
    expect(sampleValue(f, 'diffusevae_scheduler_tick_samples_count')).toBe(0);
  });
});

describe('advertisedHost', () => {
  type Interfaces = NonNullable<Parameters<typeof advertisedHost>[1]>;
  const lo = [{ address: '127.0.0.1', family: 'IPv4', internal: true }];
  const ifaces = {
    lo,
    eth0: [
      { address: 'fe80::1', family: 'IPv6', internal: false },
      { address: '10.1.2.3', family: 'IPv4', internal: false },
    ],
  } as unknown as Interfaces;
  it('is the bound host when it is a specific one (IPv6 in brackets)', () => {
    expect(advertisedHost('127.0.0.1', ifaces)).toBe('127.0.0.1');
    expect(advertisedHost('metrics.local', ifaces)).toBe('metrics.local');
    expect(advertisedHost('::1', ifaces)).toBe('[::1]');
  });
  it('is the first non-internal IPv4 address when bound to every interface, else 127.0.0.1', () => {
    for (const h of [undefined, '', '0.0.0.0', '::']) expect(advertisedHost(h, ifaces)).toBe('10.1.2.3');
    expect(advertisedHost(undefined, { lo } as unknown as Interfaces)).toBe('127.0.0.1');
  });
});

describe('METRICS_PORT and METRICS_HOST', () => {
  it('default to a free port on every interface', () => {
    expect(loadConfig({}).metrics).toEqual({ port: 0 });
    expect(loadConfig({ METRICS_PORT: '9464', METRICS_HOST: ' 127.0.0.1 ' }).metrics).toEqual({ port: 9464, host: '127.0.0.1' });
  });
  it.each([
    [{ METRICS_PORT: '70000' }, 'METRICS_PORT', /must be an integer in \[0, 65535\]/],
    [{ METRICS_PORT: 'x' }, 'METRICS_PORT', /must be an integer/],
    [{ METRICS_HOST: 'http://a:1' }, 'METRICS_HOST', /must be a host name or an IP address/],
  ])('%j is refused naming %s', (env, variable, message) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(expect.objectContaining({ variable, message: expect.stringMatching(message) }));
  });
});

describe('startProbeServer', () => {
  let server: ProbeServer;
  let why: string | undefined = 'starting';
  const metrics = new Metrics({ defaults: false });
  metrics.counter('diffusevae_test_total', 'a test counter').inc(3);
  afterAll(() => server?.close());

  it('serves /metrics in the Prometheus text format, /livez, and /readyz with the reason it is not ready', async () => {
    server = await startProbeServer({ metrics, port: 0, host: '127.0.0.1', unready: () => why });
    expect(server.url).toBe(`http://127.0.0.1:${server.port}/metrics`);
    const r = await fetch(server.url);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(sampleValue(parsePrometheusText(await r.text()), 'diffusevae_test_total')).toBe(3);
    const base = server.url.replace(/\/metrics$/, '');
    expect(await (await fetch(`${base}/livez`)).json()).toEqual({ status: 'ok' });
    const unready = await fetch(`${base}/readyz`);
    expect([unready.status, await unready.json()]).toEqual([503, { status: 'unready', reason: 'starting' }]);
    why = undefined;
    const ready = await fetch(`${base}/readyz`);
    expect([ready.status, await ready.json()]).toEqual([200, { status: 'ready' }]);
    expect((await fetch(`${base}/other`)).status).toBe(404);
    expect((await fetch(server.url, { method: 'POST' })).status).toBe(405);
  });

  it('a port in use fails to start', async () => {
    await expect(startProbeServer({ metrics, port: server.port, host: '127.0.0.1', unready: () => undefined })).rejects.toThrow(/EADDRINUSE/);
  });
});
