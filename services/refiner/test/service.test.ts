import path from 'node:path';
import { SERVICES, SUBJECTS, float32, int32, refinerEpsSubject, setSubject, type TensorMap } from '@diffusevae/contracts';
import { DEFAULT_MODEL_DIR } from '@diffusevae/models';
import { callService } from '@diffusevae/service-kit';
import { startNatsServer, startService, type NatsServer, type ServiceProcess } from '@diffusevae/testing';
import { Svcm, type ServiceStats } from '@nats-io/services';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BatcherStats } from '../src/batcher.js';

// Two replicas, each main.ts in its own process, sharing the load through the queue group.
let ns: NatsServer;
let nc: NatsConnection;
let replicas: ServiceProcess[] = [];
const call = { timeoutMs: 30_000 };
/** the default MODEL_DIR's set */
const SET = 'fmnist';
const EPS = setSubject('eps', SET);
const env = () => ({ NATS_URL: ns.url, ORT_THREADS: '1', MAX_WAIT_MS: '25' });

const request = (n: number, t: number): TensorMap => ({
  x_t: float32(new Float32Array(n * 784).map((_, i) => Math.sin(i)), [n, 1, 28, 28]),
  t: int32(new Array<number>(n).fill(t)),
  cond: float32(new Float32Array(n * 784), [n, 1, 28, 28]),
});

async function stats(): Promise<ServiceStats[]> {
  const out: ServiceStats[] = [];
  for await (const s of await new Svcm(nc as never).client().stats(SERVICES.refiner.name)) out.push(s);
  return out;
}

beforeAll(async () => {
  ns = await startNatsServer();
  nc = await connect({ servers: ns.url });
  replicas = await Promise.all([startService('services/refiner/src/main.ts', env()), startService('services/refiner/src/main.ts', env())]);
});
afterAll(async () => {
  await Promise.all(replicas.map((r) => r.stop()));
  await nc?.close();
  await ns?.stop();
});

describe('refiner service, two replicas', () => {
  it('both answer $SRV.PING', async () => {
    const ids = new Set<string>();
    for await (const p of await new Svcm(nc as never).client().ping(SERVICES.refiner.name)) ids.add(p.id);
    expect(ids.size).toBe(2);
  });

  it('share concurrent load, and each merges concurrent requests into batches', async () => {
    const outs = await Promise.all(Array.from({ length: 24 }, (_, i) => callService(nc, EPS, request(2, i * 40), undefined, call)));
    for (const o of outs) expect(o.eps!.shape).toEqual([2, 1, 28, 28]);
    const all = await stats();
    expect(all).toHaveLength(2);
    const eps = all.map((s) => s.endpoints!.find((e) => e.name === 'eps-fmnist')!);
    for (const e of eps) expect(e.num_requests).toBeGreaterThan(0);
    expect(eps.reduce((n, e) => n + e.num_requests, 0)).toBe(24);
    const batching = eps.map((e) => e.data as BatcherStats);
    expect(batching.reduce((n, b) => n + b.requests, 0)).toBe(24);
    expect(batching.reduce((n, b) => n + b.runs, 0)).toBeLessThan(24);
    // each replica that ran something reports its time in onnxruntime
    for (const b of batching) expect(b.busyMs).toBeGreaterThan(0);
  });

  it('each also answers on a subject of its own, outside the queue group (where a router sends it work)', async () => {
    const before = await stats();
    const target = before[0]!;
    const outs = await Promise.all(Array.from({ length: 6 }, (_, i) => callService(nc, refinerEpsSubject(SET, target.id), request(3, i * 100), undefined, call)));
    for (const o of outs) expect(o.eps!.shape).toEqual([3, 1, 28, 28]);
    const after = await stats();
    const direct = (all: ServiceStats[], id: string) => all.find((s) => s.id === id)!.endpoints!.find((e) => e.name === 'eps-direct-fmnist')!;
    for (const s of before) expect(direct(after, s.id).num_requests - direct(before, s.id).num_requests, s.id).toBe(s.id === target.id ? 6 : 0);
    expect(direct(after, target.id).subject).toBe(`${SUBJECTS.eps}.fmnist.${target.id}`);
  });

  it('rejects a timestep out of range naming t, then answers the next request', async () => {
    await expect(callService(nc, EPS, request(1, 1000), undefined, call)).rejects.toMatchObject({ code: 'BAD_USER_INPUT', field: 't' });
    await expect(callService(nc, EPS, request(1, 999), undefined, call)).resolves.toHaveProperty('eps');
  });

  it('keeps serving while one replica drains and exits 0', async () => {
    expect(await replicas[0]!.stop()).toBe(0);
    await expect(callService(nc, EPS, request(1, 5), undefined, call)).resolves.toHaveProperty('eps');
    expect(await replicas[1]!.stop()).toBe(0);
    const t0 = Date.now();
    await expect(callService(nc, EPS, request(1, 5), undefined, call)).rejects.toMatchObject({ code: 'SERVICE_UNAVAILABLE' });
    expect(Date.now() - t0).toBeLessThan(1000);
  });
});

