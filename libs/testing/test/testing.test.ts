import { existsSync } from 'node:fs';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { describe, expect, it } from 'vitest';
import { startNatsServer, startService } from '../src/index.js';

describe('startNatsServer', () => {
  it('starts a server on a random port that accepts connections, and stops it', async () => {
    const ns = await startNatsServer();
    const nc = await connect({ servers: ns.url });
    expect(nc.info?.port).toBe(ns.port);
    expect(nc.info?.jetstream).toBeFalsy();
    await nc.close();
    await ns.stop();
    await expect(connect({ servers: ns.url, reconnect: false, timeout: 500 })).rejects.toThrow();
  });

  it('starts JetStream in a temporary folder that stop() removes', async () => {
    const ns = await startNatsServer({ jetstream: true });
    const nc = await connect({ servers: ns.url });
    expect(nc.info?.jetstream).toBe(true);
    await nc.close();
    expect(existsSync(ns.storeDir!)).toBe(true);
    await ns.stop();
    expect(existsSync(ns.storeDir!)).toBe(false);
  });

  it('restarts on the same port with its JetStream data; a client reconnects and finds its stream', async () => {
    const ns = await startNatsServer({ jetstream: true });
    const nc = await connect({ servers: ns.url, reconnectTimeWait: 100, maxReconnectAttempts: -1 });
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: 'KEEP', subjects: ['keep.>'] });
    await jetstream(nc).publish('keep.one', 'x');
    const before = ns.pid;
    await ns.restart(300);
    expect(ns.pid).not.toBe(before);
    await expect.poll(async () => (await jsm.streams.info('KEEP').catch(() => undefined))?.state.messages, { timeout: 10_000 }).toBe(1);
    await nc.close();
    await ns.stop();
  }, 20_000);

  it('takes a configuration file', async () => {
    const ns = await startNatsServer({ config: 'max_payload: 65536' });
    const nc = await connect({ servers: ns.url });
    expect(nc.info?.max_payload).toBe(65536);
    await nc.close();
    await ns.stop();
  });
});

describe('startService', () => {
  it('waits for the readiness line and stops the process with SIGTERM', async () => {
    const svc = await startService('libs/testing/test/fixtures/echo-service.ts', { ECHO_URL: 'nats://example:1' });
    expect(svc.output()).toContain('"msg":"ready on nats://example:1 (echo)"');
    expect(await svc.stop()).toBe(0);
  });

  it('fails with the output when the process exits before it is ready', async () => {
    await expect(startService('libs/testing/test/fixtures/no-such-file.ts', {}, { timeoutMs: 20_000 })).rejects.toThrow(/exited/);
  });
});
