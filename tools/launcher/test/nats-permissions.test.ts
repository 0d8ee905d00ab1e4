/**
 * Process-level: a real nats-server with the configuration the launcher writes (every identity of
 * natsPermissions), clients of nats.js, and the real refiner and scheduler processes. Takes a few seconds.
 */
import { JETSTREAM, SERVICES, inboxPrefixOf, setSubject, type NatsIdentity } from '@diffusevae/contracts';
import { DEFAULT_MODEL_DIR, readManifest } from '@diffusevae/models';
import { natsConnectOptions, natsStages, openKvBucket } from '@diffusevae/service-kit';
import { Tensor } from '@diffusevae/tensor';
import { startNatsServer, startService, type NatsServer, type ServiceProcess } from '@diffusevae/testing';
import { PermissionViolationError, connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generatePasswords, platformUsers, renderNatsConfig } from '../src/nats-auth.js';

const MODEL_DIR = process.env.MODEL_DIR || DEFAULT_MODEL_DIR;
const passwords = generatePasswords();
/** plaintext passwords here (the launcher hashes them: see nats-auth.test.ts); the permissions are the same */
const config = renderNatsConfig({ users: platformUsers(passwords) });

const identity = (id: NatsIdentity) => ({ NATS_USER: id, NATS_PASSWORD: passwords[id] });
const as = (ns: NatsServer, id: NatsIdentity) =>
  connect(natsConnectOptions({ natsUrl: ns.url, natsAuth: { user: id, pass: passwords[id] } }, `test-${id}`));
const violations = (ns: NatsServer) => ns.output().split('\n').filter((l) => /Violation/.test(l));

/** The permission errors the server reports to this connection, as nats.js surfaces them in status(). */
function permissionErrors(nc: NatsConnection): PermissionViolationError[] {
  const seen: PermissionViolationError[] = [];
  void (async () => {
    for await (const s of nc.status()) if (s.type === 'error' && s.error instanceof PermissionViolationError) seen.push(s.error);
  })();
  return seen;
}

