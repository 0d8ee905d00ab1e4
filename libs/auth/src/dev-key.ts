/**
 * The development key `npm start` hands a new user: the one it saved last time while it still works, else a new
 * key named `development` (submit and read, default limits). Saving it is the caller's (a file only its owner reads).
 */
import { DEFAULT_SCOPES, type ApiKeyRecord } from './keys.js';
import type { KeyStore } from './store.js';

export const DEV_KEY_NAME = 'development';

export interface DevKey {
  key: string;
  record: ApiKeyRecord;
  /** true when this call made it (the saved one was missing, revoked or unknown to this store) */
  created: boolean;
}

export async function ensureDevKey(store: KeyStore, saved: string | undefined): Promise<DevKey> {
  const record = saved ? await store.verify(saved) : undefined;
  if (saved && record) return { key: saved, record, created: false };
  const made = await store.create(DEV_KEY_NAME, DEFAULT_SCOPES);
  return { ...made, created: true };
}

/** AUTH, as the gateway and the launcher read it: keys (the default) asks every request for a key; none does not. */
export const AUTH_MODES = ['keys', 'none'] as const;
export type AuthMode = (typeof AUTH_MODES)[number];
