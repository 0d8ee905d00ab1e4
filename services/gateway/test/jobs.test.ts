import { createClient, type Client } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { ModelSet } from '@diffusevae/models';
import { localStages, type Stages } from '@diffusevae/pipeline';
import { startNatsServer, type NatsServer } from '@diffusevae/testing';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { createGateway, InMemoryJobStore, JetStreamWorkQueue, KvJobStore, natsJobBus, quietLogger, type Gateway, type Job, type JobStore } from '../src/index.js';
import { gql, MODEL_DIR, type GqlResponse } from './helpers.js';

// Jobs shared by two gateway replicas through JetStream KV (in-process stages, a real nats-server), and the
// limits of one gateway's queue.
let models: ModelSet;
let ns: NatsServer;
let nc: NatsConnection;
let a: Gateway;
let b: Gateway;
let client: Client;
const gateways: Gateway[] = [];

/** Each step waits a little, so that jobs stay queued or running long enough to be looked at. */
function slowStages(ms: number): Stages {
  const local = localStages(models);
  return { ...local, refine: (cond, o) => local.refine(cond, { ...o, onStep: async (p) => (await new Promise((r) => setTimeout(r, ms)), o.onStep?.(p)) }) };
}

type Limits = Parameters<typeof createGateway>[0]['limits'];

/** In-process stages slowed down, on a free port, quiet; `extra` says where jobs and their queue live. */
async function gateway(limits: Limits, extra: Partial<Parameters<typeof createGateway>[0]> = {}): Promise<Gateway> {
  const gw = await createGateway({
    stages: slowStages(20),
    manifest: models.manifest,
    port: 0,
    host: '127.0.0.1',
    log: quietLogger(),
    limits: { progressIntervalMs: 0, previewIntervalMs: 0, ...limits },
    ...extra,
  });
  gateways.push(gw);
  return gw;
}

/** A replica as main.ts makes one: jobs in KV, the work queue in JetStream, notices on the NATS bus. */
async function replica(limits: Limits = {}): Promise<Gateway> {
  const jobs = await KvJobStore.open(nc, { bucket: 'test-jobs', retentionMs: 60_000 });
  const queue = await JetStreamWorkQueue.open(nc, { maxJobs: 320, ackWaitMs: 10_000, retryAfterMs: () => 1000 });
  return gateway(limits, { jobs, queue, bus: natsJobBus(nc) });
}

/** A gateway on its own (JOB_STORE=memory): its queue and its limits are its own. */
const alone = (limits: Limits = {}) => gateway(limits);

beforeAll(async () => {
  [models, ns] = await Promise.all([ModelSet.load(MODEL_DIR, ['decoder', 'refiner'], { intraOpThreads: 1 }), startNatsServer({ jetstream: true })]);
  nc = await connect({ servers: ns.url });
  [a, b] = [await replica(), await replica()];
  client = createClient({ url: b.url.replace(/^http/, 'ws'), webSocketImpl: WebSocket, retryAttempts: 0 });
});
afterAll(async () => {
  await client?.dispose();
  await Promise.all(gateways.map((g) => g.stop()));
  await nc?.close();
  await ns?.stop();
  await models?.release();
});

const START = `mutation($input: GenerateInput!) { generate(input: $input) { id status queuePosition } }`;
const JOB = `query($id: ID!) { job(id: $id) { id status errorCode queuePosition progress { step steps } images { png } } }`;
const PROGRESS = `subscription($id: ID!) { jobProgress(id: $id) { status progress { step steps stepMs etaMs } preview { width height png } job { status images { png } } } }`;

async function start(gw: Gateway, input: Record<string, unknown>): Promise<string> {
  const r = await gql(gw.url, START, { input: { wait: false, ...input } });
  expect(r.errors).toBeUndefined();
  return r.data!.generate.id;
}

async function collect(id: string) {
  const events: any[] = [];
  for await (const r of client.iterate({ query: PROGRESS, variables: { id } })) {
    if (r.errors) throw new Error(r.errors[0]!.message);
    events.push(r.data!['jobProgress']);
  }
  return events;
}

