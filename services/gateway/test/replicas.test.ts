import { KvKeyStore } from '@diffusevae/auth';
import { JETSTREAM } from '@diffusevae/contracts';
import { startNatsCluster, type NatsCluster } from '@diffusevae/testing';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KvActiveJobs } from '../src/active-jobs.js';
import { InMemoryJobStore } from '../src/jobs.js';
import { KvJobStore } from '../src/kv-store.js';
import { JetStreamWorkQueue } from '../src/work-queue.js';

// JETSTREAM_REPLICAS for what the gateway opens, on a real three-node cluster: the job stream (and its consumer,
// which follows it), the jobs' bucket and the keys' bucket. An existing stream with fewer copies is raised and
// keeps its jobs; a gateway with a lower setting never lowers it.
let cluster: NatsCluster;
let nc: NatsConnection;

beforeAll(async () => {
  cluster = await startNatsCluster();
  nc = await connect({ servers: cluster.urls });
});
afterAll(async () => {
  await nc?.close();
  await cluster?.stop();
});

const queue = (replicas?: number) =>
  JetStreamWorkQueue.open(nc, { maxJobs: 10, ackWaitMs: 5000, retryAfterMs: () => 1000, ...(replicas !== undefined ? { replicas } : {}) });

describe('JETSTREAM_REPLICAS', () => {
  it('the job stream: created R1 by default, raised to R3 with its jobs and its consumer, never lowered', async () => {
    const jsm = await jetstreamManager(nc);
    await queue();
    expect((await jsm.streams.info(JETSTREAM.jobStream)).config.num_replicas).toBe(JETSTREAM.replicas);
    await jetstream(nc).publish('diffusevae.jobs.work', '{"waiting":"job"}');

    await queue(3);
    const info = await jsm.streams.info(JETSTREAM.jobStream);
    expect(info.config.num_replicas).toBe(3);
    expect(info.state.messages).toBe(1);
    // the durable consumer every runner shares has its three copies too
    await expect
      .poll(async () => (await jsm.consumers.info(JETSTREAM.jobStream, JETSTREAM.jobConsumer)).cluster?.replicas?.length, { timeout: 10_000 })
      .toBe(2);

    await queue(1);
    expect((await jsm.streams.info(JETSTREAM.jobStream)).config.num_replicas).toBe(3);
    await jsm.streams.delete(JETSTREAM.jobStream);
  });

  it('the job stream: created with JETSTREAM_REPLICAS copies', async () => {
    await queue(3);
    expect((await (await jetstreamManager(nc)).streams.info(JETSTREAM.jobStream)).config.num_replicas).toBe(3);
  });

  it('the buckets of job states, API keys and running jobs per key', async () => {
    const jobs = await KvJobStore.open(nc, { bucket: 'jobs-r3', retentionMs: 60_000, replicas: 3 });
    await KvKeyStore.open(nc, { bucket: 'keys-r3', replicas: 3 });
    await KvActiveJobs.open(nc, jobs, { bucket: 'keys-r3', replicas: 3 });
    // one opened R1 (`npm run keys` reads no JETSTREAM_REPLICAS) is raised by the next gateway
    await KvKeyStore.open(nc, { bucket: 'keys-raised' });
    const keys = await KvKeyStore.open(nc, { bucket: 'keys-raised', replicas: 3 });
    expect((await keys.create('kept')).record.name).toBe('kept');
    await KvActiveJobs.open(nc, new InMemoryJobStore(10), { bucket: 'active-raised', replicas: 1 });
    await KvActiveJobs.open(nc, new InMemoryJobStore(10), { bucket: 'active-raised', replicas: 3 });

    const jsm = await jetstreamManager(nc);
    for (const bucket of ['jobs-r3', 'keys-r3', 'keys-raised', 'active-raised']) {
      expect((await jsm.streams.info(`KV_${bucket}`)).config.num_replicas, bucket).toBe(3);
    }
    await expect(KvKeyStore.open(nc, { bucket: 'keys-r5', replicas: 5 })).rejects.toThrow(/JETSTREAM_REPLICAS=5: KV bucket keys-r5 needs a nats-server cluster/);
    // more copies than servers: neither raised nor created, and the error says why
    await queue(3);
    await expect(queue(5)).rejects.toThrow(/^no suitable peers for placement \(JETSTREAM_REPLICAS=5: stream DIFFUSEVAE_JOBS needs a nats-server cluster/);
    expect((await jsm.streams.info(JETSTREAM.jobStream)).config.num_replicas).toBe(3);
    await jsm.streams.delete(JETSTREAM.jobStream);
    await expect(queue(5)).rejects.toThrow(/JETSTREAM_REPLICAS=5: stream DIFFUSEVAE_JOBS needs a nats-server cluster/);
  });
});
