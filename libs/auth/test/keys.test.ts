import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNatsServer, type NatsServer } from '@diffusevae/testing';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { KeyError, KvKeyStore, MemoryKeyStore, hasScope, keyId, matches, newKey, type KeyStore } from '../src/index.js';

describe('keys', () => {
  it('are dvae_<id>_<secret>, stored as a hash only', () => {
    const { key, record } = newKey('ci');
    expect(key).toMatch(/^dvae_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$/);
    expect(keyId(key)).toBe(record.id);
    expect(JSON.stringify(record)).not.toContain(key.split('_')[2]);
    expect(matches(record, key)).toBe(true);
    expect(matches(record, `${key.slice(0, -1)}${key.endsWith('A') ? 'B' : 'A'}`)).toBe(false);
    expect(record.scopes).toEqual(['submit', 'read']);
  });

  it('refuse bad names, scopes and limits naming the field', () => {
    expect(() => newKey('')).toThrow(/name: must be/);
    expect(() => newKey('x', ['write' as never])).toThrow(/scopes: each must be one of submit, read, admin, got "write"/);
    expect(() => newKey('x', [], {})).toThrow(/scopes: at least one/);
    expect(() => newKey('x', ['read'], { concurrentJobs: 0 })).toThrow(KeyError);
    expect(() => newKey('x', ['read'], { requestsPerMinute: 1.5 })).toThrow(/limits.requestsPerMinute/);
  });

  it('admin implies every scope', () => {
    expect(hasScope({ scopes: ['admin'] }, 'submit')).toBe(true);
    expect(hasScope({ scopes: ['read'] }, 'submit')).toBe(false);
  });

  it('ignore anything that is not a key', () => {
    for (const k of ['', 'Bearer', 'dvae_', 'dvae_zzzzzzzzzzzz_x', 'x'.repeat(5000)]) expect(keyId(k)).toBeUndefined();
  });
});

function storeContract(name: string, open: () => Promise<KeyStore>) {
  describe(name, () => {
    it('verifies its keys, and no longer once revoked (by id or by name)', async () => {
      const store = await open();
      const a = await store.create('alice', ['submit', 'read'], { concurrentJobs: 2 });
      const b = await store.create('bob');
      expect((await store.verify(a.key))?.name).toBe('alice');
      expect((await store.verify(a.key))?.limits.concurrentJobs).toBe(2);
      expect(await store.verify(a.key.replace(/.$/, (c) => (c === 'a' ? 'b' : 'a')))).toBeUndefined();
      expect(await store.verify(`dvae_${'0'.repeat(12)}_${'A'.repeat(43)}`)).toBeUndefined();
      expect((await store.list()).map((r) => r.name)).toEqual(expect.arrayContaining(['alice', 'bob']));
      await store.revoke(a.record.id);
      expect(await store.verify(a.key)).toBeUndefined();
      await store.revoke('bob');
      expect(await store.verify(b.key)).toBeUndefined();
      expect((await store.get(b.record.id))?.revokedAt).toBeDefined();
      await expect(store.revoke('nobody')).rejects.toThrow(/no key with id or name "nobody"/);
    });
  });
}

storeContract('MemoryKeyStore', async () => new MemoryKeyStore());

let nats: NatsServer;
let nc: NatsConnection;
beforeAll(async () => {
  nats = await startNatsServer({ jetstream: true });
  nc = await connect({ servers: nats.url });
});
afterAll(async () => {
  await nc?.close();
  await nats?.stop();
});
storeContract('KvKeyStore', () => KvKeyStore.open(nc, { cacheMs: 0 }));

describe('KvKeyStore', () => {
  it('is shared: a key made through one connection verifies through another; the cache holds a revocation back at most cacheMs', async () => {
    const writer = await KvKeyStore.open(nc, { cacheMs: 0 });
    const nc2 = await connect({ servers: nats.url });
    try {
      const reader = await KvKeyStore.open(nc2, { cacheMs: 60_000 });
      const { key, record } = await writer.create('shared');
      expect((await reader.verify(key))?.id).toBe(record.id);
      await writer.revoke(record.id);
      expect(await reader.verify(key)).toBeDefined(); // cached
      const fresh = await KvKeyStore.open(nc2, { cacheMs: 0 });
      expect(await fresh.verify(key)).toBeUndefined();
    } finally {
      await nc2.close();
    }
  });
});
