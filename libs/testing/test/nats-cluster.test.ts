import { existsSync } from 'node:fs';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { describe, expect, it } from 'vitest';
import { startNatsCluster } from '../src/index.js';

describe('startNatsCluster', () => {
  it('forms a cluster of three with a JetStream meta leader; R3 survives the kill of its leader; the node rejoins', async () => {
    const cluster = await startNatsCluster();
    const nc = await connect({ servers: cluster.urls, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
    try {
      expect(cluster.nodes.map((n) => n.name)).toEqual(['n0', 'n1', 'n2']);
      expect(new Set(cluster.nodes.flatMap((n) => [n.port, n.clusterPort, n.monitorPort])).size).toBe(9);
      expect(cluster.url).toBe(cluster.urls.join(','));
      expect(cluster.indexOf((await cluster.metaLeader())!)).toBeGreaterThanOrEqual(0);
      expect(nc.info?.jetstream).toBe(true);

      // three copies, one leader and two current followers
      const jsm = await jetstreamManager(nc);
      const created = await jsm.streams.add({ name: 'R3', subjects: ['r3.>'], num_replicas: 3 });
      expect(created.config.num_replicas).toBe(3);
      await jetstream(nc).publish('r3.a', 'one');
      const leader = (await jsm.streams.info('R3')).cluster!.leader!;
      const i = cluster.indexOf(leader);
      expect(i).toBeGreaterThanOrEqual(0);

      // a crash of the stream's leader: the two others elect a new one and keep every message
      const pid = cluster.nodes[i]!.pid;
      await cluster.kill(i);
      expect(cluster.nodes[i]!.pid).toBeUndefined();
      await expect
        .poll(async () => (await jsm.streams.info('R3', undefined).catch(() => undefined))?.cluster?.leader, { timeout: 20_000, interval: 200 })
        .toMatch(/^n[0-2]$/);
      const after = await jsm.streams.info('R3');
      expect(after.cluster!.leader).not.toBe(leader);
      expect(after.state.messages).toBe(1);
      await jetstream(nc).publish('r3.b', 'two', { timeout: 10_000 });

      // back on its ports and store: it rejoins and catches up
      await cluster.restart(i);
      expect(cluster.nodes[i]!.pid).not.toBe(pid);
      await expect
        .poll(async () => (await jsm.streams.info('R3')).cluster?.replicas?.filter((r) => r.current).length, { timeout: 20_000, interval: 200 })
        .toBe(2);
      expect((await jsm.streams.info('R3')).state.messages).toBe(2);
      expect(cluster.nodes[i]!.output()).toMatch(/Server is ready[\s\S]*Server is ready/);
    } finally {
      await nc.close();
      await cluster.stop();
    }
    expect(cluster.nodes.every((n) => !existsSync(n.storeDir))).toBe(true);
  }, 60_000);
});
