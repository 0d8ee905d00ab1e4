import { PlatformError } from '@diffusevae/contracts';
import { ModelSet } from '@diffusevae/models';
import type { EpsFn } from '@diffusevae/pipeline';
import { DEFAULT_SAMPLER, ReverseProcess, runReverseProcess, type SamplerSettings } from '@diffusevae/schedulers';
import { loadConfig, type TickInfo } from '@diffusevae/service-kit';
import { Tensor } from '@diffusevae/tensor';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ContinuousBatcher, type ContinuousBatcherOptions } from '../src/continuous.js';

// The batcher over the real refiner in-process: a job's bytes must not depend on what it was batched with.
let models: ModelSet;
let calls: number[];
let eps: EpsFn;
beforeAll(async () => {
  models = await ModelSet.load(loadConfig().modelDir, ['refiner'], { intraOpThreads: 1 });
  eps = async (x, t, c) => (calls.push(x.batch), models.eps(x, t, c));
});
afterAll(() => models?.release());

const item = 784;
const OPTS: ContinuousBatcherOptions = { imageShape: [1, 28, 28], maxBatch: 64, maxActiveSamples: 256, maxQueuedJobs: 8 };
const cond = (n: number, k: number) => Float32Array.from({ length: n * item }, (_, i) => Math.tanh(Math.sin(i * 0.05 + k)));
const bytes = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

interface JobSpec {
  settings: SamplerSettings;
  seed: number;
  count: number;
  k: number;
}
const JOBS: JobSpec[] = [
  { settings: { ...DEFAULT_SAMPLER, kind: 'DDIM', steps: 6 }, seed: 1, count: 2, k: 0 },
  { settings: { ...DEFAULT_SAMPLER, kind: 'DDPM', steps: 9, timestepSpacing: 'trailing' }, seed: 2, count: 1, k: 1 },
  { settings: { ...DEFAULT_SAMPLER, kind: 'DDIM', steps: 4, eta: 1, timestepSpacing: 'linspace' }, seed: 3, count: 3, k: 2 },
];
const processOf = (j: JobSpec) => new ReverseProcess({ settings: j.settings, seed: j.seed, count: j.count, itemSize: item, cond: cond(j.count, j.k) });
/** each job on its own, in the plain loop: the reference */
const alone = (j: JobSpec) => {
  const shape = [j.count, 1, 28, 28];
  const epsModel = async (x: Float32Array, t: readonly number[], c: Float32Array) => (await models.eps(new Tensor(x, shape), t, new Tensor(c, shape))).data;
  return runReverseProcess({ settings: j.settings, seed: j.seed, count: j.count, itemSize: item, cond: cond(j.count, j.k), epsModel });
};

