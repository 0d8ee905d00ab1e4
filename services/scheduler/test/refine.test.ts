import { HEADERS, PlatformError, float32, type ProgressEvent, type TensorMap } from '@diffusevae/contracts';
import path from 'node:path';
import { DEFAULT_MODEL_DIR, ModelSet } from '@diffusevae/models';
import { refineWith, type EpsFn } from '@diffusevae/pipeline';
import { DEFAULT_SAMPLER, type SamplerSettings } from '@diffusevae/schedulers';
import { Handover, kvCheckpoints, loadConfig, natsTakeovers, type CheckpointStore, type ProgressChannel, type Takeovers } from '@diffusevae/service-kit';
import { startNatsServer, type NatsServer } from '@diffusevae/testing';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { Tensor } from '@diffusevae/tensor';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ContinuousBatcher } from '../src/continuous.js';
import { checkSchedule, refineHandler } from '../src/refine.js';

// The handler alone, with the refiner in-process and a fake progress channel: no NATS.
let models: ModelSet;
let eps: EpsFn;
beforeAll(async () => {
  models = await ModelSet.load(loadConfig().modelDir, ['refiner'], { intraOpThreads: 1 });
  eps = (x, t, c) => models.eps(x, t, c);
});
afterAll(() => models?.release());

const SUBJECT = 'diffusevae.progress.test1';
const sampler: SamplerSettings = { ...DEFAULT_SAMPLER, steps: 5 };
const cond = (n: number) => float32(Float32Array.from({ length: n * 784 }, (_, i) => Math.tanh(Math.sin(i * 0.05))), [n, 1, 28, 28]);

function fakeChannel() {
  const events: { event: ProgressEvent; preview?: Tensor }[] = [];
  let heartbeats = 0;
  const ac = new AbortController();
  const channel: ProgressChannel = {
    publish: (subject, event, preview) => void (subject === SUBJECT && events.push({ event, ...(preview ? { preview } : {}) })),
    heartbeat: (subject) => void (subject === SUBJECT && heartbeats++),
    watchCancel: () => ({ signal: ac.signal, close: () => {} }),
  };
  return { channel, events, cancel: (reason?: unknown) => ac.abort(reason), heartbeats: () => heartbeats };
}

function call(
  tensors: TensorMap,
  params: unknown,
  opts: {
    channel?: ProgressChannel;
    eps?: EpsFn;
    subject?: string;
    checkpoints?: CheckpointStore;
    checkpointIntervalMs?: number;
    takeovers?: Takeovers;
    stopping?: AbortSignal;
  } = {},
) {
  const batcher = new ContinuousBatcher(opts.eps ?? eps, { imageShape: [1, 28, 28], maxBatch: 64, maxActiveSamples: 256, maxQueuedJobs: 16 });
  const handler = refineHandler({
    batcher,
    manifest: models.manifest,
    ...(opts.channel ? { progress: opts.channel } : {}),
    ...(opts.checkpoints ? { checkpoints: opts.checkpoints, checkpointIntervalMs: opts.checkpointIntervalMs ?? 0 } : {}),
    ...(opts.takeovers ? { takeovers: opts.takeovers } : {}),
    ...(opts.stopping ? { stopping: opts.stopping } : {}),
  });
  const subject = opts.subject ?? SUBJECT;
  return handler({ tensors, params, header: (k) => (k === HEADERS.progressSubject ? subject : undefined) });
}

