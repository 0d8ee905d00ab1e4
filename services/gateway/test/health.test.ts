import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readManifest } from '@diffusevae/models';
import { localStages } from '@diffusevae/pipeline';
import { startNatsServer, type NatsServer } from '@diffusevae/testing';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { createGateway, natsHealth, quietLogger, type Gateway } from '../src/index.js';
import { gql, MODEL_DIR } from './helpers.js';

// health over a NATS server where no service runs at all (the server answers "no responders").
let ns: NatsServer;
let nc: NatsConnection;
let gw: Gateway;
beforeAll(async () => {
  ns = await startNatsServer();
  nc = await connect({ servers: ns.url });
  const unused = { encode: async () => Promise.reject(new Error('unused')), decode: async () => Promise.reject(new Error('unused')), eps: async () => Promise.reject(new Error('unused')) };
  gw = await createGateway({ stages: localStages(unused as never), manifest: await readManifest(MODEL_DIR), port: 0, host: '127.0.0.1', log: quietLogger(), health: natsHealth(nc, 200) });
});
afterAll(async () => {
  await gw?.stop();
  await nc?.close();
  await ns?.stop();
});

describe('health with no service up', () => {
  it('counts 0 instances of each service instead of failing', async () => {
    const h = await natsHealth(nc, 200)();
    expect(h.services.length).toBe(4);
    expect(h.services.every((s) => s.instances === 0)).toBe(true);
  });

  it('is status down over GraphQL, with the per-service detail, and no error', async () => {
    const r = await gql(gw.url, `{ health { status mode services { name instances } } }`);
    expect(r.errors).toBeUndefined();
    expect(r.data!.health.status).toBe('down');
    expect(r.data!.health.services).toContainEqual({ name: 'diffusevae-refiner', instances: 0 });
  });
});
