import { createClient } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { KvKeyStore } from '@diffusevae/auth';
import { ModelSet } from '@diffusevae/models';
import { localStages } from '@diffusevae/pipeline';
import { LogCapture } from '@diffusevae/service-kit';
import { startNatsServer, type NatsServer } from '@diffusevae/testing';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { ACCESS_MESSAGE, createGateway, gatewayLogger, JetStreamWorkQueue, KvJobStore, natsJobBus, SUBSCRIPTION_ENDED, SUBSCRIPTION_STARTED, type Gateway } from '../src/index.js';
import { MODEL_DIR } from './helpers.js';

// The access log and the request id, through two real gateway replicas sharing jobs, their queue and API keys in
// JetStream (a real nats-server), each logging into memory: a job submitted through one carries the request id
// on its lines wherever it runs.
let models: ModelSet;
let ns: NatsServer;
let nc: NatsConnection;
const replicas: { gw: Gateway; logged: LogCapture }[] = [];
const key: Record<string, { key: string; id: string }> = {};
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

beforeAll(async () => {
  [models, ns] = await Promise.all([ModelSet.load(MODEL_DIR, ['decoder', 'refiner'], { intraOpThreads: 1 }), startNatsServer({ jetstream: true })]);
  nc = await connect({ servers: ns.url });
  const keys = await KvKeyStore.open(nc);
  for (const [name, scopes] of [
    ['alice', ['submit', 'read']],
    ['viewer', ['read']],
  ] as const) {
    const made = await keys.create(name, scopes);
    key[name] = { key: made.key, id: made.record.id };
  }
  for (let i = 0; i < 2; i++) {
    const logged = new LogCapture();
    const gw = await createGateway({
      stages: localStages(models),
      manifest: models.manifest,
      port: 0,
      host: '127.0.0.1',
      log: gatewayLogger({ level: 'info', destination: logged }),
      auth: { keys },
      jobs: await KvJobStore.open(nc, { bucket: 'access-log-jobs', retentionMs: 60_000 }),
      queue: await JetStreamWorkQueue.open(nc, { maxJobs: 64, ackWaitMs: 10_000, retryAfterMs: () => 1000 }),
      bus: natsJobBus(nc),
    });
    replicas.push({ gw, logged });
  }
});
afterAll(async () => {
  for (const { gw } of replicas) await gw.stop();
  await nc?.close();
  await ns?.stop();
  await models?.release();
});

const a = () => replicas[0]!;
const allLines = () => replicas.flatMap((r) => r.logged.lines);

/** POST /graphql on replica A with a key and headers; the response's x-request-id and body. */
async function post(query: string, opts: { key?: string; headers?: Record<string, string>; operationName?: string; variables?: unknown } = {}) {
  const res = await fetch(a().gw.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(opts.key ? { authorization: `Bearer ${opts.key}` } : {}), ...opts.headers },
    body: JSON.stringify({ query, operationName: opts.operationName, variables: opts.variables }),
  });
  return { status: res.status, requestId: res.headers.get('x-request-id'), body: (await res.json()) as { data?: any; errors?: { extensions: { code: string } }[] } };
}

/** A's access lines of one request id (waits a moment: the line follows the response's last byte closely, not before it). */
async function accessLines(request: string) {
  await expect.poll(() => a().logged.find({ msg: ACCESS_MESSAGE, request }).length).toBeGreaterThan(0);
  return a().logged.find({ msg: ACCESS_MESSAGE, request });
}

