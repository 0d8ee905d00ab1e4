/** The API key hand-off (`#key=…` in the address) and where the page keeps it. Pure but for the storage wrapper. */

/** Shared with the explorer (src/explorer/key.ts reads the same item). */
export const KEY_STORAGE = 'diffusevae.apiKey';

/** "dvae_…" or "Bearer dvae_…" → the bare key; null when empty. */
export function bareKey(value: string | null | undefined): string | null {
  const key = (value ?? '').trim().replace(/^Bearer\s+/i, '').trim();
  return key === '' ? null : key;
}

/** "#key=dvae_x&foo=1" → { key: "dvae_x", rest: "#foo=1" }; key null when the fragment has none. */
export function keyFromHash(hash: string): { key: string | null; rest: string } {
  const params = new URLSearchParams(hash.replace(/^#/, ''));
  const key = bareKey(params.get('key'));
  params.delete('key');
  const rest = params.toString();
  return { key, rest: rest ? `#${rest}` : '' };
}

export function loadStoredKey(storage: Pick<Storage, 'getItem'> | undefined): string | null {
  try {
    return bareKey(storage?.getItem(KEY_STORAGE));
  } catch {
    return null; // storage disabled
  }
}

export function storeKey(storage: Pick<Storage, 'setItem' | 'removeItem'> | undefined, key: string | null): void {
  try {
    if (key) storage?.setItem(KEY_STORAGE, key);
    else storage?.removeItem(KEY_STORAGE);
  } catch {
    // storage disabled: the key lives for this page only
  }
}