describe('refineHandler', () => {
  it('gives refineWith’s result for the same seed, sample indices and init', async () => {
    const c = cond(2);
    const init = float32(new Float32Array(2 * 784).fill(0.1), [2, 1, 28, 28]);
    const out = await call({ cond: c, init }, { seed: 9, firstSample: 4, sampler });
    const ref = await refineWith(eps, new Tensor(c.data as Float32Array, c.shape), { seed: 9, firstSample: 4, sampler, init: init.data as Float32Array });
    expect(out.x0!.shape).toEqual([2, 1, 28, 28]);
    expect(Buffer.from(out.x0!.data.buffer).equals(Buffer.from(ref.data.buffer))).toBe(true);
  });

  it('publishes progress every progressEvery steps and at the last, with x̂_0 when asked', async () => {
    const { channel, events } = fakeChannel();
    await call({ cond: cond(1) }, { seed: 1, firstSample: 0, sampler, progressEvery: 2, preview: true }, { channel });
    expect(events.map((e) => e.event.stepIndex)).toEqual([1, 3, 4]);
    expect(events[0]!.event).toMatchObject({ steps: 5, timestep: expect.any(Number), elapsedMs: expect.any(Number) });
    expect(events[0]!.preview?.shape).toEqual([1, 1, 28, 28]);
  });

  it('publishes at most once per progressIntervalMs, and always the last step', async () => {
    const { channel, events } = fakeChannel();
    await call({ cond: cond(1) }, { seed: 1, firstSample: 0, sampler, progressEvery: 1, progressIntervalMs: 60_000 }, { channel });
    expect(events.map((e) => e.event.stepIndex)).toEqual([0, 4]);
  });

  it('attaches x̂_0 to at most one event per previewIntervalMs, the first always', async () => {
    const { channel, events } = fakeChannel();
    await call({ cond: cond(1) }, { seed: 1, firstSample: 0, sampler, progressEvery: 1, preview: true, previewIntervalMs: 60_000 }, { channel });
    expect(events.map((e) => e.event.stepIndex)).toEqual([0, 1, 2, 3, 4]);
    expect(events.map((e) => e.preview !== undefined)).toEqual([true, false, false, false, false]);
  });

  it('refuses a previewIntervalMs that is not a non-negative integer, naming it', async () => {
    await expect(call({ cond: cond(1) }, { seed: 1, firstSample: 0, sampler, preview: true, previewIntervalMs: -5 })).rejects.toMatchObject({ field: 'previewIntervalMs' });
  });

  it('stops at the next step when the caller cancels', async () => {
    const { channel, cancel } = fakeChannel();
    let calls = 0;
    const counting: EpsFn = async (x, t, c) => {
      if (++calls === 2) cancel();
      return eps(x, t, c);
    };
    const err = await call({ cond: cond(1) }, { seed: 1, firstSample: 0, sampler }, { channel, eps: counting }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'CANCELLED' });
    expect(calls).toBe(2);
  });

  it('passes the refiner’s failure on with its code', async () => {
    const down: EpsFn = async () => {
      throw new PlatformError('SERVICE_UNAVAILABLE', 'no diffusevae-refiner replica is running');
    };
    await expect(call({ cond: cond(1) }, { seed: 1, sampler }, { eps: down })).rejects.toMatchObject({ code: 'SERVICE_UNAVAILABLE' });
  });

  it.each([
    ['a missing seed', {}, {}, 'seed', /seed: is required/],
    ['an unknown sampler setting', {}, { sampler: { stepz: 5 } }, 'sampler.stepz', /sampler\.stepz: unknown setting/],
    ['too many steps', {}, { sampler: { steps: 5000 } }, 'sampler.steps', /sampler\.steps: must be an integer in \[1, 1000\]/],
    ['a bad eta', {}, { sampler: { eta: 2 } }, 'sampler.eta', /sampler\.eta/],
    ['an unknown kind', {}, { sampler: { kind: 'PNDM' } }, 'sampler.kind', /sampler\.kind: must be one of DDPM, DDIM, DPMPP_2M, DPMPP_2M_SDE/],
    ['a formulation the refiner was not trained for', {}, { sampler: { formulation: 2 } }, 'sampler.formulation', /trained for Formulation 1/],
    ['a string clipSample', {}, { sampler: { clipSample: 'yes' } }, 'sampler.clipSample', /true or false/],
    [
      'an inference schedule for a set conditioned on the timestep',
      {},
      { sampler: { inferenceSchedule: { betaStart: 1e-6, betaEnd: 0.8 } } },
      'sampler.inferenceSchedule',
      /model set fmnist is conditioned on the integer timestep: a free inference schedule needs a set conditioned on the noise level/,
    ],
    ['a bad inference schedule', {}, { sampler: { inferenceSchedule: { betaStart: 0, betaEnd: 0.8 } } }, 'sampler.inferenceSchedule.betaStart', /sampler\.inferenceSchedule\.betaStart/],
    ['a negative progressEvery', {}, { progressEvery: -1 }, 'progressEvery', /progressEvery/],
    ['an init of another batch', { init: float32(new Float32Array(2 * 784), [2, 1, 28, 28]) }, {}, 'init', /init: has shape \[2, 1, 28, 28\], expected \[1, 1, 28, 28\]/],
    ['a cond of another size', { cond: float32(new Float32Array(3 * 784), [1, 3, 28, 28]) }, {}, 'cond', /cond: has shape/],
  ])('rejects %s as BAD_USER_INPUT naming the field', async (_, tensors, params, field, message) => {
    const p = { seed: 1, sampler: {}, ...params } as Record<string, unknown>;
    if (field === 'seed') delete p.seed;
    const err = await call({ cond: cond(1), ...tensors } as TensorMap, p).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PlatformError);
    expect(err).toMatchObject({ code: 'BAD_USER_INPUT', field });
    expect((err as Error).message).toMatch(message);
  });

  it('refuses a progress subject outside diffusevae.progress', async () => {
    const err = await call({ cond: cond(1) }, { seed: 1, sampler }, { subject: SUBJECT.replace('progress', 'refiner') }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'BAD_USER_INPUT', field: 'progressSubject' });
  });
});