async function finished(gw: Gateway, id: string) {
  for (;;) {
    const job = (await gql(gw.url, JOB, { id })).data!.job;
    if (job.status === 'SUCCEEDED' || job.status === 'FAILED' || job.status === 'CANCELLED') return job;
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('jobs in JetStream KV', () => {
  it('a job submitted to one replica is readable from the other, and its progress streams there in order, ending with the result', async () => {
    const id = await start(a, { count: 4, seed: 3, sampler: { steps: 12 } });
    const events = await collect(id);
    const last = events.at(-1);
    expect(last).toMatchObject({ status: 'SUCCEEDED', progress: { step: 12, steps: 12 }, job: { status: 'SUCCEEDED' } });
    expect(last.job.images).toHaveLength(4);
    const running = events.filter((e) => e.status === 'RUNNING' && e.progress);
    expect(running.length).toBeGreaterThan(2);
    const steps = running.map((e) => e.progress.step);
    expect([...steps].sort((x, y) => x - y)).toEqual(steps);
    expect(running.at(-1)).toMatchObject({ progress: { stepMs: expect.any(Number), etaMs: expect.any(Number) } });
    // previews come with the events where they are new (each a 2×2 grid of 28 px + padding), never the same one twice
    const previews = running.map((e) => e.preview).filter(Boolean) as { width: number; height: number; png: string }[];
    expect(previews.length).toBeGreaterThan(0);
    for (const p of previews) expect(p).toMatchObject({ width: 2 + 2 * 30, height: 2 + 2 * 30 });
    expect(new Set(previews.map((p) => p.png)).size).toBe(previews.length);
    const fromB = (await gql(b.url, JOB, { id })).data!.job;
    expect(fromB).toMatchObject({ id, status: 'SUCCEEDED', progress: { step: 12, steps: 12 } });
    expect(fromB.images.map((i: { png: string }) => i.png)).toEqual(last.job.images.map((i: { png: string }) => i.png));
  });

  it('cancelJob on the other replica stops a running job; it ends CANCELLED', async () => {
    const id = await start(a, { seed: 4, sampler: { steps: 500 } });
    while ((await gql(b.url, JOB, { id })).data!.job.status !== 'RUNNING') await new Promise((r) => setTimeout(r, 20));
    const r = await gql(b.url, `mutation($id: ID!) { cancelJob(id: $id) { id } }`, { id });
    expect(r.errors).toBeUndefined();
    const job = await finished(b, id);
    expect(job).toMatchObject({ status: 'CANCELLED', errorCode: 'CANCELLED' });
    expect(job.progress.step).toBeLessThan(500);
  });

  it('cancelJob of an unknown job is NOT_FOUND; an id that is no UUID is BAD_USER_INPUT, also one of 5,000 characters', async () => {
    const r = await gql(b.url, `mutation { cancelJob(id: "0b7e5a52-3c1e-4a57-9a8e-2f0c8d9e1a64") { id } }`);
    expect(r.errors![0]!.extensions).toMatchObject({ code: 'NOT_FOUND' });
    for (const id of ['no-such-job', 'x'.repeat(5000)]) {
      for (const query of ['mutation($id: ID!) { cancelJob(id: $id) { id } }', 'query($id: ID!) { job(id: $id) { id } }']) {
        const bad = await gql(b.url, query, { id });
        expect(bad.errors![0]!.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'id' });
        expect(bad.errors![0]!.message).toMatch(/^id: must be a job id \(a UUID/);
      }
    }
    // the replica's NATS connection survived: it still serves jobs
    const id = await start(b, { seed: 9, sampler: { steps: 2 } });
    expect(await finished(a, id)).toMatchObject({ status: 'SUCCEEDED' });
  });

  it('a job has attempts and updatedAt; a queued one shows the same queue position on every replica', async () => {
    const id = await start(a, { seed: 6, sampler: { steps: 3 } });
    const job = await finished(b, id);
    const r = await gql(b.url, `query($id: ID!) { job(id: $id) { attempts updatedAt createdAt } }`, { id });
    expect(r.data!.job.attempts).toBe(1);
    expect(Date.parse(r.data!.job.updatedAt)).toBeGreaterThanOrEqual(Date.parse(r.data!.job.createdAt));
    expect(job.status).toBe('SUCCEEDED');
  });
});

describe('the queue', () => {
  it('gives queue positions, answers RESOURCE_EXHAUSTED with a retry hint when full, and runs the queued jobs in turn', async () => {
    const gw = await alone({ maxActiveJobs: 1, maxQueuedJobs: 1 });
    const first = await gql(gw.url, START, { input: { wait: false, seed: 1, sampler: { steps: 30 } } });
    const second = await gql(gw.url, START, { input: { wait: false, seed: 2, sampler: { steps: 2 } } });
    expect(first.data!.generate).toMatchObject({ status: 'QUEUED', queuePosition: 0 });
    expect(second.data!.generate).toMatchObject({ status: 'QUEUED', queuePosition: 1 });
    const res = await fetch(gw.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: START, variables: { input: { wait: false, seed: 3, sampler: { steps: 2 } } } }) });
    const third = (await res.json()) as GqlResponse;
    expect(third.errors![0]!.extensions).toMatchObject({ code: 'RESOURCE_EXHAUSTED', retryAfterMs: expect.any(Number) });
    // nothing but a full queue: HTTP 429, Retry-After in seconds (as for RATE_LIMITED)
    expect(res.status).toBe(429);
    expect(res.headers.get('retry-after')).toBe(String(Math.max(1, Math.ceil((third.errors![0]!.extensions!['retryAfterMs'] as number) / 1000))));
    expect(third.errors![0]!.message).toMatch(/queue is full \(2 jobs waiting or running: MAX_QUEUED_JOBS \+ MAX_ACTIVE_JOBS\)/);
    // a queued job can be cancelled before it starts
    const cancelled = await gql(gw.url, `mutation($id: ID!) { cancelJob(id: $id) { status errorCode } }`, { id: second.data!.generate.id });
    expect(cancelled.data!.cancelJob).toEqual({ status: 'CANCELLED', errorCode: 'CANCELLED' });
    expect(await finished(gw, first.data!.generate.id)).toMatchObject({ status: 'SUCCEEDED' });
  });

  it('refuses a request over MAX_IMAGE_STEPS, naming the limit', async () => {
    const gw = await alone({ maxImageSteps: 100 });
    const r = await gql(gw.url, START, { input: { count: 4, sampler: { steps: 30 } } });
    expect(r.errors![0]).toMatchObject({ extensions: { code: 'BAD_USER_INPUT', field: 'input.sampler.steps' } });
    expect(r.errors![0]!.message).toMatch(/4 × 30 = 120 is over .* 100 image-steps per request \(MAX_IMAGE_STEPS\)/);
  });
});

