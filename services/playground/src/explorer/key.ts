/**
 * The API key hand-off, as the Apollo Sandbox page had it (services/gateway/src/explorer.ts): `/graphql#key=dvae_…`
 * opens the explorer with `{"Authorization": "Bearer dvae_…"}` in the request headers. A fragment never reaches a
 * server (nor its logs or a proxy's), and the page removes it from the address bar before anything renders. Without a
 * fragment, a key the playground saved in localStorage (under PLAYGROUND_KEY_STORAGE) is used instead.
 */

/** Where the playground page (src/app) keeps the key it was given. */
export const PLAYGROUND_KEY_STORAGE = 'diffusevae.apiKey';

/** `dvae_…` or `Bearer dvae_…` → the bare key; null when empty. */
function bareKey(value: string | null | undefined): string | null {
  const key = (value ?? '').trim().replace(/^Bearer\s+/i, '').trim();
  return key === '' ? null : key;
}

/** Reads `#key=` (then strips it from the address bar with history.replaceState), else the playground's saved key. */
export function takePresetKey(): string | null {
  const fromFragment = bareKey(new URLSearchParams(window.location.hash.slice(1)).get('key'));
  if (fromFragment) {
    history.replaceState(history.state, '', window.location.pathname + window.location.search);
    return fromFragment;
  }
  try {
    return bareKey(window.localStorage.getItem(PLAYGROUND_KEY_STORAGE));
  } catch {
    return null; // storage disabled (privacy mode, sandboxed frame)
  }
}

/** The request headers for a key: `{ Authorization: 'Bearer …' }`, or undefined without one. */
export function headersFor(key: string | null): Record<string, string> | undefined {
  return key ? { Authorization: `Bearer ${key}` } : undefined;
}