describe('refineHandler on a continuous-noise set', () => {
  let cont: ModelSet;
  beforeAll(async () => {
    cont = await ModelSet.load(path.join(path.dirname(DEFAULT_MODEL_DIR), 'fmnist-cont'), ['refiner'], { intraOpThreads: 1 });
  });
  afterAll(() => cont?.release());

  it('feeds the refiner noise levels along a free inference schedule, with refineWith’s bytes', async () => {
    const seen: number[] = [];
    const contEps: EpsFn = (x, levels, c) => {
      seen.push(levels[0]!);
      return cont.eps(x, levels, c);
    };
    const s: SamplerSettings = { ...DEFAULT_SAMPLER, kind: 'DDPM', steps: 10, inferenceSchedule: { betaStart: 1e-6, betaEnd: 0.8 } };
    const batcher = new ContinuousBatcher(contEps, { imageShape: [1, 28, 28], conditioning: 'noiseLevel', maxBatch: 64, maxActiveSamples: 256, maxQueuedJobs: 16 });
    const handler = refineHandler({ batcher, manifest: cont.manifest });
    const c = cond(2);
    const out = await handler({ tensors: { cond: c }, params: { seed: 3, sampler: s }, header: () => undefined });
    expect(seen).toHaveLength(10);
    for (const [i, v] of seen.entries()) {
      expect(v).toBeGreaterThan(0);
      expect(v).toBeLessThanOrEqual(1);
      if (i > 0) expect(v).toBeGreaterThan(seen[i - 1]!);
    }
    const ref = await refineWith((x, l, cc) => cont.eps(x, l, cc), new Tensor(c.data as Float32Array, c.shape), { seed: 3, sampler: s }, 'noiseLevel');
    expect(Buffer.from(out.x0!.data.buffer).equals(Buffer.from(ref.data.buffer))).toBe(true);
  });
});

