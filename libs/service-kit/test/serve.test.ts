import { PlatformError, SERVICES, float32, type TensorMap } from '@diffusevae/contracts';
import { parsePrometheusText, sampleValue, startNatsServer, type NatsServer } from '@diffusevae/testing';
import { Svcm, type ServiceStats } from '@nats-io/services';
import { connect, headers, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { LogCapture, Metrics, callService, createLogger, serve, type EndpointHandler, type Served } from '../src/index.js';

let ns: NatsServer;
let nc: NatsConnection;
let served: Served;
const logged = new LogCapture();
const log = createLogger({ service: 'encoder', replica: 'test', level: 'error', stacks: true, destination: logged });
let release: () => void = () => {};
let gate = new Promise<void>((r) => (release = r));

const double: EndpointHandler = async ({ tensors }) => {
  const x = tensors.x!;
  return { y: float32((x.data as Float32Array).map((v) => 2 * v), x.shape) };
};
const endpoints = [
  { name: 'double', subject: 'test.double', handler: double },
  { name: 'wait', subject: 'test.wait', handler: async (): Promise<TensorMap> => (await gate, {}) },
  { name: 'refuse', subject: 'test.refuse', handler: async (): Promise<TensorMap> => { throw PlatformError.badInput('x', 'is not welcome\nhere'); } },
  { name: 'full', subject: 'test.full', handler: async (): Promise<TensorMap> => { throw new PlatformError('RESOURCE_EXHAUSTED', 'queue full', undefined, 1500); } },
  { name: 'crash', subject: 'test.crash', handler: async (): Promise<TensorMap> => { throw new Error('secret internals'); } },
  { name: 'huge', subject: 'test.huge', handler: async () => ({ y: float32(new Float32Array(300_000), [300_000]) }) },
  { name: 'slow', subject: 'test.slow', handler: async (): Promise<TensorMap> => (await new Promise((r) => setTimeout(r, 25)), {}) },
];
const metrics = new Metrics({ defaults: false });
metrics.url = 'http://replica.example:9464/metrics';
const x = float32(Float32Array.from([1, -2.5, 3]), [3]);
const code = (p: Promise<unknown>) => p.then(() => 'resolved', (e: PlatformError) => e.code);

beforeAll(async () => {
  ns = await startNatsServer();
  nc = await connect({ servers: ns.url });
  served = await serve(nc, { key: 'encoder', endpoints, stats: () => ({ answer: 42 }), log, metrics });
});
afterAll(async () => {
  release();
  await nc?.close();
  await ns?.stop();
});

describe('serve + callService', () => {
  it('answers with tensors', async () => {
    const out = await callService(nc, 'test.double', { x }, { seed: 1 }, { timeoutMs: 5000 });
    expect(Array.from(out.y!.data)).toEqual([2, -5, 6]);
  });

  it('returns a PlatformError with its code, field and whole message, and keeps serving', async () => {
    const err = await callService(nc, 'test.refuse', { x }, undefined, { timeoutMs: 5000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PlatformError);
    expect(err).toMatchObject({ code: 'BAD_USER_INPUT', field: 'x', message: 'x: is not welcome\nhere' });
    await expect(callService(nc, 'test.double', { x }, undefined, { timeoutMs: 5000 })).resolves.toBeDefined();
  });

  it('carries the retry hint of RESOURCE_EXHAUSTED', async () => {
    const err = await callService(nc, 'test.full', { x }, undefined, { timeoutMs: 5000 }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'RESOURCE_EXHAUSTED', message: 'queue full', retryAfterMs: 1500 });
  });

  it('turns an unexpected error into a generic 500, logs the stack, and keeps serving', async () => {
    const raw = await nc.request('test.crash', new Uint8Array(), { timeout: 5000 });
    expect(raw.headers?.get('Nats-Service-Error-Code')).toBe('500');
    const err = (await callService(nc, 'test.crash', {}, undefined, { timeoutMs: 5000 }).catch((e: unknown) => e)) as PlatformError;
    expect(err.code).toBe('INTERNAL_SERVER_ERROR');
    expect(err.message).not.toContain('secret');
    // the log has what the caller does not: the error itself, with its stack
    const lines = logged.find({ msg: 'crash: unexpected error' });
    expect(lines.length).toBeGreaterThanOrEqual(1);
    expect(lines[0]).toMatchObject({ level: 'error', service: 'encoder', endpoint: 'crash', err: { type: 'Error', message: 'secret internals', stack: expect.stringContaining('Error: secret internals') } });
    await expect(callService(nc, 'test.double', { x }, undefined, { timeoutMs: 5000 })).resolves.toBeDefined();
  });

  it('rejects a malformed message as BAD_USER_INPUT', async () => {
    const h = headers();
    h.set('Diffusevae-Tensors', 'x:float32:4');
    const raw = await nc.request('test.double', new Uint8Array(3), { timeout: 5000, headers: h });
    expect(raw.headers?.get('Diffusevae-Error-Code')).toBe('BAD_USER_INPUT');
    expect(raw.headers?.get('Diffusevae-Error-Field')).toBe('message');
  });

  it('refuses a reply over max_payload instead of failing silently', async () => {
    const err = (await callService(nc, 'test.huge', {}, undefined, { timeoutMs: 5000 }).catch((e: unknown) => e)) as PlatformError;
    expect(err.code).toBe('BAD_USER_INPUT');
    expect(err.message).toMatch(/max_payload/);
  });

  it('handles requests concurrently', async () => {
    const waiting = [1, 2, 3].map(() => callService(nc, 'test.wait', {}, undefined, { timeoutMs: 5000 }));
    await vi.waitFor(() => expect(served.inFlight).toBe(3));
    release();
    await Promise.all(waiting);
    gate = new Promise<void>((r) => (release = r));
  });

  it('answers DEADLINE_EXCEEDED when the service is too slow', async () => {
    await expect(code(callService(nc, 'test.wait', {}, undefined, { timeoutMs: 200 }))).resolves.toBe('DEADLINE_EXCEEDED');
  });

  it('answers SERVICE_UNAVAILABLE at once when nothing listens', async () => {
    const t0 = Date.now();
    const err = (await callService(nc, 'diffusevae.refiner.eps', {}, undefined, { timeoutMs: 10_000 }).catch((e: unknown) => e)) as PlatformError;
    expect(err.code).toBe('SERVICE_UNAVAILABLE');
    expect(err.message).toMatch(/^no diffusevae-refiner replica is running/);
    expect(Date.now() - t0).toBeLessThan(1000);
  });

  it('is a micro service: $SRV.PING and $SRV.STATS with the extra stats', async () => {
    const client = new Svcm(nc as never).client();
    const pings = [];
    for await (const p of await client.ping(SERVICES.encoder.name)) pings.push(p);
    expect(pings.map((p) => p.name)).toEqual([SERVICES.encoder.name]);
    const stats = [];
    for await (const s of await client.stats(SERVICES.encoder.name)) stats.push(s);
    const double = stats[0]!.endpoints!.find((e) => e.name === 'double')!;
    expect(double.num_requests).toBeGreaterThan(0);
    expect(double.queue_group).toBe('diffusevae');
    expect(double.data).toEqual({ answer: 42 });
  });

  it('$SRV.STATS times the handler’s whole async work: a 25 ms handler averages ≥ 20 ms', async () => {
    for (let i = 0; i < 3; i++) await callService(nc, 'test.slow', {}, undefined, { timeoutMs: 5000 });
    const stats = (await nc.request(`$SRV.STATS.${SERVICES.encoder.name}`)).json<ServiceStats>();
    const slow = stats!.endpoints!.find((e) => e.name === 'slow')!;
    expect(slow.num_requests).toBe(3);
    expect(slow.average_processing_time).toBeGreaterThanOrEqual(20_000_000); // nanoseconds
    expect(slow.processing_time).toBeGreaterThanOrEqual(60_000_000);
    expect(slow.average_processing_time).toBe(Math.round(slow.processing_time / 3));
    // failures answered with an error count as errors, with the last one's status and message
    const refuse = stats!.endpoints!.find((e) => e.name === 'refuse')!;
    expect(refuse).toMatchObject({ num_requests: 1, num_errors: 1, last_error: '400: x: is not welcome here' });
  });

  it('puts the metrics URL in $SRV.INFO and counts requests by endpoint and outcome', async () => {
    const info = (await nc.request(`$SRV.INFO.${SERVICES.encoder.name}`)).json<{ metadata: Record<string, string> }>();
    expect(info.metadata).toEqual({ pid: String(process.pid), host: expect.any(String), metrics_url: 'http://replica.example:9464/metrics' });
    const f = parsePrometheusText((await metrics.scrape()).body);
    expect(sampleValue(f, 'diffusevae_requests_total', { endpoint: 'slow', outcome: 'ok' })).toBe(3);
    expect(sampleValue(f, 'diffusevae_requests_total', { endpoint: 'refuse', outcome: 'BAD_USER_INPUT' })).toBe(1);
    expect(sampleValue(f, 'diffusevae_requests_total', { endpoint: 'crash', outcome: 'INTERNAL_SERVER_ERROR' })).toBe(2);
    expect(sampleValue(f, 'diffusevae_request_duration_seconds_count', { endpoint: 'slow' })).toBe(3);
    expect(sampleValue(f, 'diffusevae_request_duration_seconds_sum', { endpoint: 'slow' })).toBeGreaterThanOrEqual(0.06);
    expect(sampleValue(f, 'diffusevae_request_duration_seconds_bucket', { endpoint: 'slow', le: '0.01' })).toBe(0);
    expect(sampleValue(f, 'diffusevae_requests_in_flight', { endpoint: 'slow' })).toBe(0);
  });

  it('stop() lets requests in flight finish, then stops listening', async () => {
    const inFlight = callService(nc, 'test.wait', {}, undefined, { timeoutMs: 5000 });
    await vi.waitFor(() => expect(served.inFlight).toBe(1));
    const stopped = served.stop();
    release();
    await expect(inFlight).resolves.toEqual({});
    await stopped;
    await expect(code(callService(nc, 'test.double', { x }, undefined, { timeoutMs: 5000 }))).resolves.toBe('SERVICE_UNAVAILABLE');
  });
});
