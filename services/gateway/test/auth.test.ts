import { createClient } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { MemoryKeyStore } from '@diffusevae/auth';
import { ModelSet } from '@diffusevae/models';
import { localStages, type Stages } from '@diffusevae/pipeline';
import { createGateway, quietLogger, type Gateway } from '../src/index.js';
import { gql, MODEL_DIR } from './helpers.js';

// API keys, scopes, per-key limits and the surface's limits, on a gateway that runs the real models in-process.
let models: ModelSet;
let gw: Gateway;
const keys = new MemoryKeyStore();
const k: Record<string, string> = {};

beforeAll(async () => {
  models = await ModelSet.load(MODEL_DIR, ['decoder', 'refiner']);
  const local = localStages(models);
  // slow steps: a job is still running when the next request comes
  const slow: Stages = { ...local, refine: (cond, o) => local.refine(cond, { ...o, onStep: async (p) => (await new Promise((r) => setTimeout(r, 20)), o.onStep?.(p)) }) };
  for (const [name, scopes, limits] of [
    ['alice', ['submit', 'read'], {}],
    ['bob', ['submit', 'read'], {}],
    ['ops', ['admin'], {}],
    ['viewer', ['read'], {}],
    ['slowpoke', ['submit', 'read'], { requestsPerMinute: 3 }],
    ['single', ['submit', 'read'], { concurrentJobs: 1 }],
    ['frugal', ['submit', 'read'], { imageStepsPerMinute: 100 }],
  ] as const) {
    k[name] = (await keys.create(name, scopes, limits)).key;
  }
  gw = await createGateway({
    stages: slow,
    manifest: models.manifest,
    port: 0,
    host: '127.0.0.1',
    log: quietLogger(),
    auth: { keys },
    limits: { maxImageSteps: 1000 },
    surface: { corsOrigins: ['https://app.example.com'], introspection: false },
  });
});
afterAll(async () => {
  await gw?.stop();
  await models?.release();
});

const GEN = (extra = '') => `mutation { generate(input: { count: 1, seed: 1, wait: false, sampler: { steps: 4 } ${extra} }) { id status } }`;

describe('API keys', () => {
  it('no key, a malformed one, an unknown one: 401 UNAUTHENTICATED with WWW-Authenticate, saying how to get one', async () => {
    for (const authorization of [undefined, 'Basic abc', 'Bearer dvae_000000000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', `Bearer ${'x'.repeat(5000)}`]) {
      const res = await fetch(gw.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) },
        body: JSON.stringify({ query: GEN() }),
      });
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
      const body = (await res.json()) as { errors: { message: string; extensions: { code: string } }[] };
      expect(body.errors[0]!.extensions.code).toBe('UNAUTHENTICATED');
      expect(body.errors[0]!.message).toMatch(/Authorization: Bearer <key>.*npm run keys -- create --name NAME/);
    }
  });

  it('a revoked key stops working', async () => {
    const { key, record } = await keys.create('temp');
    expect((await gql(gw.url, '{ health { status } }', undefined, undefined, key)).status).toBe(200);
    await keys.revoke(record.id);
    expect((await gql(gw.url, '{ health { status } }', undefined, undefined, key)).status).toBe(401);
  });

  it('jobs are visible and cancellable only by the key that made them, and by admins', async () => {
    // long enough (1000 DDPM steps) to be still running when alice cancels it at the end
    const made = await gql(gw.url, 'mutation { generate(input: { count: 1, seed: 1, wait: false, sampler: { kind: DDPM, steps: 1000 } }) { id status } }', undefined, undefined, k.alice);
    const id = made.data!.generate.id as string;
    const JOB = `query($id: ID!) { job(id: $id) { id status } }`;
    expect((await gql(gw.url, JOB, { id }, undefined, k.alice)).data!.job.id).toBe(id);
    expect((await gql(gw.url, JOB, { id }, undefined, k.bob)).data!.job).toBeNull();
    const cancel = await gql(gw.url, `mutation($id: ID!) { cancelJob(id: $id) { status } }`, { id }, undefined, k.bob);
    expect(cancel.errors![0]!.extensions!['code']).toBe('NOT_FOUND');
    expect((await gql(gw.url, JOB, { id }, undefined, k.ops)).data!.job.id).toBe(id);
    // bob's subscription is as refused as for a job that never was
    const bob = createClient({ url: gw.url.replace(/^http/, 'ws'), webSocketImpl: WebSocket, retryAttempts: 0, connectionParams: { authorization: `Bearer ${k.bob}` } });
    try {
      const it = bob.iterate({ query: `subscription($id: ID!) { jobProgress(id: $id) { status } }`, variables: { id } });
      const first = await it.next();
      expect(first.value.errors[0].extensions.code).toBe('NOT_FOUND');
    } finally {
      await bob.dispose();
    }
    // alice cancels it; the key's running-job count goes down with it
    const mine = await gql(gw.url, `mutation($id: ID!) { cancelJob(id: $id) { status errorCode } }`, { id }, undefined, k.alice);
    expect(mine.data!.cancelJob).toMatchObject({ status: 'CANCELLED', errorCode: 'CANCELLED' });
  });

  it('a key without the submit scope gets 403 FORBIDDEN for a job and may still read', async () => {
    const r = await gql(gw.url, GEN(), undefined, undefined, k.viewer);
    expect(r.status).toBe(403);
    expect(r.errors![0]).toMatchObject({ extensions: { code: 'FORBIDDEN' }, message: expect.stringMatching(/lacks the submit scope/) });
    expect((await gql(gw.url, '{ models { name } }', undefined, undefined, k.viewer)).data!.models).toHaveLength(1);
  });

  it('graphql-ws: no key closes the socket with 4401; a key in the connection payload works', async () => {
    const closed = await new Promise<{ code: number; reason: string }>((resolve) => {
      const ws = new WebSocket(gw.url.replace(/^http/, 'ws'), 'graphql-transport-ws');
      ws.on('open', () => ws.send(JSON.stringify({ type: 'connection_init', payload: {} })));
      ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() }));
    });
    expect(closed.code).toBe(4401);
    expect(closed.reason).toMatch(/Bearer <key>/);
    const client = createClient({ url: gw.url.replace(/^http/, 'ws'), webSocketImpl: WebSocket, retryAttempts: 0, connectionParams: { apiKey: k.alice } });
    try {
      const id = (await gql(gw.url, GEN(), undefined, undefined, k.alice)).data!.generate.id;
      const statuses: string[] = [];
      for await (const r of client.iterate({ query: `subscription($id: ID!) { jobProgress(id: $id) { status } }`, variables: { id } })) statuses.push((r.data as any).jobProgress.status);
      expect(statuses.at(-1)).toBe('SUCCEEDED');
    } finally {
      await client.dispose();
    }
  });
});

