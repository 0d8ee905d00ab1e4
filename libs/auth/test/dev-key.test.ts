import { describe, expect, it } from 'vitest';
import { DEV_KEY_NAME, ensureDevKey } from '../src/dev-key.js';
import { DEFAULT_SCOPES } from '../src/keys.js';
import { MemoryKeyStore } from '../src/store.js';

describe('ensureDevKey', () => {
  it('creates a development key the first time, then keeps the saved one while it verifies', async () => {
    const store = new MemoryKeyStore();
    const first = await ensureDevKey(store, undefined);
    expect(first.created).toBe(true);
    expect(first.record.name).toBe(DEV_KEY_NAME);
    expect(first.record.scopes).toEqual([...DEFAULT_SCOPES]);
    expect(await store.verify(first.key)).toBeDefined();

    const again = await ensureDevKey(store, first.key);
    expect(again).toMatchObject({ key: first.key, created: false });
    expect((await store.list()).length).toBe(1);
  });

  it('replaces a saved key that was revoked or is unknown to this store', async () => {
    const store = new MemoryKeyStore();
    const first = await ensureDevKey(store, undefined);
    await store.revoke(first.record.id);
    const after = await ensureDevKey(store, first.key);
    expect(after.created).toBe(true);
    expect(after.key).not.toBe(first.key);

    const elsewhere = await ensureDevKey(new MemoryKeyStore(), after.key);
    expect(elsewhere.created).toBe(true);
  });
});
