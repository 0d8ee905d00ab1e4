import { SERVICES, decodeMessage, encodeMessage, float32, refinerEpsSubject, setSubject } from '@diffusevae/contracts';
import { Tensor } from '@diffusevae/tensor';
import { startNatsServer, type NatsServer } from '@diffusevae/testing';
import { connect, headers, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { ROUTER_DEFAULTS, planParts, routedEps, serve, type EndpointHandler, type RoutedEps, type Served } from '../src/index.js';

/** the model set these replicas serve: its subjects (setSubject, refinerEpsSubject) */
const SET = 'fmnist';

describe('planParts', () => {
  const counts = (parts: { instance: number; count: number }[]) => parts.map((p) => [p.instance, p.count]);

  it('splits evenly over idle instances, one part each, the remainder to the first', () => {
    expect(counts(planParts(32, [0, 0], 8))).toEqual([
      [0, 16],
      [1, 16],
    ]);
    expect(counts(planParts(33, [0, 0, 0], 8))).toEqual([
      [0, 11],
      [1, 11],
      [2, 11],
    ]);
    expect(counts(planParts(34, [0, 0, 0], 8))).toEqual([
      [0, 12],
      [1, 11],
      [2, 11],
    ]);
  });

  it('makes no part smaller than minPart: fewer parts, and one part takes any batch', () => {
    expect(counts(planParts(15, [0, 0], 8))).toEqual([[0, 15]]);
    expect(counts(planParts(16, [0, 0], 8))).toEqual([
      [0, 8],
      [1, 8],
    ]);
    expect(counts(planParts(20, [0, 0, 0, 0], 8))).toEqual([
      [0, 10],
      [1, 10],
    ]);
    expect(counts(planParts(3, [0, 0], 8))).toEqual([[0, 3]]);
    expect(counts(planParts(5, [0, 0, 0], 1))).toEqual([
      [0, 2],
      [1, 2],
      [2, 1],
    ]);
    // minPart below 1 counts as 1
    expect(planParts(2, [0, 0], 0)).toHaveLength(2);
  });

  it('sends work to the least loaded, levelling what each has outstanding', () => {
    // one instance busy with 4 items: 20 more level both at 12
    expect(counts(planParts(20, [4, 0], 8))).toEqual([
      [1, 12],
      [0, 8],
    ]);
    // too busy to get a part of at least minPart: all to the idle one
    expect(counts(planParts(20, [60, 0], 8))).toEqual([[1, 20]]);
    expect(counts(planParts(100, [0, 60], 8))).toEqual([
      [0, 80],
      [1, 20],
    ]);
    // the busiest of three is left out; the two others levelled (10 + 10 = 0 + 20)
    expect(counts(planParts(30, [10, 50, 0], 8))).toEqual([
      [2, 20],
      [0, 10],
    ]);
    // …unless the second one's part would be under minPart
    expect(counts(planParts(24, [10, 50, 0], 8))).toEqual([[2, 24]]);
    // ties go by the order given
    expect(counts(planParts(5, [3, 1, 1], 8))).toEqual([[1, 5]]);
  });

  it('always hands out the whole batch, in parts of at least minPart where there are several', () => {
    for (let seed = 1; seed < 400; seed++) {
      const rnd = (n: number) => Math.floor(((Math.sin(seed * 9301 + n * 49297) + 1) / 2) * 1e6) % n;
      const batch = rnd(200);
      const loads = Array.from({ length: 1 + rnd(5) }, () => rnd(80));
      const minPart = 1 + rnd(16);
      const parts = planParts(batch, loads, minPart);
      expect(parts.reduce((a, p) => a + p.count, 0)).toBe(batch);
      expect(new Set(parts.map((p) => p.instance)).size).toBe(parts.length);
      if (parts.length > 1) for (const p of parts) expect(p.count).toBeGreaterThanOrEqual(minPart);
      expect(parts.length).toBeLessThanOrEqual(Math.max(1, Math.floor(batch / minPart)));
    }
  });

  it('has nothing to plan for an empty batch or no instance, and refuses a bad batch', () => {
    expect(planParts(0, [0, 0], 8)).toEqual([]);
    expect(planParts(10, [], 8)).toEqual([]);
    expect(() => planParts(-1, [0], 8)).toThrow(RangeError);
    expect(() => planParts(1.5, [0], 8)).toThrow(RangeError);
  });
});

// Fake refiner replicas, each on its own connection (a process of its own, as far as NATS can tell): ε = x + t − cond.
const SHAPE = [1, 28, 28] as const;
const ITEM = 784;

interface Replica {
  nc: NatsConnection;
  served: Served;
  /** batch sizes received on the queue group's subject and on its own */
  queue: number[];
  direct: number[];
  /** while set, its own subject does not answer until released */
  hold?: Promise<void>;
  /** its own subject never answers */
  mute?: boolean;
}

let ns: NatsServer;
let client: NatsConnection;
const replicas: Replica[] = [];
const routers: RoutedEps[] = [];

const epsOf = (xT: Float32Array, t: ArrayLike<number>, cond: Float32Array) => xT.map((v, i) => v + t[Math.floor(i / ITEM)]! - cond[i]!);

async function startReplica(opts: { direct?: boolean } = {}): Promise<Replica> {
  const nc = await connect({ servers: ns.url });
  const r = { nc, queue: [], direct: [] } as unknown as Replica;
  const handler =
    (log: number[], own: boolean): EndpointHandler =>
    async ({ tensors }) => {
      const [xT, t, cond] = [tensors.x_t!, tensors.t!, tensors.cond!];
      log.push(xT.shape[0]!);
      if (own && r.mute) await new Promise(() => {});
      if (own && r.hold) await r.hold;
      return { eps: float32(epsOf(xT.data as Float32Array, t.data as Int32Array, cond.data as Float32Array), xT.shape) };
    };
  r.served = await serve(nc, {
    key: 'refiner',
    endpoints: [
      { name: 'eps', subject: setSubject('eps', SET), handler: handler(r.queue, false) },
      ...(opts.direct === false ? [] : [{ name: 'eps-direct', subject: (id: string) => refinerEpsSubject(SET, id), queue: false, handler: handler(r.direct, true) }]),
    ],
  });
  replicas.push(r);
  return r;
}

const router = (o: { timeoutMs?: number; minPart?: number; discoveryMs?: number } = {}) => {
  const r = routedEps(client, { set: SET, timeoutMs: o.timeoutMs ?? 5000, minPart: o.minPart ?? 8, discoveryMs: o.discoveryMs ?? 60_000, discoveryWaitMs: 300 });
  routers.push(r);
  return r;
};

/** looks up until `n` replicas are known: one lookup may miss a slow answer on a busy machine */
async function known(r: RoutedEps, n: number): Promise<void> {
  for (let i = 0; i < 20 && r.instances().length < n; i++) await r.refresh();
  expect(r.instances()).toHaveLength(n);
}

const ramp = (n: number, scale: number) => new Tensor(Float32Array.from({ length: n * ITEM }, (_, i) => scale * (i % 97)), [n, ...SHAPE]);
const batch = (n: number) => ({ xT: ramp(n, 1), t: Array.from({ length: n }, (_, i) => 3 * i), cond: ramp(n, 0.25) });

function expectEps(out: Tensor, b: ReturnType<typeof batch>) {
  expect(out.shape).toEqual(b.xT.shape);
  expect(Array.from(out.data)).toEqual(Array.from(epsOf(b.xT.data, b.t, b.cond.data)));
}

beforeAll(async () => {
  ns = await startNatsServer();
  client = await connect({ servers: ns.url });
});
afterEach(async () => {
  for (const r of routers.splice(0)) r.stop();
  await Promise.all(replicas.splice(0).map((r) => (r.nc.isClosed() ? undefined : r.nc.close())));
});
afterAll(async () => {
  await client?.close();
  await ns?.stop();
});

describe('serve: an endpoint of the replica alone', () => {
  it('listens on a subject made of its instance id, outside the queue group', async () => {
    const [a, b] = [await startReplica(), await startReplica()];
    expect(a.served.id).not.toBe(b.served.id);
    const infos = [];
    for await (const m of await client.requestMany(`$SRV.INFO.${SERVICES.refiner.name}`, undefined, { strategy: 'timer', maxWait: 1500 })) infos.push(m.json<{ id: string; endpoints: { name: string; subject: string; queue_group?: string }[] }>());
    expect(infos.map((i) => i.id).sort()).toEqual([a.served.id, b.served.id].sort());
    for (const info of infos) {
      expect(info.endpoints.find((e) => e.name === 'eps')).toMatchObject({ subject: setSubject('eps', SET), queue_group: 'diffusevae' });
      const own = info.endpoints.find((e) => e.name === 'eps-direct')!;
      expect(own.subject).toBe(refinerEpsSubject(SET, info.id));
      expect(own.queue_group ?? '').toBe('');
    }
  });
});

describe('routedEps', () => {
  it('finds the replicas, splits a batch over both on their own subjects, and joins the parts in order', async () => {
    const [a, b] = [await startReplica(), await startReplica()];
    const r = router();
    await known(r, 2);
    expect(r.instances().map((i) => i.id).sort()).toEqual([a.served.id, b.served.id].sort());
    const x = batch(32);
    expectEps(await r.eps(x.xT, x.t, x.cond), x);
    expect([a.direct, b.direct]).toEqual([[16], [16]]);
    expect([a.queue, b.queue]).toEqual([[], []]);
    expect(r.stats).toMatchObject({ instances: 2, routedCalls: 1, parts: 2, queueCalls: 0, fallbacks: 0 });
    expect(r.instances().map((i) => i.outstanding)).toEqual([0, 0]);
  });

  it('sends a batch under 2 × minPart whole, to each replica in turn', async () => {
    const [a, b] = [await startReplica(), await startReplica()];
    const r = router({ minPart: 8 });
    await known(r, 2);
    for (let i = 0; i < 4; i++) {
      const x = batch(10);
      expectEps(await r.eps(x.xT, x.t, x.cond), x);
    }
    expect([a.direct, b.direct]).toEqual([
      [10, 10],
      [10, 10],
    ]);
  });

  it('sends more to the replica with less outstanding work', async () => {
    const [a, b] = [await startReplica(), await startReplica()];
    const r = router({ minPart: 4 });
    await known(r, 2);
    let release!: () => void;
    const hold = new Promise<void>((res) => (release = res));
    a.hold = hold;
    b.hold = hold;
    // 6 items (under 2 × minPart) go whole to one replica and wait there
    const first = batch(6);
    const pending = r.eps(first.xT, first.t, first.cond);
    await new Promise((res) => setTimeout(res, 100));
    const busy = r.instances().find((i) => i.outstanding === 6)!;
    expect(busy).toBeDefined();
    a.hold = b.hold = undefined;
    // 20 more: levelled at 13 each, 13 to the idle one, 7 to the busy one
    const second = batch(20);
    expectEps(await r.eps(second.xT, second.t, second.cond), second);
    release();
    expectEps(await pending, first);
    const [busyOne, idleOne] = busy.id === a.served.id ? [a, b] : [b, a];
    expect(busyOne.direct).toEqual([6, 7]);
    expect(idleOne.direct).toEqual([13]);
  });

  it('uses the queue group while one replica (or none) is known, as natsEps', async () => {
    const a = await startReplica();
    const r = router();
    const x = batch(32);
    // before any lookup answered
    expectEps(await r.eps(x.xT, x.t, x.cond), x);
    await known(r, 1);
    expectEps(await r.eps(x.xT, x.t, x.cond), x);
    expect(a.queue).toEqual([32, 32]);
    expect(a.direct).toEqual([]);
    expect(r.stats).toMatchObject({ queueCalls: 2, routedCalls: 0 });
  });

  it('leaves out a replica without its own subject (an older version): it gets the queue group’s share only', async () => {
    const [a] = [await startReplica(), await startReplica({ direct: false })];
    const r = router();
    await known(r, 1);
    await r.refresh();
    await r.refresh();
    expect(r.instances().map((i) => i.id)).toEqual([a.served.id]);
  });

  it('drops a replica that is gone (no responders) and sends its part to the queue group: no call is lost', async () => {
    const [a, b] = [await startReplica(), await startReplica()];
    const dropped: string[] = [];
    const r = routedEps(client, { set: SET, timeoutMs: 5000, minPart: 8, discoveryMs: 60_000, discoveryWaitMs: 300, onDrop: (id) => dropped.push(id) });
    routers.push(r);
    await known(r, 2);
    await b.nc.close();
    const x = batch(32);
    const t0 = Date.now();
    expectEps(await r.eps(x.xT, x.t, x.cond), x);
    expect(Date.now() - t0).toBeLessThan(2000); // no responders is known at once
    expect(dropped).toEqual([b.served.id]);
    expect(a.direct.concat(a.queue).reduce((s, n) => s + n, 0)).toBe(32);
    expect(r.stats).toMatchObject({ instances: 1, fallbacks: 1, drops: 1 });
    // the next call: one replica left, the queue group
    expectEps(await r.eps(x.xT, x.t, x.cond), x);
    expect(r.stats.queueCalls).toBe(1);
  });

  it('drops a replica that does not answer in time, and its part is answered through the queue group', async () => {
    const [a, b] = [await startReplica(), await startReplica()];
    const r = router({ timeoutMs: 400 });
    await known(r, 2);
    b.mute = true;
    a.mute = false;
    const x = batch(32);
    expectEps(await r.eps(x.xT, x.t, x.cond), x);
    expect(r.instances().map((i) => i.id)).toEqual([a.served.id]);
    expect(r.stats).toMatchObject({ fallbacks: 1, drops: 1 });
    expect(b.direct).toEqual([16]);
  });

  it('finds replicas that come and forgets those that stopped answering lookups', async () => {
    const a = await startReplica();
    const r = router();
    await known(r, 1);
    const b = await startReplica();
    await known(r, 2);
    await b.nc.close();
    await r.refresh(); // a miss or two: maybe a slow answer
    await r.refresh();
    expect(r.instances().map((i) => i.id)).toContain(b.served.id);
    await r.refresh(); // three: gone
    expect(r.instances().map((i) => i.id)).not.toContain(b.served.id);
    await known(r, 1);
    expect(r.instances().map((i) => i.id)).toEqual([a.served.id]);
  });

  it('keeps a replica that misses lookups while a call of ours runs on it (a long onnxruntime run blocks its answers)', async () => {
    // a replica by hand: it stops answering $SRV.INFO once its ε call has arrived, and answers that call on release
    const id = 'BUSYREPLICA1';
    const other = await startReplica();
    const fake = await connect({ servers: ns.url });
    let answering = true;
    let release!: () => void;
    const released = new Promise<void>((res) => (release = res));
    fake.subscribe(`$SRV.INFO.${SERVICES.refiner.name}`, { callback: (_, m) => void (answering && m.respond(JSON.stringify({ id, endpoints: [{ subject: refinerEpsSubject(SET, id) }] }))) });
    fake.subscribe(refinerEpsSubject(SET, id), {
      callback: (_, m) => {
        answering = false;
        const { tensors } = decodeMessage({ get: (k) => m.headers?.get(k) }, m.data);
        const [xT, t, cond] = [tensors.x_t!, tensors.t!, tensors.cond!];
        const out = encodeMessage({ eps: float32(epsOf(xT.data as Float32Array, t.data as Int32Array, cond.data as Float32Array), xT.shape) });
        const h = headers();
        for (const [k, v] of Object.entries(out.headers)) h.set(k, v);
        void released.then(() => m.respond(out.body, { headers: h }));
      },
    });
    try {
      const r = router();
      await known(r, 2);
      const x = batch(32);
      const pending = r.eps(x.xT, x.t, x.cond);
      await vi.waitFor(() => expect(answering).toBe(false));
      for (let i = 0; i < 4; i++) await r.refresh(); // four lookups missed
      expect(r.instances().map((i) => i.id).sort()).toEqual([id, other.served.id].sort());
      release();
      expectEps(await pending, x);
      expect(r.stats).toMatchObject({ parts: 2, fallbacks: 0 });
      // idle and silent: forgotten after three more
      for (let i = 0; i < 3; i++) await r.refresh();
      expect(r.instances().map((i) => i.id)).toEqual([other.served.id]);
    } finally {
      await fake.close();
    }
  });

  it('has its defaults in one place', () => {
    expect(ROUTER_DEFAULTS).toEqual({ minPart: 8, discoveryMs: 2000, discoveryWaitMs: 500 });
  });
});
