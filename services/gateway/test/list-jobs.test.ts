import { createClient } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { MemoryKeyStore } from '@diffusevae/auth';
import { ModelSet } from '@diffusevae/models';
import { localStages, type Stages } from '@diffusevae/pipeline';
import { startNatsServer, type NatsServer } from '@diffusevae/testing';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { createGateway, KvJobStore, quietLogger, type Gateway, type JobStore } from '../src/index.js';
import { gql, JOB_FIELDS, MODEL_DIR } from './helpers.js';

// jobs(): a page of the caller's jobs, newest first, over both job stores (a Map, and JetStream KV on a real
// nats-server); and the not-found rule of job(id), cancelJob and jobProgress.
let models: ModelSet;
let ns: NatsServer;
let nc: NatsConnection;
const gateways: Gateway[] = [];

beforeAll(async () => {
  [models, ns] = await Promise.all([ModelSet.load(MODEL_DIR, ['decoder', 'refiner'], { intraOpThreads: 1 }), startNatsServer({ jetstream: true })]);
  nc = await connect({ servers: ns.url });
});
afterAll(async () => {
  await Promise.all(gateways.map((g) => g.stop()));
  await nc?.close();
  await ns?.stop();
  await models?.release();
});

/** slow steps: a long job is still running when it is looked at */
function slowStages(): Stages {
  const local = localStages(models);
  return { ...local, refine: (cond, o) => local.refine(cond, { ...o, onStep: async (p) => (await new Promise((r) => setTimeout(r, 20)), o.onStep?.(p)) }) };
}

const QUICK = `mutation($seed: Int!) { generate(input: { seed: $seed, refine: false }) { id status } }`;
const LONG = `mutation { generate(input: { seed: 9, wait: false, sampler: { kind: DDPM, steps: 1000 } }) { id } }`;
const LIST = `query($first: Int, $after: String, $status: JobStatus) {
  jobs(first: $first, after: $after, status: $status) { edges { cursor node { id status } } pageInfo { hasNextPage endCursor } }
}`;

interface Page {
  ids: string[];
  hasNextPage: boolean;
  endCursor: string | null;
}

