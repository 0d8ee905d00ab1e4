import { PlatformError, float32, int32, type TensorMap } from '@diffusevae/contracts';
import path from 'node:path';
import { DEFAULT_MODEL_DIR, ModelSet } from '@diffusevae/models';
import { loadConfig } from '@diffusevae/service-kit';
import { Tensor } from '@diffusevae/tensor';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Batcher } from '../src/batcher.js';
import { epsHandler, epsRunner } from '../src/eps.js';

// The handler and the batcher's run on the real refiner in-process: no NATS.
let models: ModelSet;
beforeAll(async () => {
  models = await ModelSet.load(loadConfig().modelDir, ['refiner'], { intraOpThreads: 1 });
});
afterAll(() => models?.release());

const images = (n: number, phase: number) => {
  const shape = [n, ...models.imageShape];
  return float32(Float32Array.from({ length: n * models.itemSize }, (_, i) => Math.sin(i * 0.1 + phase)), shape);
};
const request = (n: number, phase: number, t: number[]) => ({ x_t: images(n, phase), t: int32(t), cond: images(n, phase + 1) });

describe('epsHandler', () => {
  it('merges concurrent requests into one onnxruntime call and gives each its own ε', async () => {
    const inference: number[] = [];
    const batcher = new Batcher(epsRunner(models, (ms) => void inference.push(ms)), { maxBatch: 64, maxWaitMs: 20 });
    const handler = epsHandler(batcher, models);
    const reqs = [request(2, 0, [10, 500]), request(1, 1, [999]), request(3, 2, [0, 1, 2])];
    const outs = await Promise.all(reqs.map((tensors) => handler({ tensors, params: undefined, header: () => undefined })));
    expect(batcher.stats).toMatchObject({ runs: 1, requests: 3, items: 6 });
    // the onnxruntime call itself, timed once per run, within the run's busy time
    expect(inference).toHaveLength(1);
    expect(inference[0]).toBeGreaterThan(0);
    expect(inference[0]).toBeLessThanOrEqual(batcher.stats.busyMs);
    for (const [i, r] of reqs.entries()) {
      const alone = await models.eps(
        new Tensor(r.x_t.data as Float32Array, r.x_t.shape),
        Array.from(r.t.data),
        new Tensor(r.cond.data as Float32Array, r.cond.shape),
      );
      expect(outs[i]!.eps!.shape).toEqual(r.x_t.shape);
      expect(new Tensor(outs[i]!.eps!.data as Float32Array, r.x_t.shape).maxAbsDiff(alone)).toBeLessThan(1e-5);
    }
  });

  const T = 1000;
  it.each([
    ['a timestep below 0', { t: int32([-1]) }, 't', /t: t\[0\] is -1; timesteps must be in \[0, 999\]/],
    ['a timestep of T', { t: int32([T]) }, 't', /t\[0\] is 1000/],
    ['float timesteps', { t: float32(Float32Array.from([5]), [1]) }, 't', /t: must be int32/],
    ['one timestep short', { t: int32([]) }, 't', /t: has shape \[0\], expected \[1\]/],
    ['a cond of another batch', { cond: float32(new Float32Array(2 * 784), [2, 1, 28, 28]) }, 'cond', /cond: has shape \[2, 1, 28, 28\], expected \[1, 1, 28, 28\]/],
    ['a NaN in x_t', { x_t: float32(new Float32Array(784).fill(Number.NaN), [1, 1, 28, 28]) }, 'x_t', /x_t: value 0 is NaN/],
  ])('rejects %s as BAD_USER_INPUT before batching', async (_, change, field, message) => {
    const batcher = new Batcher(epsRunner(models), { maxBatch: 64, maxWaitMs: 1 });
    const tensors = { ...request(1, 0, [3]), ...change } as TensorMap;
    const err = await epsHandler(batcher, models)({ tensors, params: undefined, header: () => undefined }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PlatformError);
    expect(err).toMatchObject({ code: 'BAD_USER_INPUT', field });
    expect((err as Error).message).toMatch(message);
    expect(batcher.stats.runs).toBe(0);
  });
});

describe('epsHandler on a continuous-noise set', () => {
  let cont: ModelSet;
  beforeAll(async () => {
    cont = await ModelSet.load(path.join(path.dirname(DEFAULT_MODEL_DIR), 'fmnist-cont'), ['refiner'], { intraOpThreads: 1 });
  });
  afterAll(() => cont?.release());
  const levels = (v: number[]) => float32(Float32Array.from(v), [v.length]);

  it('takes noise_level (√ᾱ) and gives the ε of a direct call', async () => {
    const batcher = new Batcher(epsRunner(cont), { maxBatch: 64, maxWaitMs: 1 });
    const { x_t, cond } = request(2, 0, [0, 0]);
    const out = await epsHandler(batcher, cont)({ tensors: { x_t, noise_level: levels([0.99, 0.2]), cond }, params: undefined, header: () => undefined });
    const alone = await cont.eps(new Tensor(x_t.data as Float32Array, x_t.shape), [0.99, 0.2], new Tensor(cond.data as Float32Array, cond.shape));
    expect(new Tensor(out.eps!.data as Float32Array, x_t.shape).maxAbsDiff(alone)).toBeLessThan(1e-5);
  });

  it.each([
    ['a timestep instead', { t: int32([3]) }, 't', /model set fmnist-cont is conditioned on the noise level: send noise_level/],
    ['a level of 0', { noise_level: levels([0]) }, 'noise_level', /noise_level\[0\] is 0; noise levels √ᾱ must be in \(0, 1\]/],
    ['a level above 1', { noise_level: levels([1.5]) }, 'noise_level', /noise_level\[0\] is 1.5/],
    ['int32 levels', { noise_level: int32([1]) }, 'noise_level', /noise_level: must be float32/],
  ])('rejects %s', async (_, change, field, message) => {
    const batcher = new Batcher(epsRunner(cont), { maxBatch: 64, maxWaitMs: 1 });
    const { x_t, cond } = request(1, 0, [0]);
    const tensors = { x_t, cond, ...('t' in change ? {} : { noise_level: levels([0.5]) }), ...change } as TensorMap;
    const err = await epsHandler(batcher, cont)({ tensors, params: undefined, header: () => undefined }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'BAD_USER_INPUT', field });
    expect((err as Error).message).toMatch(message);
    expect(batcher.stats.runs).toBe(0);
  });

  it('refuses noise_level on a discrete set, naming what it takes', async () => {
    const batcher = new Batcher(epsRunner(models), { maxBatch: 64, maxWaitMs: 1 });
    const tensors = { ...request(1, 0, [3]), noise_level: levels([0.5]) } as TensorMap;
    const err = await epsHandler(batcher, models)({ tensors, params: undefined, header: () => undefined }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'BAD_USER_INPUT', field: 'noise_level' });
    expect((err as Error).message).toMatch(/is conditioned on the timestep: send t \(int32 in \[0, 999\]\)/);
  });
});
