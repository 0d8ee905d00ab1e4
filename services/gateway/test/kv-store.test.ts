import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNatsServer, type NatsServer } from '@diffusevae/testing';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { KvJobStore, type Job } from '../src/index.js';

// The job store over a real nats-server: the moves between owners (compare-and-set), cancel requests, and a watch
// that always ends.
let ns: NatsServer;
let nc: NatsConnection;
beforeAll(async () => {
  ns = await startNatsServer({ jetstream: true });
  nc = await connect({ servers: ns.url });
});
afterAll(async () => {
  await nc?.close();
  await ns?.stop();
});

const at = new Date().toISOString();
const queued = (id: string): Job => ({ id, kind: 'generate', createdAt: at, updatedAt: at, attempts: 0, status: 'QUEUED', queuePosition: 1 });
const running = (id: string): Job => ({ id, kind: 'generate', createdAt: at, updatedAt: at, attempts: 1, status: 'RUNNING' });

describe('KvJobStore', () => {
  it('update is compare-and-set: create only when absent, then only from the revision read', async () => {
    const store = await KvJobStore.open(nc, { bucket: 'kv-cas', retentionMs: 60_000 });
    const id = '0b7e5a52-3c1e-4a57-9a8e-2f0c8d9e1a01';
    expect(await store.update(queued(id), undefined)).toBe(true);
    expect(await store.update(queued(id), undefined)).toBe(false);
    const e = (await store.entry(id))!;
    expect(await store.update(running(id), e.revision)).toBe(true);
    expect(await store.update(queued(id), e.revision)).toBe(false); // stale: the RUNNING write came first
    expect((await store.get(id))!.status).toBe('RUNNING');
  });

  it('keeps a cancel request for whoever runs the job later', async () => {
    const store = await KvJobStore.open(nc, { bucket: 'kv-cancel', retentionMs: 60_000 });
    const id = '0b7e5a52-3c1e-4a57-9a8e-2f0c8d9e1a02';
    expect(await store.cancelRequested(id)).toBe(false);
    await store.requestCancel(id);
    expect(await store.cancelRequested(id)).toBe(true);
    expect(await store.cancelRequested('not a key')).toBe(false);
  });

  it('a watch of a job that expires from the store ends instead of hanging', async () => {
    const store = await KvJobStore.open(nc, { bucket: 'kv-expire', retentionMs: 1000, pollMs: 200 });
    const id = '0b7e5a52-3c1e-4a57-9a8e-2f0c8d9e1a03';
    await store.put(running(id));
    const it = (await store.watch(id))!;
    expect((await it.next()).value).toMatchObject({ status: 'RUNNING' });
    const t0 = Date.now();
    expect(await it.next()).toEqual({ done: true, value: undefined });
    expect(Date.now() - t0).toBeLessThan(5000);
  }, 15_000);
});
