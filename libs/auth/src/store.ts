/**
 * Where key records live: a JetStream KV bucket (every gateway replica sees the same keys; `keys create` and
 * `revoke` from anywhere), or a Map (tests, a single process). `verify` caches what it read for a few seconds, so a
 * request costs no round trip; a revocation reaches every replica within that time.
 */
import { JETSTREAM } from '@diffusevae/contracts';
import { Kvm, type KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { KeyError, keyId, matches, newKey, type ApiKeyRecord, type KeyLimits, type Scope } from './keys.js';

export interface KeyStore {
  create(name: string, scopes?: readonly Scope[], limits?: Partial<KeyLimits>): Promise<{ key: string; record: ApiKeyRecord }>;
  get(id: string): Promise<ApiKeyRecord | undefined>;
  list(): Promise<ApiKeyRecord[]>;
  /** marks the key with this id (or the only live key with this name) revoked; returns its record */
  revoke(idOrName: string): Promise<ApiKeyRecord>;
  /** the live record a presented key belongs to, or undefined (unknown, wrong secret, revoked) */
  verify(key: string): Promise<ApiKeyRecord | undefined>;
}

/** How long `verify` trusts what it read (ms): the longest a revoked key keeps working on another replica. */
export const KEY_CACHE_MS = 5000;

abstract class CachedKeyStore implements KeyStore {
  private readonly cache = new Map<string, { record: ApiKeyRecord | undefined; at: number }>();
  constructor(private readonly cacheMs: number) {}

  abstract get(id: string): Promise<ApiKeyRecord | undefined>;
  abstract list(): Promise<ApiKeyRecord[]>;
  protected abstract save(record: ApiKeyRecord): Promise<void>;

  async create(name: string, scopes?: readonly Scope[], limits?: Partial<KeyLimits>) {
    const made = newKey(name, scopes, limits);
    await this.save(made.record);
    return made;
  }

  async revoke(idOrName: string): Promise<ApiKeyRecord> {
    let record = /^[0-9a-f]{12}$/.test(idOrName) ? await this.get(idOrName) : undefined;
    if (!record) {
      const named = (await this.list()).filter((r) => r.name === idOrName && !r.revokedAt);
      if (named.length > 1) throw new KeyError(`${named.length} live keys are named ${JSON.stringify(idOrName)}: revoke one by id (${named.map((r) => r.id).join(', ')})`);
      record = named[0];
    }
    if (!record) throw new KeyError(`no key with id or name ${JSON.stringify(idOrName)} (see \`keys list\`)`);
    if (record.revokedAt) return record;
    const revoked = { ...record, revokedAt: new Date().toISOString() };
    await this.save(revoked);
    this.cache.delete(record.id);
    return revoked;
  }

  async verify(key: string): Promise<ApiKeyRecord | undefined> {
    const id = keyId(key);
    if (!id) return undefined;
    const now = Date.now();
    let hit = this.cache.get(id);
    if (!hit || now - hit.at > this.cacheMs) {
      hit = { record: await this.get(id), at: now };
      if (this.cache.size > 10_000) this.cache.clear();
      this.cache.set(id, hit);
    }
    const r = hit.record;
    return r && !r.revokedAt && matches(r, key) ? r : undefined;
  }
}

export class MemoryKeyStore extends CachedKeyStore {
  private readonly records = new Map<string, ApiKeyRecord>();
  constructor() {
    super(0);
  }
  async get(id: string) {
    return this.records.get(id);
  }
  async list() {
    return [...this.records.values()];
  }
  protected async save(record: ApiKeyRecord) {
    this.records.set(record.id, record);
  }
}

const recordKey = (id: string) => `key.${id}`;

export class KvKeyStore extends CachedKeyStore {
  private constructor(
    private readonly kv: KV,
    cacheMs: number,
  ) {
    super(cacheMs);
  }

  /**
   * `replicas`: JETSTREAM_REPLICAS (default JETSTREAM.replicas), the bucket's copies. A bucket with fewer is raised
   * to this, one with more keeps them (as service-kit's openKvBucket does; this library stays free of service-kit)
   */
  static async open(nc: NatsConnection, opts: { bucket?: string; cacheMs?: number; replicas?: number } = {}): Promise<KvKeyStore> {
    const bucket = opts.bucket ?? JETSTREAM.keyBucket;
    const replicas = opts.replicas ?? JETSTREAM.replicas;
    const needs = (e: unknown) =>
      replicas > 1 ? new Error(`${(e as Error).message} (JETSTREAM_REPLICAS=${replicas}: KV bucket ${bucket} needs a nats-server cluster with at least ${replicas} JetStream servers up)`) : e;
    const kvm = new Kvm(nc);
    const kv = await kvm.create(bucket, { history: 1, replicas }).catch((e: unknown) => {
      throw needs(e);
    });
    const status = await kv.status();
    if (status.replicas < replicas) {
      const jsm = await kvm.js.jetstreamManager();
      const stream = status.streamInfo.config.name;
      await jsm.streams.update(stream, { num_replicas: replicas }).catch((e: unknown) => {
        throw needs(e);
      });
      // the new raft group elects a leader in about a second; until then the bucket takes no write
      for (let i = 0; !(await jsm.streams.info(stream).catch(() => undefined))?.cluster?.leader; i++) {
        if (i >= 300) throw new Error(`KV bucket ${bucket}: no leader 30 s after raising its replicas to ${replicas} (JETSTREAM_REPLICAS)`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    return new KvKeyStore(kv, opts.cacheMs ?? KEY_CACHE_MS);
  }

  async get(id: string): Promise<ApiKeyRecord | undefined> {
    if (!/^[0-9a-f]{12}$/.test(id)) return undefined;
    const e = await this.kv.get(recordKey(id));
    return e && e.operation === 'PUT' ? e.json<ApiKeyRecord>() : undefined;
  }

  async list(): Promise<ApiKeyRecord[]> {
    const out: ApiKeyRecord[] = [];
    for await (const k of await this.kv.keys('key.*')) {
      const r = await this.get(k.slice('key.'.length));
      if (r) out.push(r);
    }
    return out.sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  }

  protected async save(record: ApiKeyRecord): Promise<void> {
    await this.kv.put(recordKey(record.id), JSON.stringify(record));
  }
}
