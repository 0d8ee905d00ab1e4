import path from 'node:path';
import { SERVICES, float32, setSubject } from '@diffusevae/contracts';
import { ModelSet } from '@diffusevae/models';
import { refineWith, type StepProgress } from '@diffusevae/pipeline';
import { DEFAULT_SAMPLER, type SamplerSettings } from '@diffusevae/schedulers';
import { callService, loadConfig, natsStages } from '@diffusevae/service-kit';
import { Tensor } from '@diffusevae/tensor';
import { startNatsServer, startService, type NatsServer, type ServiceProcess } from '@diffusevae/testing';
import { Svcm } from '@nats-io/services';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// scheduler and refiner, each main.ts in its own process, against refineWith on the in-process ModelSet.
let ns: NatsServer;
let nc: NatsConnection;
let scheduler: ServiceProcess;
let refiner: ServiceProcess | undefined;
let models: ModelSet;
const env = () => ({ NATS_URL: ns.url, ORT_THREADS: '1' });
const sampler: SamplerSettings = { ...DEFAULT_SAMPLER, kind: 'DDPM', steps: 8, timestepSpacing: 'trailing' };
const stages = () => natsStages(nc, { set: models.name, imageShape: models.imageShape, timeoutMs: 30_000, refineTimeoutMs: 120_000 });
const cond = (n: number) => new Tensor(Float32Array.from({ length: n * 784 }, (_, i) => Math.tanh(Math.cos(i * 0.03))), [n, 1, 28, 28]);

beforeAll(async () => {
  ns = await startNatsServer();
  nc = await connect({ servers: ns.url });
  [scheduler, refiner, models] = await Promise.all([
    startService('services/scheduler/src/main.ts', env()),
    startService('services/refiner/src/main.ts', env()),
    ModelSet.load(loadConfig().modelDir, ['refiner'], { intraOpThreads: 1 }),
  ]);
});
afterAll(async () => {
  await Promise.all([scheduler?.stop(), refiner?.stop()]);
  await models?.release();
  await nc?.close();
  await ns?.stop();
});

describe('scheduler service', () => {
  it('answers $SRV.PING', async () => {
    const pings = [];
    for await (const p of await new Svcm(nc as never).client().ping(SERVICES.scheduler.name)) pings.push(p);
    expect(pings).toHaveLength(1);
  });

  it('with the refiner over NATS, gives exactly refineWith’s bytes on the in-process model for the same seed', async () => {
    const steps: StepProgress[] = [];
    const remote = await stages().refine(cond(3), { seed: 1234, firstSample: 7, sampler, onStep: (s) => void steps.push(s) });
    const local = await refineWith((x, t, c) => models.eps(x, t, c), cond(3), { seed: 1234, firstSample: 7, sampler });
    expect(remote.shape).toEqual([3, 1, 28, 28]);
    expect(Buffer.from(remote.data.buffer).equals(Buffer.from(local.data.buffer))).toBe(true);
    expect(steps.map((s) => s.stepIndex)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(steps[7]!.predOriginal!.shape).toEqual([3, 1, 28, 28]);
  });

  it('rejects bad sampler settings naming the field, then answers the next request', async () => {
    const tensors = { cond: float32(cond(1).data, [1, 1, 28, 28]) };
    await expect(callService(nc, setSubject('refine', models.name), tensors, { seed: 1, firstSample: 0, sampler: { steps: 0 } }, { timeoutMs: 30_000 })).rejects.toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'sampler.steps',
    });
    const ok = await callService(nc, setSubject('refine', models.name), tensors, { seed: 1, firstSample: 0, sampler: { steps: 2 } }, { timeoutMs: 30_000 });
    expect(ok.x0!.shape).toEqual([1, 1, 28, 28]);
  });

  it('stops the reverse process when the caller aborts', async () => {
    const epsRequests = async () => {
      let n = 0;
      for await (const s of await new Svcm(nc as never).client().stats(SERVICES.refiner.name)) for (const e of s.endpoints!) n += e.num_requests; // the queue group's and its own
      return n;
    };
    const before = await epsRequests();
    const ac = new AbortController();
    const long = { ...sampler, steps: 1000 };
    const pending = stages().refine(cond(1), { seed: 5, sampler: long, signal: ac.signal, onStep: (s) => void (s.stepIndex === 2 && ac.abort()) });
    await expect(pending).rejects.toMatchObject({ code: 'CANCELLED' });
    await new Promise((r) => setTimeout(r, 300));
    const after = await epsRequests();
    await new Promise((r) => setTimeout(r, 300));
    expect(await epsRequests()).toBe(after);
    expect(after - before).toBeLessThan(1000);
  });

  it('passes SERVICE_UNAVAILABLE on, quickly (after its EPS_ATTEMPTS tries), when no refiner runs', async () => {
    expect(await refiner!.stop()).toBe(0);
    refiner = undefined;
    const t0 = Date.now();
    // one refine call: the caller's own tries would multiply the scheduler's
    const once = natsStages(nc, { set: models.name, imageShape: models.imageShape, timeoutMs: 30_000, refineTimeoutMs: 120_000, refineAttempts: 1 });
    await expect(once.refine(cond(1), { seed: 1, sampler })).rejects.toMatchObject({
      code: 'SERVICE_UNAVAILABLE',
      message: expect.stringMatching(/no diffusevae-refiner \(model set fmnist\) replica is running/),
    });
    expect(Date.now() - t0).toBeLessThan(2000);
  });

  it('drains and exits 0 on SIGTERM', async () => {
    expect(await scheduler.stop()).toBe(0);
  });
});