describe('refiner service, one replica serving two model sets', () => {
  const cont = path.join(path.dirname(DEFAULT_MODEL_DIR), 'fmnist-cont');
  let replica: ServiceProcess;
  beforeAll(async () => {
    replica = await startService('services/refiner/src/main.ts', { ...env(), MODEL_DIR: `${DEFAULT_MODEL_DIR},${cont}` });
  });
  afterAll(() => replica?.stop());

  it('answers each set on its subjects, with that set’s conditioning (t, or noise_level), and lists them in $SRV.INFO', async () => {
    const discrete = await callService(nc, setSubject('eps', 'fmnist'), request(2, 10), undefined, call);
    expect(discrete.eps!.shape).toEqual([2, 1, 28, 28]);
    const base = request(2, 10);
    const continuous = await callService(nc, setSubject('eps', 'fmnist-cont'), { x_t: base.x_t!, cond: base.cond!, noise_level: float32(Float32Array.from([0.9, 0.1]), [2]) }, undefined, call);
    expect(continuous.eps!.shape).toEqual([2, 1, 28, 28]);
    await expect(callService(nc, setSubject('eps', 'fmnist-cont'), request(1, 10), undefined, call)).rejects.toMatchObject({ code: 'BAD_USER_INPUT', field: 't' });
    // a set nobody serves: no responders, named
    await expect(callService(nc, setSubject('eps', 'other'), request(1, 10), undefined, call)).rejects.toThrow(/no diffusevae-refiner \(model set other\) replica is running/);
    const infos = [];
    for await (const i of await new Svcm(nc as never).client().info(SERVICES.refiner.name)) infos.push(i);
    const mine = infos.find((i) => i.endpoints.some((e) => e.subject === setSubject('eps', 'fmnist-cont')))!;
    expect(mine.endpoints.map((e) => e.name).sort()).toEqual(['eps-direct-fmnist', 'eps-direct-fmnist-cont', 'eps-fmnist', 'eps-fmnist-cont']);
    expect(mine.endpoints.find((e) => e.name === 'eps-fmnist-cont')!.metadata).toMatchObject({ set: 'fmnist-cont' });
    // each set's endpoints carry that set's batching counters: one request each went to the two sets (and one refused)
    const mineStats = (await stats()).find((x) => x.id === mine.id)!;
    const data = (n: string) => mineStats.endpoints!.find((e) => e.name === n)!.data as BatcherStats;
    expect(data('eps-fmnist').requests).toBe(1);
    expect(data('eps-fmnist-cont').requests).toBe(1);
    expect(data('eps-direct-fmnist-cont')).toEqual(data('eps-fmnist-cont'));
  });
});