describe('refineHandler with checkpoints in JetStream KV', () => {
  let ns: NatsServer;
  let nc: NatsConnection;
  let store: CheckpointStore;
  beforeAll(async () => {
    ns = await startNatsServer({ jetstream: true });
    nc = await connect({ servers: ns.url });
    store = await kvCheckpoints(nc, { ttlMs: 60_000 });
  });
  afterAll(async () => {
    await nc?.close();
    await ns?.stop();
  });

  const long: SamplerSettings = { ...DEFAULT_SAMPLER, steps: 12 };
  const bytes = (t: { data: ArrayBufferView }) => Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength);

  it.each([
    ['DDIM', long, 'job-a.0'],
    // multistep: the checkpoint carries the previous x̂_0
    ['DPM-Solver++(2M) SDE', { ...long, kind: 'DPMPP_2M_SDE', timestepSpacing: 'trailing' } as SamplerSettings, 'job-a2.0'],
  ])('%s: a request that died part-way resumes from its checkpoint in another handler and ends with the undisturbed bytes', async (_, sampler, key) => {
    const c = cond(2);
    const params = { seed: 21, firstSample: 0, sampler, checkpoint: key };
    const undisturbed = await call({ cond: c }, { ...params, checkpoint: undefined });
    // the first try's refiner fails for good at its 8th call: the handler had saved a checkpoint at every step
    let calls = 0;
    const dying: EpsFn = async (x, t, cd) => {
      if (++calls === 8) throw new PlatformError('INTERNAL_SERVER_ERROR', 'the refiner died');
      return eps(x, t, cd);
    };
    await expect(call({ cond: c }, params, { eps: dying, checkpoints: store })).rejects.toThrow(/the refiner died/);
    await new Promise((r) => setTimeout(r, 100)); // the last save is off the tick: let it land
    let resumedCalls = 0;
    const counting: EpsFn = async (x, t, cd) => (resumedCalls++, eps(x, t, cd));
    const resumed = await call({ cond: c }, params, { eps: counting, checkpoints: store });
    expect(resumedCalls).toBeGreaterThanOrEqual(12 - 7);
    expect(resumedCalls).toBeLessThan(12);
    expect(bytes(resumed.x0!).equals(bytes(undisturbed.x0!))).toBe(true);
  });

  it('ignores a checkpoint of another request under the same key', async () => {
    const params = { seed: 22, firstSample: 0, sampler: long, checkpoint: 'job-b.0' };
    await call({ cond: cond(1) }, params, { checkpoints: store, checkpointIntervalMs: 0, eps: async (x, t, cd) => ((await eps(x, t, cd)), Promise.reject(new PlatformError('INTERNAL_SERVER_ERROR', 'stop'))) }).catch(() => {});
    let calls = 0;
    const other = await call({ cond: cond(1) }, { ...params, seed: 23 }, { checkpoints: store, eps: async (x, t, cd) => (calls++, eps(x, t, cd)) });
    expect(calls).toBe(12);
    expect(bytes(other.x0!).equals(bytes((await call({ cond: cond(1) }, { ...params, seed: 23, checkpoint: undefined })).x0!))).toBe(true);
  });

  it('on a handover it saves a checkpoint where it stopped, and heartbeats while it runs', async () => {
    const { channel, cancel, heartbeats } = fakeChannel();
    let calls = 0;
    const slow: EpsFn = async (x, t, cd) => {
      await new Promise((r) => setTimeout(r, 40));
      if (++calls === 5) cancel(new Handover());
      return eps(x, t, cd);
    };
    const params = { seed: 24, firstSample: 0, sampler: long, checkpoint: 'job-c.0', heartbeatMs: 20 };
    // a long interval: only the handover saves
    const err = await call({ cond: cond(1) }, params, { channel, eps: slow, checkpoints: store, checkpointIntervalMs: 3_600_000 }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'CANCELLED' });
    expect(heartbeats()).toBeGreaterThan(2);
    let resumedCalls = 0;
    await call({ cond: cond(1) }, params, { eps: async (x, t, cd) => (resumedCalls++, eps(x, t, cd)), checkpoints: store });
    expect(resumedCalls).toBe(12 - 4);
  });
});