describe('scheduler service with two model sets, each with a refiner of its own', () => {
  const contDir = path.join(path.dirname(loadConfig().modelDir), 'fmnist-cont');
  let procs: ServiceProcess[] = [];
  let cont: ModelSet;
  beforeAll(async () => {
    // one scheduler for both sets; one refiner per set: a set is scaled by the replicas that name it
    procs = await Promise.all([
      startService('services/scheduler/src/main.ts', { ...env(), MODEL_DIR: `${loadConfig().modelDir},${contDir}` }),
      startService('services/refiner/src/main.ts', { ...env(), MODEL_DIR: contDir }),
    ]);
    cont = await ModelSet.load(contDir, ['refiner'], { intraOpThreads: 1 });
  });
  afterAll(async () => {
    await Promise.all(procs.map((p) => p.stop()));
    await cont?.release();
  });

  it('runs each set on its own refiners: the continuous set on noise levels along a free schedule, with refineWith’s bytes', async () => {
    const s: SamplerSettings = { ...DEFAULT_SAMPLER, kind: 'DDPM', steps: 6, inferenceSchedule: { betaStart: 1e-6, betaEnd: 0.8 } };
    const remote = await natsStages(nc, { set: cont.name, imageShape: cont.imageShape, timeoutMs: 30_000, refineTimeoutMs: 120_000 }).refine(cond(2), { seed: 5, sampler: s });
    const local = await refineWith((x, l, c) => cont.eps(x, l, c), cond(2), { seed: 5, sampler: s }, 'noiseLevel');
    expect(Buffer.from(remote.data.buffer).equals(Buffer.from(local.data.buffer))).toBe(true);
    // the discrete set's refiner was stopped above: its set has none now, and says so, while the other set works
    await expect(
      natsStages(nc, { set: models.name, imageShape: models.imageShape, timeoutMs: 30_000, refineTimeoutMs: 120_000, refineAttempts: 1 }).refine(cond(1), { seed: 1, sampler }),
    ).rejects.toMatchObject({ code: 'SERVICE_UNAVAILABLE' });
    // an inference schedule on the discrete set is refused, naming the field
    await expect(callService(nc, setSubject('refine', models.name), { cond: float32(cond(1).data, [1, 1, 28, 28]) }, { seed: 1, sampler: s }, { timeoutMs: 30_000 })).rejects.toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'sampler.inferenceSchedule',
    });
  });
});
