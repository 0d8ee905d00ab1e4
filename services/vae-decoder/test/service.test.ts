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
let decoder: ServiceProcess;
const call = { timeoutMs: 30_000 };

beforeAll(async () => {
  ns = await startNatsServer();
  nc = await connect({ servers: ns.url });
  decoder = await startService('services/vae-decoder/src/main.ts', { NATS_URL: ns.url, ORT_THREADS: '1' });
});
afterAll(async () => {
  await decoder?.stop();
  await nc?.close();
  await ns?.stop();
});

describe('vae-decoder service', () => {
  it('prints its readiness line and answers $SRV.PING', async () => {
    expect(parseLogLines(decoder.output())).toContainEqual(expect.objectContaining({ level: 'info', service: 'vae-decoder', msg: `ready on ${ns.url} (diffusevae-vae-decoder)` }));
    const pings = [];
    for await (const p of await new Svcm(nc as never).client().ping(SERVICES.vaeDecoder.name)) pings.push(p);
    expect(pings).toHaveLength(1);
  });

  it('decodes a batch of latents to images in [−1, 1]', async () => {
    const z = float32(new Float32Array(4 * 32).map((_, i) => Math.sin(i)), [4, 32]);
    const out = await callService(nc, setSubject('decode', 'fmnist'), { z }, undefined, call);
    expect(out.x_hat!.shape).toEqual([4, 1, 28, 28]);
    for (const v of out.x_hat!.data) expect(Math.abs(v)).toBeLessThanOrEqual(1);
  });

  it('rejects bad input naming the field, then answers the next request', async () => {
    await expect(callService(nc, setSubject('decode', 'fmnist'), { z: float32(new Float32Array(16), [1, 16]) }, undefined, call)).rejects.toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'z',
    });
    await expect(callService(nc, setSubject('decode', 'fmnist'), { z: float32(new Float32Array(32), [1, 32]) }, undefined, call)).resolves.toHaveProperty('x_hat');
  });

  it('drains and exits 0 on SIGTERM', async () => {
    expect(await decoder.stop()).toBe(0);
    await expect(callService(nc, setSubject('decode', 'fmnist'), {}, undefined, call)).rejects.toMatchObject({ code: 'SERVICE_UNAVAILABLE' });
  });
});
