import { hostname } from 'node:os';
import { SERVICES, float32, setSubject } from '@diffusevae/contracts';
import { callService } from '@diffusevae/service-kit';
import { startNatsServer, startService, type NatsServer, type ServiceProcess } from '@diffusevae/testing';
import { parseLogLines } from '@diffusevae/service-kit';
import { Svcm } from '@nats-io/services';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// The service as it runs in production: main.ts in its own process, on a real nats-server.
let ns: NatsServer;
let nc: NatsConnection;
let encoder: ServiceProcess;
const call = { timeoutMs: 30_000 };

beforeAll(async () => {
  ns = await startNatsServer();
  nc = await connect({ servers: ns.url });
  encoder = await startService('services/encoder/src/main.ts', { NATS_URL: ns.url, ORT_THREADS: '1' });
});
afterAll(async () => {
  await encoder?.stop();
  await nc?.close();
  await ns?.stop();
});

describe('encoder service', () => {
  it('prints its readiness line and answers $SRV.PING', async () => {
    // JSON lines: the metrics line, then the readiness line (the URL followed by a space, for /ready on (\S+)/)
    const lines = parseLogLines(encoder.output());
    const ready = lines.find((l) => l.msg.startsWith('ready on '));
    expect(ready).toMatchObject({ level: 'info', service: 'encoder', replica: `${hostname()}:${encoder.pid}`, msg: `ready on ${ns.url} (diffusevae-encoder)` });
    expect(encoder.output().match(/\bready on (\S+)/)![1]).toBe(ns.url);
    expect(lines.findIndex((l) => l.msg.startsWith('metrics on http://'))).toBeLessThan(lines.indexOf(ready!));
    const pings = [];
    for await (const p of await new Svcm(nc as never).client().ping(SERVICES.encoder.name)) pings.push(p);
    expect(pings).toHaveLength(1);
  });

  it('encodes a batch, with z when given a seed', async () => {
    const x = float32(new Float32Array(2 * 784).map((_, i) => Math.cos(i)), [2, 1, 28, 28]);
    const out = await callService(nc, setSubject('encode', 'fmnist'), { x }, { seed: 3 }, call);
    expect(out.mu!.shape).toEqual([2, 32]);
    expect(out.logvar!.shape).toEqual([2, 32]);
    expect(out.z!.shape).toEqual([2, 32]);
  });

  it('rejects bad input naming the field, then answers the next request', async () => {
    const bad = float32(new Float32Array(3 * 784), [1, 3, 28, 28]);
    await expect(callService(nc, setSubject('encode', 'fmnist'), { x: bad }, undefined, call)).rejects.toMatchObject({ code: 'BAD_USER_INPUT', field: 'x' });
    const good = float32(new Float32Array(784), [1, 1, 28, 28]);
    await expect(callService(nc, setSubject('encode', 'fmnist'), { x: good }, undefined, call)).resolves.toHaveProperty('mu');
  });

  it('drains and exits 0 on SIGTERM', async () => {
    expect(await encoder.stop()).toBe(0);
    expect(parseLogLines(encoder.output())).toContainEqual(expect.objectContaining({ level: 'info', service: 'encoder', signal: 'SIGTERM', msg: 'SIGTERM: draining' }));
    await expect(callService(nc, setSubject('encode', 'fmnist'), {}, undefined, call)).rejects.toMatchObject({ code: 'SERVICE_UNAVAILABLE' });
  });
});

describe('encoder start-up', () => {
  it.each([
    ['a bad variable', { MAX_BATCH: 'many' }, /^configuration: MAX_BATCH: must be an integer in \[1, 4096\], got "many"$/],
    ['a bad LOG_LEVEL', { LOG_LEVEL: 'loud' }, /^configuration: LOG_LEVEL: must be one of fatal, error, warn, info, debug, trace, silent, got "loud"$/],
    ['a folder without a model set', { MODEL_DIR: '/nonexistent/models' }, /^failed to start: .*no model manifest here/],
  ])('stops with exit code 1 on %s, saying why in a fatal line', async (_, env, message) => {
    const err = await startService('services/encoder/src/main.ts', { NATS_URL: ns.url, ...env }, { timeoutMs: 30_000 }).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/exited \(code 1\)/);
    const fatal = parseLogLines((err as Error).message).filter((l) => l.level === 'fatal');
    expect(fatal).toHaveLength(1);
    expect(fatal[0]).toMatchObject({ service: 'encoder', msg: expect.stringMatching(message) });
  });
});