describe('ContinuousBatcher', () => {
  it('advances jobs with different samplers and timesteps in one refiner call per tick, each with its own bytes', async () => {
    calls = [];
    const ticks: TickInfo[] = [];
    const b = new ContinuousBatcher(eps, { ...OPTS, onTick: (t) => void ticks.push(t) });
    const results = await Promise.all(JOBS.map((j) => b.submit(processOf(j))));
    // 9 ticks: the longest job's steps; the first 4 carry all 6 samples
    expect(calls).toEqual([6, 6, 6, 6, 3, 3, 1, 1, 1]);
    expect(b.stats).toMatchObject({ jobs: 3, ticks: 9, maxJobsPerTick: 3, active: 0, queued: 0 });
    expect(ticks.map((t) => [t.samples, t.jobs, t.ok])).toEqual(calls.map((n) => [n, n === 6 ? 3 : n === 3 ? 2 : 1, true]));
    for (const t of ticks) expect(t.ms).toBeGreaterThan(0);
    for (const [i, j] of JOBS.entries()) expect(bytes(results[i]!).equals(bytes(await alone(j)))).toBe(true);
  });

  it('lets a job join between ticks, and splits a tick into calls of at most maxBatch', async () => {
    calls = [];
    const b = new ContinuousBatcher(eps, { ...OPTS, maxBatch: 2 });
    let late: Promise<Float32Array> | undefined;
    const a = await b.submit(processOf(JOBS[0]!), { onStep: (s) => void (s.stepIndex === 1 && (late = b.submit(processOf(JOBS[2]!)))) });
    const c = await late!;
    // 2 samples for two ticks, then 5 in calls of at most 2, of even size
    expect(calls.slice(0, 5)).toEqual([2, 2, 2, 2, 1]);
    expect(bytes(a).equals(bytes(await alone(JOBS[0]!)))).toBe(true);
    expect(bytes(c).equals(bytes(await alone(JOBS[2]!)))).toBe(true);
  });

  it('a cancelled job leaves the batch before the next step; its neighbours finish with unchanged bytes', async () => {
    calls = [];
    const b = new ContinuousBatcher(eps, OPTS);
    const ac = new AbortController();
    const victim = { settings: { ...DEFAULT_SAMPLER, steps: 50 }, seed: 9, count: 4, k: 5 };
    let victimSteps = 0;
    const pending = [
      b.submit(processOf(JOBS[0]!)),
      b.submit(processOf(victim), { signal: ac.signal, onStep: (s) => void ((victimSteps = s.stepIndex + 1) === 2 && ac.abort()) }),
      b.submit(processOf(JOBS[1]!)),
    ];
    const [a, v, c] = await Promise.allSettled(pending);
    expect(v).toMatchObject({ status: 'rejected', reason: { code: 'CANCELLED' } });
    expect(victimSteps).toBe(2);
    // ticks 1–2 had 2 + 4 + 1 samples, then the victim's 4 are gone
    expect(calls.slice(0, 3)).toEqual([7, 7, 3]);
    expect(bytes((a as PromiseFulfilledResult<Float32Array>).value).equals(bytes(await alone(JOBS[0]!)))).toBe(true);
    expect(bytes((c as PromiseFulfilledResult<Float32Array>).value).equals(bytes(await alone(JOBS[1]!)))).toBe(true);
  });

  it('answers RESOURCE_EXHAUSTED with a retry hint when the active set and the queue are full', async () => {
    const b = new ContinuousBatcher(eps, { ...OPTS, maxActiveSamples: 2, maxQueuedJobs: 1 });
    const running = b.submit(processOf(JOBS[0]!)); // 2 samples: fills the active set
    const queued = b.submit(processOf(JOBS[1]!)); // waits
    const err = await b.submit(processOf(JOBS[2]!)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PlatformError);
    expect(err).toMatchObject({ code: 'RESOURCE_EXHAUSTED', retryAfterMs: expect.any(Number) });
    expect((err as Error).message).toMatch(/SCHEDULER_MAX_QUEUE=1/);
    await Promise.all([running, queued]);
    // alone, a job larger than the active set runs, even with no queue at all
    const strict = new ContinuousBatcher(eps, { ...OPTS, maxActiveSamples: 2, maxQueuedJobs: 0 });
    await expect(strict.submit(processOf(JOBS[2]!))).resolves.toHaveLength(3 * item);
  });

  it('fails every job of a tick whose refiner call fails, then serves the next ones', async () => {
    let fail = true;
    const flaky: EpsFn = async (x, t, c) => {
      if (fail) throw new PlatformError('SERVICE_UNAVAILABLE', 'no diffusevae-refiner replica is running');
      return models.eps(x, t, c);
    };
    const b = new ContinuousBatcher(flaky, OPTS);
    const failed = await Promise.allSettled(JOBS.slice(0, 2).map((j) => b.submit(processOf(j))));
    expect(failed.map((r) => r.status === 'rejected' && (r.reason as PlatformError).code)).toEqual(['SERVICE_UNAVAILABLE', 'SERVICE_UNAVAILABLE']);
    fail = false;
    await expect(b.submit(processOf(JOBS[1]!))).resolves.toHaveLength(item);
  });
});
