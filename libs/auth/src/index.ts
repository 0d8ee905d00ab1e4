export {
  DEFAULT_KEY_LIMITS,
  DEFAULT_SCOPES,
  KeyError,
  SCOPES,
  checkLimits,
  checkScopes,
  hasScope,
  hashKey,
  keyId,
  matches,
  newKey,
  type ApiKeyRecord,
  type KeyLimits,
  type Scope,
} from './keys.js';
export { KEY_CACHE_MS, KvKeyStore, MemoryKeyStore, type KeyStore } from './store.js';
export { RateLimiter, TokenBucket } from './rate.js';
export { AUTH_MODES, DEV_KEY_NAME, ensureDevKey, type AuthMode, type DevKey } from './dev-key.js';
