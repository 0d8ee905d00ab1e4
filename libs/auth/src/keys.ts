/**
 * API keys. A key is `dvae_<id>_<secret>`: the id (12 hex digits) names its record, the secret (32 random bytes,
 * base64url) is known only to its holder. The store keeps a record per id with the SHA-256 of the whole key, never
 * the key: a key has 256 bits of entropy, so a fast hash is as good as a slow one (no dictionary to try), and a
 * check costs microseconds. Records carry a name, scopes and per-key limits; a revoked record stays, marked, so
 * that `list` shows what was revoked and when.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

export const SCOPES = ['submit', 'read', 'admin'] as const;
/** submit: create and cancel jobs; read: read jobs and subscribe to their progress; admin: every key's jobs */
export type Scope = (typeof SCOPES)[number];

export interface KeyLimits {
  /** GraphQL requests (and subscriptions) per minute */
  requestsPerMinute: number;
  /** jobs queued or running at once */
  concurrentJobs: number;
  /** count × steps of the jobs submitted per minute */
  imageStepsPerMinute: number;
}

/** What a key gets when `keys create` is given no limits: a few people's interactive use of one machine. */
export const DEFAULT_KEY_LIMITS: KeyLimits = { requestsPerMinute: 600, concurrentJobs: 16, imageStepsPerMinute: 200_000 };
export const DEFAULT_SCOPES: readonly Scope[] = ['submit', 'read'];

export interface ApiKeyRecord {
  id: string;
  name: string;
  /** hex SHA-256 of the whole key */
  sha256: string;
  scopes: Scope[];
  limits: KeyLimits;
  createdAt: string;
  revokedAt?: string;
}

export class KeyError extends Error {
  override name = 'KeyError';
}

const KEY = /^dvae_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$/;
const NAME = /^[A-Za-z0-9][A-Za-z0-9 ._@-]{0,63}$/;

export function hashKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

/** A new key and its record (the key itself is shown once and never stored). */
export function newKey(name: string, scopes: readonly Scope[] = DEFAULT_SCOPES, limits: Partial<KeyLimits> = {}, now = new Date()): { key: string; record: ApiKeyRecord } {
  if (!NAME.test(name)) throw new KeyError(`name: must be 1–64 letters, digits, spaces and . _ @ - (starting with a letter or digit), got ${JSON.stringify(name)}`);
  const id = randomBytes(6).toString('hex');
  const key = `dvae_${id}_${randomBytes(32).toString('base64url')}`;
  return { key, record: { id, name, sha256: hashKey(key), scopes: checkScopes(scopes), limits: checkLimits({ ...DEFAULT_KEY_LIMITS, ...limits }), createdAt: now.toISOString() } };
}

/** The record's id in a well-formed key; undefined for anything else (which is never looked up). */
export function keyId(key: string): string | undefined {
  return KEY.exec(key)?.[1];
}

/** True when `key` is the key this record was made for (constant time in the hash). */
export function matches(record: ApiKeyRecord, key: string): boolean {
  const a = Buffer.from(record.sha256, 'hex');
  const b = Buffer.from(hashKey(key), 'hex');
  return a.length === b.length && timingSafeEqual(a, b);
}

export function checkScopes(scopes: readonly string[]): Scope[] {
  const bad = scopes.filter((s) => !(SCOPES as readonly string[]).includes(s));
  if (bad.length) throw new KeyError(`scopes: each must be one of ${SCOPES.join(', ')}, got ${bad.map((s) => JSON.stringify(s)).join(', ')}`);
  if (scopes.length === 0) throw new KeyError(`scopes: at least one of ${SCOPES.join(', ')}`);
  return [...new Set(scopes)] as Scope[];
}

const LIMIT_RANGES: Record<keyof KeyLimits, [number, number]> = {
  requestsPerMinute: [1, 1_000_000],
  concurrentJobs: [1, 100_000],
  imageStepsPerMinute: [1, 1_000_000_000],
};

export function checkLimits(limits: KeyLimits): KeyLimits {
  for (const [name, [min, max]] of Object.entries(LIMIT_RANGES) as [keyof KeyLimits, [number, number]][]) {
    const v = limits[name];
    if (!Number.isInteger(v) || v < min || v > max) throw new KeyError(`limits.${name}: must be an integer in [${min}, ${max}], got ${String(v)}`);
  }
  return { requestsPerMinute: limits.requestsPerMinute, concurrentJobs: limits.concurrentJobs, imageStepsPerMinute: limits.imageStepsPerMinute };
}

export function hasScope(record: { scopes: readonly Scope[] }, scope: Scope): boolean {
  return record.scopes.includes(scope) || record.scopes.includes('admin');
}