describe.each([
  ['the in-memory store', async (): Promise<JobStore | undefined> => undefined],
  ['the JetStream KV store', async (): Promise<JobStore> => KvJobStore.open(nc, { bucket: `list-jobs-${Date.now()}`, retentionMs: 60_000 })],
])('jobs() over %s', (_name, store) => {
  let gw: Gateway;
  const keys = new MemoryKeyStore();
  const k = {} as Record<'alice' | 'bob' | 'carol' | 'ops' | 'writer', string>;
  const mine: string[] = [];
  let bobs: string;

  const page = async (key: string, vars: Record<string, unknown> = {}): Promise<Page> => {
    const r = await gql(gw.url, LIST, vars, undefined, key);
    expect(r.errors).toBeUndefined();
    const c = r.data!.jobs;
    for (const e of c.edges) expect(typeof e.cursor).toBe('string');
    return { ids: c.edges.map((e: { node: { id: string } }) => e.node.id), hasNextPage: c.pageInfo.hasNextPage, endCursor: c.pageInfo.endCursor };
  };

  beforeAll(async () => {
    for (const [name, scopes] of [
      ['alice', ['submit', 'read']],
      ['bob', ['submit', 'read']],
      ['carol', ['submit', 'read']],
      ['ops', ['admin']],
      ['writer', ['submit']],
    ] as const) {
      k[name] = (await keys.create(name, scopes)).key;
    }
    const jobs = await store();
    gw = await createGateway({ stages: slowStages(), manifest: models.manifest, port: 0, host: '127.0.0.1', log: quietLogger(), auth: { keys }, ...(jobs ? { jobs } : {}) });
    gateways.push(gw);
    for (let seed = 1; seed <= 5; seed++) {
      const r = await gql(gw.url, QUICK, { seed }, undefined, k.alice);
      expect(r.data!.generate.status).toBe('SUCCEEDED');
      mine.push(r.data!.generate.id);
    }
    bobs = (await gql(gw.url, QUICK, { seed: 6 }, undefined, k.bob)).data!.generate.id;
  });

  it('pages through the caller’s jobs newest first, with opaque cursors', async () => {
    const newestFirst = [...mine].reverse();
    const p1 = await page(k.alice, { first: 2 });
    expect(p1).toMatchObject({ ids: newestFirst.slice(0, 2), hasNextPage: true });
    const p2 = await page(k.alice, { first: 2, after: p1.endCursor });
    expect(p2).toMatchObject({ ids: newestFirst.slice(2, 4), hasNextPage: true });
    const p3 = await page(k.alice, { first: 2, after: p2.endCursor });
    expect(p3).toMatchObject({ ids: newestFirst.slice(4), hasNextPage: false });
    expect(await page(k.alice, { after: p3.endCursor })).toEqual({ ids: [], hasNextPage: false, endCursor: null });
    // the default page (20) holds them all; an edge's cursor works like endCursor
    expect((await page(k.alice)).ids).toEqual(newestFirst);
    const r = await gql(gw.url, LIST, { first: 1 }, undefined, k.alice);
    expect((await page(k.alice, { after: r.data!.jobs.edges[0].cursor })).ids).toEqual(newestFirst.slice(1));
  });

  it('shows a key only its own jobs; an admin sees every key’s', async () => {
    expect((await page(k.bob)).ids).toEqual([bobs]);
    expect(await page(k.carol)).toEqual({ ids: [], hasNextPage: false, endCursor: null });
    expect((await page(k.ops, { first: 100 })).ids).toEqual([bobs, ...[...mine].reverse()]);
    const r = await gql(gw.url, LIST, {}, undefined, k.writer);
    expect(r.status).toBe(403);
    expect(r.errors![0]!.extensions!['code']).toBe('FORBIDDEN');
  });

  it('filters by status', async () => {
    const long = (await gql(gw.url, LONG, {}, undefined, k.alice)).data!.generate.id as string;
    expect((await page(k.alice, { first: 1 })).ids).toEqual([long]);
    expect((await page(k.alice, { status: 'SUCCEEDED' })).ids).toEqual([...mine].reverse());
    const cancelled = await gql(gw.url, `mutation($id: ID!) { cancelJob(id: $id) { status } }`, { id: long }, undefined, k.alice);
    expect(cancelled.data!.cancelJob.status).toBe('CANCELLED');
    expect(await page(k.alice, { status: 'CANCELLED' })).toMatchObject({ ids: [long], hasNextPage: false });
    expect((await page(k.alice, { status: 'FAILED' })).ids).toEqual([]);
    expect((await page(k.alice, { status: 'RUNNING' })).ids).toEqual([]);
    expect((await page(k.bob, { status: 'CANCELLED' })).ids).toEqual([]);
    const p1 = await page(k.alice, { status: 'SUCCEEDED', first: 4 });
    expect(p1).toMatchObject({ ids: [...mine].reverse().slice(0, 4), hasNextPage: true });
    expect(await page(k.alice, { status: 'SUCCEEDED', first: 4, after: p1.endCursor })).toMatchObject({ ids: [mine[0]], hasNextPage: false });
  });

  it('refuses a first out of range or a bad cursor with BAD_USER_INPUT naming it', async () => {
    for (const first of [0, -1, 101]) {
      const r = await gql(gw.url, LIST, { first }, undefined, k.alice);
      expect(r.errors![0]).toMatchObject({ extensions: { code: 'BAD_USER_INPUT', field: 'first' }, message: expect.stringMatching(/^first: must be an integer in \[1, 100\]/) });
    }
    expect((await page(k.alice, { first: 100 })).ids).toHaveLength(mine.length + 1);
    // a page with images is smaller
    const images = await gql(gw.url, `{ jobs(first: 11) { edges { node { id images { png } } } } }`, undefined, undefined, k.alice);
    expect(images.errors![0]).toMatchObject({ extensions: { code: 'BAD_USER_INPUT', field: 'first' }, message: expect.stringMatching(/\[1, 10\] when the page asks for images/) });
    const viaFragment = await gql(gw.url, `{ jobs(first: 11) { edges { node { ...J } } } } fragment J on Job { stage1 { png } }`, undefined, undefined, k.alice);
    expect(viaFragment.errors![0]!.extensions!['field']).toBe('first');
    const ten = await gql(gw.url, `{ jobs(first: 10) { edges { node { images { width } } } } }`, undefined, undefined, k.alice);
    expect(ten.data!.jobs.edges[1].node.images).toEqual([{ width: models.manifest.image.resolution }]);
    // every field of a job, within the surface's default limits (depth, cost)
    const full = await gql(gw.url, `{ jobs(first: 10) { edges { cursor node { ${JOB_FIELDS} createdAt updatedAt attempts } } pageInfo { hasNextPage endCursor } } }`, undefined, undefined, k.alice);
    expect(full.errors).toBeUndefined();
    expect(full.data!.jobs.edges).toHaveLength(mine.length + 1);
    for (const after of ['nope', '', Buffer.from('j1:1:not-a-uuid').toString('base64url'), 'x'.repeat(500)]) {
      const r = await gql(gw.url, LIST, { after }, undefined, k.alice);
      expect(r.errors![0]).toMatchObject({ extensions: { code: 'BAD_USER_INPUT', field: 'after' }, message: expect.stringMatching(/^after: not a cursor of jobs\(\)/) });
    }
  });

  it('not found: job(id) is null, cancelJob and jobProgress are NOT_FOUND, for an unknown job and another key’s alike', async () => {
    const unknown = '0b7e5a52-3c1e-4a57-9a8e-2f0c8d9e1a64';
    for (const id of [unknown, mine[0]]) {
      const read = await gql(gw.url, `query($id: ID!) { job(id: $id) { id } }`, { id }, undefined, k.bob);
      expect(read).toMatchObject({ status: 200, data: { job: null } });
      expect(read.errors).toBeUndefined();
      const cancel = await gql(gw.url, `mutation($id: ID!) { cancelJob(id: $id) { id } }`, { id }, undefined, k.bob);
      expect(cancel.errors![0]).toMatchObject({ extensions: { code: 'NOT_FOUND' }, message: `job ${id} not found (finished jobs are kept for a while, then forgotten)` });
      const client = createClient({ url: gw.url.replace(/^http/, 'ws'), webSocketImpl: WebSocket, retryAttempts: 0, connectionParams: { authorization: `Bearer ${k.bob}` } });
      try {
        const first = await client.iterate({ query: `subscription($id: ID!) { jobProgress(id: $id) { status } }`, variables: { id } }).next();
        expect(first.value.errors[0]).toMatchObject({ extensions: { code: 'NOT_FOUND' }, message: `job ${id} not found (finished jobs are kept for a while, then forgotten)` });
      } finally {
        await client.dispose();
      }
    }
  });
});
