import { JETSTREAM } from '@diffusevae/contracts';
import { startNatsCluster, startNatsServer, type NatsCluster } from '@diffusevae/testing';
import { Kvm } from '@nats-io/kv';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kvCheckpoints, openKvBucket, retryTransient, transientJetStream } from '../src/index.js';

// JETSTREAM_REPLICAS on a real three-node cluster: buckets are created with that many copies, an existing one
// with fewer is raised (its keys kept), one with more keeps them; a single server refuses R3 with a message that
// names the setting.
let cluster: NatsCluster;
let nc: NatsConnection;
const replicasOf = async (bucket: string) => (await (await new Kvm(nc).open(bucket)).status()).replicas;

beforeAll(async () => {
  cluster = await startNatsCluster();
  nc = await connect({ servers: cluster.urls });
});
afterAll(async () => {
  await nc?.close();
  await cluster?.stop();
});

describe('openKvBucket', () => {
  it('creates a bucket with the replicas asked for', async () => {
    await openKvBucket(nc, 'r3-new', { history: 1, replicas: 3 });
    expect(await replicasOf('r3-new')).toBe(3);
  });

  it('raises an existing bucket with fewer replicas, keeping its keys; never lowers one', async () => {
    const r1 = await openKvBucket(nc, 'r1-then-r3', { history: 1, replicas: 1 });
    await r1.put('kept', 'yes');
    expect(await replicasOf('r1-then-r3')).toBe(1);
    const r3 = await openKvBucket(nc, 'r1-then-r3', { history: 1, replicas: 3 });
    expect(await replicasOf('r1-then-r3')).toBe(3);
    expect((await r3.get('kept'))?.string()).toBe('yes');
    // a process with the default (or a stale setting) leaves the three copies as they are
    await openKvBucket(nc, 'r1-then-r3', { history: 1, replicas: JETSTREAM.replicas });
    expect(await replicasOf('r1-then-r3')).toBe(3);
  });

  it('says what JETSTREAM_REPLICAS needs when the servers cannot place the copies', async () => {
    await expect(openKvBucket(nc, 'r5', { history: 1, replicas: 5 })).rejects.toThrow(
      /JETSTREAM_REPLICAS=5: KV bucket r5 needs a nats-server cluster with at least 5 JetStream servers up/,
    );
    const single = await startNatsServer({ jetstream: true });
    const snc = await connect({ servers: single.url });
    try {
      await expect(openKvBucket(snc, 'r3-single', { history: 1, replicas: 3 })).rejects.toThrow(
        /replicas > 1 not supported in non-clustered mode \(JETSTREAM_REPLICAS=3: KV bucket r3-single needs a nats-server cluster/,
      );
    } finally {
      await snc.close();
      await single.stop();
    }
  });
});

describe('kvCheckpoints', () => {
  it('keeps checkpoints in JETSTREAM_REPLICAS copies', async () => {
    await kvCheckpoints(nc, { ttlMs: 60_000, bucket: 'ckpt-r3', replicas: 3 });
    expect(await replicasOf('ckpt-r3')).toBe(3);
    await kvCheckpoints(nc, { ttlMs: 60_000, bucket: 'ckpt-default' });
    expect(await replicasOf('ckpt-default')).toBe(JETSTREAM.replicas);
  });
});

describe('retryTransient', () => {
  it('tries again while JetStream is unavailable for a moment, not when it refuses', async () => {
    let calls = 0;
    const flaky = async () => {
      if (++calls < 3) throw new Error('no responders: $KV.b.k');
      return 'done';
    };
    expect(await retryTransient(flaky, 5000)).toBe('done');
    expect(calls).toBe(3);

    calls = 0;
    const refused = async () => {
      calls++;
      throw new Error('wrong last sequence: 7');
    };
    await expect(retryTransient(refused, 5000)).rejects.toThrow(/wrong last sequence/);
    expect(calls).toBe(1);

    const t0 = Date.now();
    await expect(retryTransient(() => Promise.reject(new Error('timeout')), 400)).rejects.toThrow(/^timeout$/);
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(['jetstream is not enabled', 'JetStream system temporarily unavailable'].every((m) => transientJetStream(new Error(m)))).toBe(true);
    expect(transientJetStream(new Error('jetstream not enabled for account'))).toBe(false);
  });

  it('a KV write rides out the election that follows the death of the bucket leader', async () => {
    const kv = await openKvBucket(nc, 'ride-out', { history: 1, replicas: 3 });
    await kv.put('k', 'before');
    const leader = (await kv.status()).streamInfo.cluster!.leader!;
    const i = cluster.indexOf(leader);
    await cluster.kill(i);
    try {
      const t0 = Date.now();
      await retryTransient(() => kv.put('k', 'after'));
      expect((await retryTransient(() => kv.get('k')))?.string()).toBe('after');
      expect(Date.now() - t0).toBeLessThan(30_000);
    } finally {
      await cluster.restart(i);
    }
  }, 60_000);
});
