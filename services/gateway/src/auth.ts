/**
 * Who is calling and what they may do. Every request carries an API key (`Authorization: Bearer <key>` over HTTP,
 * `{ authorization: "Bearer <key>" }` or `{ apiKey }` in graphql-ws's connection payload); the key's record gives
 * its scopes and limits. With AUTH=none there are no keys: every caller is one admin without limits (loopback
 * only; see config.ts).
 *
 * Limits per key: requests (and subscriptions) per minute and image-steps per minute are token buckets in this
 * replica (a key spread over N replicas gets up to N times as much: size them for one); concurrent jobs are
 * counted across every replica (active-jobs.ts).
 */
import { PlatformError } from '@diffusevae/contracts';
import { hasScope, RateLimiter, type KeyLimits, type KeyStore, type Scope } from '@diffusevae/auth';
import type { ActiveJobs } from './active-jobs.js';
import type { Job } from './jobs.js';

export interface Principal {
  /** the key's id (what jobs record as their owner) */
  id: string;
  name: string;
  scopes: readonly Scope[];
  limits: KeyLimits;
}

const UNLIMITED: KeyLimits = { requestsPerMinute: Number.MAX_SAFE_INTEGER, concurrentJobs: Number.MAX_SAFE_INTEGER, imageStepsPerMinute: Number.MAX_SAFE_INTEGER };
/** The only caller when AUTH=none. */
export const OPEN_ACCESS: Principal = { id: 'open', name: 'anyone (AUTH=none)', scopes: ['admin'], limits: UNLIMITED };

export const HOW_TO_GET_A_KEY = 'send an API key as `Authorization: Bearer <key>` (graphql-ws: connection payload { authorization: "Bearer <key>" }); an operator creates one with `npm run keys -- create --name NAME`';

/** The key in an Authorization header value or a graphql-ws connection payload, if any. */
export function presentedKey(credential: unknown): string | undefined {
  if (typeof credential !== 'string') return undefined;
  const m = /^\s*Bearer\s+(\S+)\s*$/i.exec(credential);
  return m ? m[1] : undefined;
}

export function connectionKey(payload: unknown): string | undefined {
  if (!payload || typeof payload !== 'object') return undefined;
  const p = payload as Record<string, unknown>;
  const auth = p['authorization'] ?? p['Authorization'];
  return presentedKey(auth) ?? (typeof p['apiKey'] === 'string' ? p['apiKey'] : undefined);
}

const seconds = (ms: number) => Math.max(1, Math.ceil(ms / 1000));

export class Guard {
  private readonly rates = new RateLimiter();

  /** keys: undefined for AUTH=none */
  constructor(
    private readonly keys: KeyStore | undefined,
    private readonly active: ActiveJobs | undefined,
  ) {}

  get open(): boolean {
    return this.keys === undefined;
  }

  /** The caller, or UNAUTHENTICATED saying how to get a key. */
  async authenticate(key: string | undefined): Promise<Principal> {
    if (!this.keys) return OPEN_ACCESS;
    if (!key) throw new PlatformError('UNAUTHENTICATED', `no API key: ${HOW_TO_GET_A_KEY}`);
    const record = await this.keys.verify(key);
    if (!record) throw new PlatformError('UNAUTHENTICATED', `the API key is not valid (unknown or revoked): ${HOW_TO_GET_A_KEY}`);
    return { id: record.id, name: record.name, scopes: record.scopes, limits: record.limits };
  }

  require(p: Principal, scope: Scope): void {
    if (!hasScope(p, scope)) throw new PlatformError('FORBIDDEN', `the API key "${p.name}" lacks the ${scope} scope (it has ${p.scopes.join(', ')})`);
  }

  /** One request or subscription: RATE_LIMITED past the key's requests per minute. */
  admitRequest(p: Principal): void {
    if (this.open) return;
    const wait = this.rates.take(`req:${p.id}`, p.limits.requestsPerMinute);
    if (wait > 0) throw new PlatformError('RATE_LIMITED', `the API key "${p.name}" is over its ${p.limits.requestsPerMinute} requests per minute: try again in ${seconds(wait)} s`, undefined, wait);
  }

  /**
   * A job of `imageSteps` (count × steps) for this key: its image-steps per minute, then its concurrent jobs. Returns
   * what undoes both, for a job that is not submitted after all.
   */
  async admitJob(p: Principal, jobId: string, imageSteps: number, field: string): Promise<() => Promise<void>> {
    if (this.open) return async () => {};
    const bucket = `steps:${p.id}`;
    const wait = this.rates.take(bucket, p.limits.imageStepsPerMinute, imageSteps);
    if (wait === Infinity) {
      throw new PlatformError('RATE_LIMITED', `${field}: ${imageSteps} image-steps (count × steps) is over the API key's limit of ${p.limits.imageStepsPerMinute} per minute: ask for fewer images or steps`);
    }
    if (wait > 0) {
      throw new PlatformError('RATE_LIMITED', `the API key "${p.name}" is over its ${p.limits.imageStepsPerMinute} image-steps (count × steps) per minute: try again in ${seconds(wait)} s`, undefined, wait);
    }
    if (this.active && !(await this.active.acquire(p.id, jobId, p.limits.concurrentJobs).catch((e: unknown) => (this.rates.give(bucket, imageSteps), Promise.reject(e))))) {
      this.rates.give(bucket, imageSteps);
      throw new PlatformError('RATE_LIMITED', `the API key "${p.name}" has ${p.limits.concurrentJobs} jobs queued or running, its limit: try again when one finishes (or cancel one)`, undefined, 1000);
    }
    return async () => {
      this.rates.give(bucket, imageSteps);
      await this.release(p.id, jobId);
    };
  }

  /** A job of this owner ended (its final state is stored). */
  async release(owner: string | undefined, jobId: string): Promise<void> {
    if (this.open || !owner || !this.active) return;
    await this.active.release(owner, jobId);
  }

  /** Jobs are seen only by the key that made them, and by admins. */
  canSee(p: Principal, job: Job): boolean {
    return this.seesEveryJob(p) || job.owner === p.id;
  }

  seesEveryJob(p: Principal): boolean {
    return hasScope(p, 'admin');
  }
}

/** The HTTP status and Retry-After a failure code gets when an operation did nothing else. */
export function httpStatusOf(code: unknown): number | undefined {
  switch (code) {
    case 'UNAUTHENTICATED':
      return 401;
    case 'FORBIDDEN':
      return 403;
    case 'RATE_LIMITED':
    case 'RESOURCE_EXHAUSTED':
      return 429;
    default:
      return undefined;
  }
}