describe('refineHandler: tries of one request on several schedulers', () => {
  let ns: NatsServer;
  const conns: NatsConnection[] = [];
  let store: CheckpointStore;
  beforeAll(async () => {
    ns = await startNatsServer({ jetstream: true });
    for (let i = 0; i < 2; i++) conns.push(await connect({ servers: ns.url }));
    store = await kvCheckpoints(conns[0]!, { ttlMs: 60_000 });
  });
  afterAll(async () => {
    await Promise.all(conns.map((c) => c.close()));
    await ns?.stop();
  });
  const bytes = (t: { data: ArrayBufferView }) => Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  const long: SamplerSettings = { ...DEFAULT_SAMPLER, steps: 12 };

  it('a later try of the same key stops the earlier one, on another scheduler; the later one ends with the undisturbed bytes', async () => {
    const [one, two] = [natsTakeovers(conns[0]!), natsTakeovers(conns[1]!)];
    const params = { seed: 31, firstSample: 0, sampler: long, checkpoint: 'job-d.0' };
    const undisturbed = await call({ cond: cond(1) }, { ...params, checkpoint: undefined });
    let firstCalls = 0;
    const slow: EpsFn = async (x, t, c) => (firstCalls++, await new Promise((r) => setTimeout(r, 30)), eps(x, t, c));
    const first = call({ cond: cond(1) }, params, { eps: slow, checkpoints: store, takeovers: one }).catch((e: unknown) => e);
    while (firstCalls < 4) await new Promise((r) => setTimeout(r, 10));
    const second = await call({ cond: cond(1) }, params, { checkpoints: store, takeovers: two });
    expect(await first).toMatchObject({ code: 'CANCELLED', message: expect.stringMatching(/later try .* took over/) });
    expect(firstCalls).toBeLessThan(12);
    expect(bytes(second.x0!).equals(bytes(undisturbed.x0!))).toBe(true);
    one.close();
    two.close();
  });

  it('a scheduler that stops hands its requests back: checkpointed, SERVICE_UNAVAILABLE; the next try resumes there with the undisturbed bytes', async () => {
    const params = { seed: 33, firstSample: 0, sampler: long, checkpoint: 'job-f.0' };
    const undisturbed = await call({ cond: cond(1) }, { ...params, checkpoint: undefined });
    const stopping = new AbortController();
    let calls = 0;
    const slow: EpsFn = async (x, t, c) => {
      if (++calls === 6) stopping.abort();
      return eps(x, t, c);
    };
    const err = await call({ cond: cond(1) }, params, { eps: slow, checkpoints: store, checkpointIntervalMs: 3_600_000, stopping: stopping.signal }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'SERVICE_UNAVAILABLE', message: expect.stringMatching(/shutting down/) });
    let resumedCalls = 0;
    const resumed = await call({ cond: cond(1) }, params, { checkpoints: store, eps: async (x, t, c) => (resumedCalls++, eps(x, t, c)) });
    expect(resumedCalls).toBe(12 - 5); // the step in flight when it stopped is not kept: 5 were done
    expect(bytes(resumed.x0!).equals(bytes(undisturbed.x0!))).toBe(true);
  });

  it('a try after the request finished gets the result from the finished checkpoint, without calling the refiner', async () => {
    const params = { seed: 32, firstSample: 0, sampler: long, checkpoint: 'job-e.0' };
    const done = await call({ cond: cond(1) }, params, { checkpoints: store });
    await new Promise((r) => setTimeout(r, 100)); // the finished checkpoint is written after the reply
    let calls = 0;
    const again = await call({ cond: cond(1) }, params, { checkpoints: store, eps: async (x, t, c) => (calls++, eps(x, t, c)) });
    expect(calls).toBe(0);
    expect(bytes(again.x0!).equals(bytes(done.x0!))).toBe(true);
  });
});

describe('checkSchedule', () => {
  it('accepts the model set’s schedule and refuses another', () => {
    expect(() => checkSchedule(models.manifest.schedule)).not.toThrow();
    expect(() => checkSchedule({ ...models.manifest.schedule, betaEnd: 0.03 })).toThrow(/is not the one the scheduler runs/);
  });
});
