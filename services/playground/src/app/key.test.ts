import { describe, expect, it } from 'vitest';
import { bareKey, KEY_STORAGE, keyFromHash, loadStoredKey, storeKey } from './key';

describe('keyFromHash', () => {
  it('takes #key=… and keeps the rest of the fragment', () => {
    expect(keyFromHash('#key=dvae_abc_123')).toEqual({ key: 'dvae_abc_123', rest: '' });
    expect(keyFromHash('#key=dvae_x&tab=2')).toEqual({ key: 'dvae_x', rest: '#tab=2' });
    expect(keyFromHash('#key=Bearer%20dvae_y')).toEqual({ key: 'dvae_y', rest: '' });
  });
  it('is null without a key', () => {
    expect(keyFromHash('')).toEqual({ key: null, rest: '' });
    expect(keyFromHash('#key=')).toEqual({ key: null, rest: '' });
    expect(keyFromHash('#other=1')).toEqual({ key: null, rest: '#other=1' });
  });
});

describe('storage', () => {
  it('stores, loads and forgets the key under the shared item', () => {
    const map = new Map<string, string>();
    const storage = { getItem: (k: string) => map.get(k) ?? null, setItem: (k: string, v: string) => void map.set(k, v), removeItem: (k: string) => void map.delete(k) };
    storeKey(storage, 'dvae_k');
    expect(map.get(KEY_STORAGE)).toBe('dvae_k');
    expect(loadStoredKey(storage)).toBe('dvae_k');
    storeKey(storage, null);
    expect(loadStoredKey(storage)).toBeNull();
  });
  it('survives storage that throws', () => {
    const broken = { getItem: () => { throw new Error('denied'); }, setItem: () => { throw new Error('denied'); }, removeItem: () => { throw new Error('denied'); } };
    expect(loadStoredKey(broken)).toBeNull();
    expect(() => storeKey(broken, 'k')).not.toThrow();
  });
  it('bareKey trims and drops Bearer', () => {
    expect(bareKey('  Bearer dvae_z ')).toBe('dvae_z');
    expect(bareKey('   ')).toBeNull();
  });
});