describe('the access log', () => {
  it('one line per operation: name, type, latency, outcome, status, the key id (never the key), the request id sent back', async () => {
    const GEN = `mutation Gen { generate(input: { count: 1, seed: 3, sampler: { steps: 2 } }) { id status } }`;
    const r = await post(GEN, { key: key.alice!.key, headers: { 'x-request-id': 'client-req.42:a_b-c' }, operationName: 'Gen' });
    expect(r.status).toBe(200);
    expect(r.body.data.generate.status).toBe('SUCCEEDED');
    expect(r.requestId).toBe('client-req.42:a_b-c');
    const [line, ...more] = await accessLines('client-req.42:a_b-c');
    expect(more).toEqual([]);
    expect(line).toEqual({
      level: 'info',
      time: expect.any(String),
      service: 'gateway',
      replica: expect.any(String),
      request: 'client-req.42:a_b-c',
      operation: 'Gen',
      type: 'mutation',
      durationMs: expect.any(Number),
      outcome: 'ok',
      status: 200,
      keyId: key.alice!.id,
      msg: ACCESS_MESSAGE,
    });
    expect(line!['durationMs']).toBeGreaterThan(0);

    // the job's lines carry the request id too, on whichever replica ran it (the id rode the JetStream work queue)
    const id = r.body.data.generate.id as string;
    const jobLines = allLines().filter((l) => l.job === id);
    expect(jobLines.map((l) => l.msg)).toEqual(expect.arrayContaining(['job submitted', 'job started', 'job finished']));
    expect(jobLines.every((l) => l.request === 'client-req.42:a_b-c')).toBe(true);
    expect(a().logged.find({ msg: 'job submitted', job: id })).toMatchObject([{ keyId: key.alice!.id, kind: 'generate' }]);
    expect(allLines().find((l) => l.msg === 'job finished' && l.job === id)).toMatchObject({ status: 'SUCCEEDED', attempt: 1 });

    // the key itself is nowhere in any line
    expect(JSON.stringify(allLines())).not.toContain(key.alice!.key);
  });

  it('a missing or unsafe x-request-id gets a new UUID, sent back and logged', async () => {
    for (const headers of [{}, { 'x-request-id': 'has spaces and "quotes"' }, { 'x-request-id': 'x'.repeat(65) }, { 'x-request-id': 'a\u00e9b' }]) {
      const r = await post('query Health { health { status } }', { key: key.alice!.key, headers: headers as Record<string, string> });
      expect(r.status).toBe(200);
      expect(r.requestId).toMatch(UUID);
      expect(await accessLines(r.requestId!)).toMatchObject([{ operation: 'Health', type: 'query', outcome: 'ok', status: 200, keyId: key.alice!.id }]);
    }
  });

  it('failures: the error codes as the outcome, with the HTTP status the client got', async () => {
    // a bad argument: 200 with a GraphQL error
    const bad = await post('query Job { job(id: "nope") { id } }', { key: key.alice!.key });
    expect(bad.body.errors![0]!.extensions.code).toBe('BAD_USER_INPUT');
    expect(await accessLines(bad.requestId!)).toMatchObject([{ operation: 'Job', type: 'query', outcome: 'BAD_USER_INPUT', status: 200, keyId: key.alice!.id }]);

    // a key without the scope: 403 (set by the status plugin, before this line is written)
    const denied = await post('mutation Gen { generate(input: { seed: 1, sampler: { steps: 2 } }) { id } }', { key: key.viewer!.key });
    expect(denied.status).toBe(403);
    expect(await accessLines(denied.requestId!)).toMatchObject([{ operation: 'Gen', type: 'mutation', outcome: 'FORBIDDEN', status: 403, keyId: key.viewer!.id }]);

    // an operation that does not validate: no type, Apollo's 400
    const invalid = await post('query Invalid { nothingHere }', { key: key.alice!.key, operationName: 'Invalid' });
    expect(invalid.body.errors![0]!.extensions.code).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(await accessLines(invalid.requestId!)).toMatchObject([{ operation: 'Invalid', type: 'unknown', outcome: 'GRAPHQL_VALIDATION_FAILED', status: 400 }]);

    // two errors with different codes in one operation: both, in order
    const both = await post('mutation Both { a: generate(input: { seed: 1, sampler: { steps: 0 } }) { id } b: cancelJob(id: "0b7e5a52-3c1e-4a57-9a8e-2f0c8d9e1a64") { id } }', { key: key.alice!.key });
    expect(both.body.errors!.map((e) => e.extensions.code)).toEqual(['BAD_USER_INPUT', 'NOT_FOUND']);
    expect(await accessLines(both.requestId!)).toMatchObject([{ operation: 'Both', type: 'mutation', outcome: 'BAD_USER_INPUT,NOT_FOUND', status: 200 }]);

    // refused before Apollo: no key (401), and no line lacks its request id
    const anonymous = await post('query Health { health { status } }', { headers: { 'x-request-id': 'no-key-1' } });
    expect(anonymous.status).toBe(401);
    expect(anonymous.requestId).toBe('no-key-1');
    const [refused] = await accessLines('no-key-1');
    expect(refused).toMatchObject({ type: 'unknown', outcome: 'UNAUTHENTICATED', status: 401 });
    expect(refused).not.toHaveProperty('keyId');

    // refused by Apollo before any operation (CSRF prevention: a GET without a preflight header)
    const csrf = await fetch(`${a().gw.url}?query=${encodeURIComponent('{ health { status } }')}`, { headers: { authorization: `Bearer ${key.alice!.key}`, 'x-request-id': 'csrf-1' } });
    expect(csrf.status).toBe(400);
    expect(await accessLines('csrf-1')).toMatchObject([{ outcome: 'BAD_REQUEST', status: 400, keyId: key.alice!.id }]);
  });

  it('graphql-ws: one line when a subscription starts and one when it ends, with the upgrade request’s id and the key id', async () => {
    const url = a().gw.url.replace(/^http/, 'ws');
    // the upgrade's response carries the request id
    const raw = new WebSocket(url, 'graphql-transport-ws', { headers: { 'x-request-id': 'ws-upgrade-1' } });
    const echoed = await new Promise<string | undefined>((resolve, reject) => {
      raw.once('upgrade', (res) => resolve(res.headers['x-request-id'] as string | undefined));
      raw.once('error', reject);
    });
    raw.close();
    expect(echoed).toBe('ws-upgrade-1');

    class WithRequestId extends WebSocket {
      constructor(address: string, protocols?: string | string[]) {
        super(address, protocols, { headers: { 'x-request-id': 'ws-req-1' } });
      }
    }
    const client = createClient({ url, webSocketImpl: WithRequestId, retryAttempts: 0, connectionParams: { authorization: `Bearer ${key.alice!.key}` } });
    try {
      const done = await post('mutation { generate(input: { seed: 9, sampler: { steps: 2 } }) { id } }', { key: key.alice!.key });
      const id = done.body.data.generate.id as string;
      const events: unknown[] = [];
      for await (const r of client.iterate({ query: 'subscription Progress($id: ID!) { jobProgress(id: $id) { status } }', variables: { id } })) events.push(r);
      expect(events).toHaveLength(1); // a finished job: one event, then complete
      const unknown = await (async () => {
        for await (const r of client.iterate({ query: 'subscription Lost { jobProgress(id: "0b7e5a52-3c1e-4a57-9a8e-2f0c8d9e1a64") { status } }' })) return r;
      })();
      expect(unknown?.errors?.[0]?.extensions?.['code']).toBe('NOT_FOUND');
    } finally {
      await client.dispose();
    }
    await expect.poll(() => a().logged.find({ request: 'ws-req-1', msg: SUBSCRIPTION_ENDED }).length).toBe(2);
    const lines = a().logged.lines.filter((l) => l.request === 'ws-req-1');
    const common = { service: 'gateway', type: 'subscription', keyId: key.alice!.id, subscription: expect.any(String) };
    expect(lines.filter((l) => l.operation === 'Progress')).toMatchObject([
      { ...common, msg: SUBSCRIPTION_STARTED },
      { ...common, msg: SUBSCRIPTION_ENDED, outcome: 'ok', durationMs: expect.any(Number) },
    ]);
    // refused at the start: only its end line, with the code
    expect(lines.filter((l) => l.operation === 'Lost')).toMatchObject([{ ...common, msg: SUBSCRIPTION_ENDED, outcome: 'NOT_FOUND' }]);
  });
});