describe('job states in the store', () => {
  it('land in order (QUEUED, RUNNING, progress, SUCCEEDED) while a slow RUNNING write overlaps stage 1', async () => {
    const landed: string[] = [];
    const inner = new InMemoryJobStore();
    const label = (job: Job) => (job.status === 'RUNNING' && job.progress ? `step ${job.progress.step}` : job.status);
    // the first RUNNING write takes longer than stage 1 and the first refiner steps
    const slowly = async (job: Job) => void (label(job) === 'RUNNING' && (await new Promise((r) => setTimeout(r, 100))));
    const store: JobStore = {
      get: (id) => inner.get(id),
      entry: (id) => inner.entry(id),
      watch: (id) => inner.watch(id),
      requestCancel: (id) => inner.requestCancel(id),
      cancelRequested: (id) => inner.cancelRequested(id),
      list: (q) => inner.list(q),
      async put(job) {
        await slowly(job);
        await inner.put(job);
        landed.push(label(job));
      },
      async update(job, revision) {
        await slowly(job);
        const stored = await inner.update(job, revision);
        if (stored) landed.push(label(job));
        return stored;
      },
    };
    const gw = await createGateway({ stages: slowStages(20), manifest: models.manifest, port: 0, host: '127.0.0.1', log: quietLogger(), jobs: store, limits: { progressIntervalMs: 0, previewIntervalMs: 0 } });
    gateways.push(gw);
    const r = await gql(gw.url, `mutation { generate(input: { seed: 5, sampler: { steps: 8 } }) { status } }`);
    expect(r.data!.generate.status).toBe('SUCCEEDED');
    expect(landed.slice(0, 2)).toEqual(['QUEUED', 'RUNNING']);
    expect(landed.at(-1)).toBe('SUCCEEDED');
    const steps = landed.slice(2, -1).map((s) => Number(s.replace('step ', '')));
    expect(steps.length).toBeGreaterThan(0);
    expect([...steps].sort((x, y) => x - y)).toEqual(steps);
  });
});