describe('per-key limits', () => {
  it('requests per minute: 429 with Retry-After and RATE_LIMITED with retryAfterMs; other keys go on', async () => {
    for (let i = 0; i < 3; i++) expect((await gql(gw.url, '{ models { name } }', undefined, undefined, k.slowpoke)).status).toBe(200);
    const res = await fetch(gw.url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${k.slowpoke}` }, body: JSON.stringify({ query: '{ models { name } }' }) });
    expect(res.status).toBe(429);
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    const body = (await res.json()) as any;
    expect(body.errors[0].extensions).toMatchObject({ code: 'RATE_LIMITED', retryAfterMs: expect.any(Number) });
    expect((await gql(gw.url, '{ models { name } }', undefined, undefined, k.bob)).status).toBe(200);
  });

  it('concurrent jobs: a second job while the first runs is 429 RATE_LIMITED; once it ends, the next is taken', async () => {
    const first = await gql(gw.url, GEN(), undefined, undefined, k.single);
    expect(first.data!.generate.id).toBeDefined();
    const second = await gql(gw.url, GEN(), undefined, undefined, k.single);
    expect(second.status).toBe(429);
    expect(second.errors![0]).toMatchObject({ extensions: { code: 'RATE_LIMITED' }, message: expect.stringMatching(/1 jobs queued or running/) });
    expect((await gql(gw.url, GEN(), undefined, undefined, k.bob)).data!.generate.id).toBeDefined();
    // wait for it to finish, then one more is taken
    await gql(gw.url, `mutation { generate(input: { count: 1, seed: 1, sampler: { steps: 4 } }) { id } }`, undefined, undefined, k.alice);
    for (let i = 0; i < 100; i++) {
      const j = await gql(gw.url, `query($id: ID!) { job(id: $id) { status } }`, { id: first.data!.generate.id }, undefined, k.single);
      if (j.data!.job.status === 'SUCCEEDED') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect((await gql(gw.url, GEN(), undefined, undefined, k.single)).data!.generate.id).toBeDefined();
  });

  it('image-steps per minute: what is over the key’s minute waits; a job larger than the whole minute is told so', async () => {
    const ok = await gql(gw.url, `mutation { generate(input: { count: 4, seed: 1, wait: false, sampler: { steps: 25 } }) { id } }`, undefined, undefined, k.frugal);
    expect(ok.data!.generate.id).toBeDefined();
    const over = await gql(gw.url, GEN(), undefined, undefined, k.frugal);
    expect(over.status).toBe(429);
    expect(over.errors![0]!.extensions).toMatchObject({ code: 'RATE_LIMITED', retryAfterMs: expect.any(Number) });
    const huge = await gql(gw.url, `mutation { generate(input: { count: 8, seed: 1, wait: false, sampler: { steps: 25 } }) { id } }`, undefined, undefined, k.frugal);
    expect(huge.errors![0]!.message).toMatch(/200 image-steps .* over the API key's limit of 100 per minute/);
  });
});

describe('the GraphQL surface', () => {
  it('MAX_IMAGE_STEPS is per request: the job that goes over is null with its error, the others keep their ids', async () => {
    const q = `mutation { a: generate(input: { count: 10, seed: 1, wait: false, sampler: { steps: 60 } }) { id } b: generate(input: { count: 10, seed: 2, wait: false, sampler: { steps: 60 } }) { id } }`;
    const r = await gql(gw.url, q, undefined, undefined, k.ops);
    expect(r.data!.a.id).toBeDefined();
    expect(r.data!.b).toBeNull();
    expect(r.errors![0]).toMatchObject({ path: ['b'], extensions: { code: 'BAD_USER_INPUT', field: 'input.sampler.steps' }, message: expect.stringMatching(/add up to 1200 image-steps .* over this gateway.s limit of 1000/) });
  });

  it('an alias flood is refused before any job exists (by the alias limit, or by the token limit before parsing ends)', async () => {
    const flood = (n: number) => `mutation { ${Array.from({ length: n }, (_, i) => `g${i}: generate(input: { count: 1, seed: ${i}, wait: false, sampler: { steps: 1 } }) { id }`).join(' ')} }`;
    const before = (await gql(gw.url, `{ health { status } }`, undefined, undefined, k.ops)).status;
    expect(before).toBe(200);
    const r = await gql(gw.url, flood(20), undefined, undefined, k.ops);
    expect(r.status).toBe(400);
    expect(r.data).toBeUndefined();
    expect(r.errors![0]!.message).toMatch(/aliases/i);
    const huge = await gql(gw.url, flood(1000), undefined, undefined, k.ops);
    expect(huge.status).toBe(400);
    expect(huge.errors![0]!.message).toMatch(/more that 2000 tokens|more than 2000 tokens/);
  });

  it('introspection (off here) is refused; no field suggestions leak the schema', async () => {
    const intro = await gql(gw.url, `{ __schema { types { name } } }`, undefined, undefined, k.ops);
    expect(intro.errors![0]!.message).toMatch(/introspection/i);
    const typo = await gql(gw.url, `{ modles { name } }`, undefined, undefined, k.ops);
    expect(typo.errors![0]!.message).toMatch(/Cannot query field "modles"/);
    expect(typo.errors![0]!.message).not.toMatch(/Did you mean/);
  });

  it('CORS: only listed origins get CORS headers; another origin is refused, over HTTP and WebSocket', async () => {
    const pre = await fetch(gw.url, { method: 'OPTIONS', headers: { origin: 'https://app.example.com', 'access-control-request-method': 'POST' } });
    expect(pre.headers.get('access-control-allow-origin')).toBe('https://app.example.com');
    expect(pre.headers.get('access-control-allow-headers')).toMatch(/authorization/);
    const evil = await fetch(gw.url, { method: 'OPTIONS', headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' } });
    expect(evil.headers.get('access-control-allow-origin')).toBeNull();
    const post = await fetch(gw.url, { method: 'POST', headers: { origin: 'https://evil.example', 'content-type': 'application/json', authorization: `Bearer ${k.alice}` }, body: JSON.stringify({ query: GEN() }) });
    expect(post.status).toBe(403);
    const code = await new Promise<number>((resolve) => {
      const ws = new WebSocket(gw.url.replace(/^http/, 'ws'), 'graphql-transport-ws', { origin: 'https://evil.example' });
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.on('open', () => resolve(101));
      ws.on('error', () => {});
    });
    expect(code).toBe(401); // ws's verifyClient refusal
  });

  it('CSRF prevention: a simple POST (form content type) is refused', async () => {
    const res = await fetch(gw.url, { method: 'POST', headers: { 'content-type': 'text/plain', authorization: `Bearer ${k.alice}` }, body: JSON.stringify({ query: GEN() }) });
    expect(res.status).toBe(400);
  });

  it('a body over MAX_BODY_BYTES is 413; a WebSocket message over it closes that socket (1009), nothing else', async () => {
    const big = await fetch(gw.url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${k.alice}` }, body: 'x'.repeat(9 * 1024 * 1024) });
    expect(big.status).toBe(413);
    const code = await new Promise<number>((resolve) => {
      const ws = new WebSocket(gw.url.replace(/^http/, 'ws'), 'graphql-transport-ws');
      ws.on('open', () => ws.send('x'.repeat(9 * 1024 * 1024)));
      ws.on('close', (c) => resolve(c));
      ws.on('error', () => {});
    });
    expect(code).toBe(1009);
    expect((await gql(gw.url, '{ models { name } }', undefined, undefined, k.alice)).status).toBe(200);
  });
});