async function until(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('NATS identities (process-level: nats-server with the rendered permissions)', () => {
  let ns: NatsServer;
  beforeAll(async () => {
    ns = await startNatsServer({ jetstream: true, config });
  });
  afterAll(async () => ns?.stop());

  it('refuses a connection without credentials, or with another identity’s password', async () => {
    await expect(connect({ servers: ns.url, maxReconnectAttempts: 0 })).rejects.toThrow(/Authorization Violation/);
    await expect(connect({ servers: ns.url, user: 'refiner', pass: passwords.gateway, maxReconnectAttempts: 0 })).rejects.toThrow(/Authorization Violation/);
  });

  it('denies the refiner a request to the scheduler’s endpoint and a subscription to the job bucket', async () => {
    const nc = await as(ns, 'refiner');
    try {
      const errs = permissionErrors(nc);
      // the server answers the publish with -ERR: the request fails at once, status() reports it
      const request = nc.request(setSubject('refine', 'fmnist'), 'x', { timeout: 5000 });
      await expect(request).rejects.toMatchObject({ cause: expect.any(PermissionViolationError) });
      await expect(request).rejects.toThrow(`Permissions Violation for Publish to "${setSubject('refine', 'fmnist')}"`);
      const sub = nc.subscribe(`$KV.${JETSTREAM.jobBucket}.>`);
      const closed = await sub.closed;
      expect(closed).toBeInstanceOf(PermissionViolationError);
      expect((closed as Error).message).toBe(`Permissions Violation for Subscription to "$KV.${JETSTREAM.jobBucket}.>"`);
      await until(() => errs.length >= 2);
      expect(errs.map((e) => [e.operation, e.subject])).toEqual([
        ['publish', setSubject('refine', 'fmnist')],
        ['subscription', `$KV.${JETSTREAM.jobBucket}.>`],
      ]);
      expect(nc.isClosed()).toBe(false); // a violation costs the message, not the connection
    } finally {
      await nc.close();
    }
    expect(violations(ns).some((l) => l.includes(`Publish Violation - User "refiner", Subject "${setSubject('refine', 'fmnist')}"`))).toBe(true);
  });

  it('denies the gateway the refiner’s inbox and the default one; nobody may write into another’s inbox', async () => {
    const gateway = await as(ns, 'gateway');
    const refiner = await as(ns, 'refiner');
    try {
      for (const subject of [`${inboxPrefixOf('refiner')}.>`, `${inboxPrefixOf('scheduler')}.abc.1`, '_INBOX.>']) {
        const closed = await gateway.subscribe(subject).closed;
        expect(closed, subject).toBeInstanceOf(PermissionViolationError);
      }
      // its own inbox is fine (requests use it: see below)
      const own = gateway.subscribe(`${inboxPrefixOf('gateway')}.mine`);
      await gateway.flush();
      expect(own.isClosed()).toBe(false);
      own.unsubscribe();
      // a service answers only requests it was sent: it cannot inject replies into the gateway's inbox
      const errs = permissionErrors(refiner);
      refiner.publish(`${inboxPrefixOf('gateway')}.mine`, 'forged');
      await until(() => errs.length > 0);
      expect(errs[0]!.subject).toBe(`${inboxPrefixOf('gateway')}.mine`);
    } finally {
      await Promise.all([gateway.close(), refiner.close()]);
    }
  });
});

describe('allowed traffic (process-level: two refiner processes and a scheduler under their identities)', () => {
  let ns: NatsServer;
  let services: ServiceProcess[] = [];
  let nc: NatsConnection;
  let admin: NatsConnection;
  let imageShape: [number, number, number];
  /** the scheduler's ε router: it finds the refiners through $SRV.INFO and calls each on its own subject */
  const routing = async () =>
    (await admin.request(`$SRV.STATS.${SERVICES.scheduler.name}`, undefined, { timeout: 5000 })).json<{ endpoints: { data: { routing: { instances: number; parts: number } } }[] }>().endpoints[0]!.data.routing;

  beforeAll(async () => {
    ns = await startNatsServer({ jetstream: true, config });
    const env = (id: NatsIdentity) => ({ NATS_URL: ns.url, MODEL_DIR, ORT_THREADS: '1', CHECKPOINT_INTERVAL_MS: '1', ...identity(id) });
    const [manifest, ...started] = await Promise.all([
      readManifest(MODEL_DIR),
      startService('services/refiner/src/main.ts', env('refiner')),
      startService('services/refiner/src/main.ts', env('refiner')),
      startService('services/scheduler/src/main.ts', { ...env('scheduler'), EPS_DISCOVERY_MS: '200' }),
    ]);
    services = started;
    imageShape = [manifest.image.channels, manifest.image.resolution, manifest.image.resolution];
    nc = await as(ns, 'gateway');
    admin = await as(ns, 'admin');
    for (let i = 0; i < 100 && (await routing()).instances < 2; i++) await new Promise((r) => setTimeout(r, 100));
  });
  afterAll(async () => {
    await admin?.close();
    await nc?.close();
    await Promise.all(services.map((s) => s.stop()));
    await ns?.stop();
  });

  it('runs a refine as the gateway: progress, checkpoints, ε calls, a cancel, a health probe and a jobs() listing, without a violation', async () => {
    const errs = permissionErrors(nc);
    // the scheduler found both refiners ($SRV.INFO.diffusevae-refiner) and sends each its part on its own subject
    expect((await routing()).instances).toBe(2);
    const stages = natsStages(nc, { set: 'fmnist', imageShape, timeoutMs: 30_000, refineTimeoutMs: 60_000 });
    const cond = new Tensor(Float32Array.from({ length: 2 * imageShape.reduce((a, b) => a * b) }, (_, i) => Math.sin(i * 0.01)), [2, ...imageShape]);
    const sampler = { kind: 'DDIM' as const, steps: 5 };
    const steps: number[] = [];
    const x0 = await stages.refine(cond, { seed: 7, sampler: sampler as never, checkpoint: 'perm-test', onStep: (p) => void steps.push(p.stepIndex) });
    expect(x0.shape).toEqual([2, ...imageShape]);
    expect(steps.at(-1)).toBe(4);

    // a cancel goes from the gateway to the scheduler on the progress subject's .cancel
    const ac = new AbortController();
    const long = stages.refine(cond, { seed: 8, sampler: { kind: 'DDPM', steps: 1000 } as never, checkpoint: 'perm-cancel', signal: ac.signal, onStep: () => ac.abort() });
    await expect(long).rejects.toMatchObject({ code: 'CANCELLED' });

    // the health probe: $SRV.PING, every replica answering into the gateway's inbox
    const names: string[] = [];
    for await (const m of await nc.requestMany('$SRV.PING', undefined, { strategy: 'timer', maxWait: 500 })) names.push((m.json() as { name: string }).name);
    expect(names.sort()).toEqual(['diffusevae-refiner', 'diffusevae-refiner', 'diffusevae-scheduler']);
    expect((await routing()).parts).toBeGreaterThan(0);

    // jobs(): the gateway lists the job bucket's index keys (keys() reads its ordered consumer's info)
    const jobsKv = await openKvBucket(nc, JETSTREAM.jobBucket, { replicas: 1 });
    await jobsKv.put('index.k1.1700000000000.j1', '');
    const listed: string[] = [];
    for await (const k of await jobsKv.keys('index.>')) listed.push(k);
    expect(listed).toEqual(['index.k1.1700000000000.j1']);

    await nc.flush();
    expect(errs).toEqual([]);
    expect(violations(ns)).toEqual([]);
    for (const s of services) expect(s.output()).not.toMatch(/Violation|checkpoint/i);
  });
});
