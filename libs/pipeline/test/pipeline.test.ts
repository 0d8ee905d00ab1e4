import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Purpose, batchNormals } from '@diffusevae/rng';
import { ModelSet } from '@diffusevae/models';
import { DEFAULT_SAMPLER, alphaBars, linearBetas } from '@diffusevae/schedulers';
import { Tensor } from '@diffusevae/tensor';
import {
  denoise,
  estimateNoiseSigma,
  generate,
  interpolate,
  interpolateNoise,
  localStages,
  reconstruct,
  sampleLatents,
  slerpPath,
  startNoise,
  superResolve,
  upsample,
  type Stages,
} from '../src/index.js';

// The real default model set, in-process: the same networks the services serve.
let models: ModelSet;
let stages: Stages;
const sampler = { ...DEFAULT_SAMPLER, kind: 'DDIM' as const, steps: 3 };

beforeAll(async () => {
  models = await ModelSet.load(undefined, ['encoder', 'decoder', 'refiner']);
  stages = localStages(models);
});
afterAll(() => models.release());

describe('generate', () => {
  it('is reproducible from a seed, and a job split in chunks gives the same samples', async () => {
    const dim = models.manifest.latent.dim;
    const a = await generate(stages, dim, { count: 4, seed: 42, sampler, latentTemperature: 1 });
    expect(a.images.shape).toEqual([4, ...models.imageShape]);
    const b = await generate(stages, dim, { count: 4, seed: 42, sampler, latentTemperature: 1 });
    expect(b.images.data).toEqual(a.images.data);
    const tail = await generate(stages, dim, { count: 2, seed: 42, firstSample: 2, sampler, latentTemperature: 1 });
    expect(tail.images.data).toEqual(a.images.sliceBatch(2, 4).data);
    const other = await generate(stages, dim, { count: 4, seed: 43, sampler, latentTemperature: 1 });
    expect(other.images.data).not.toEqual(a.images.data);
  });

  it('stops after stage 1 when asked', async () => {
    const r = await generate(stages, models.manifest.latent.dim, { count: 2, seed: 1, sampler, latentTemperature: 1, refine: false });
    expect(r.images).toBe(r.stage1);
    expect(r.stage1.data).toEqual((await models.decode(sampleLatents(1, 2, models.manifest.latent.dim, 1))).data);
  });

  it('reports progress with the x̂_0 preview', async () => {
    const seen: number[] = [];
    await generate(stages, models.manifest.latent.dim, {
      count: 1,
      seed: 3,
      sampler,
      latentTemperature: 1,
      onStep: (p) => {
        expect(p.predOriginal!.shape).toEqual([1, ...models.imageShape]);
        seen.push(p.stepIndex);
      },
    });
    expect(seen).toEqual([0, 1, 2]);
  });
});

describe('restoration pipelines', () => {
  const [c, h, w] = [1, 28, 28];
  const image = (seed: number, n = 2) => new Tensor(Float32Array.from(batchNormals(seed, Purpose.corruption, 0, n, c * h * w), (v) => Math.tanh(v)), [n, c, h, w]);

  it('reconstructs through encoder, decoder and refiner', async () => {
    const r = await reconstruct(stages, image(5), { seed: 1, sampler });
    expect(r.stage1.shape).toEqual([2, c, h, w]);
    expect(r.images.shape).toEqual([2, c, h, w]);
  });

  it('super-resolves ×4 from 7×7, directly and through the VAE', async () => {
    const low = new Tensor(new Float32Array(2 * 49).fill(0.25), [2, 1, 7, 7]);
    const up = upsample(low, 28, 28);
    for (const v of up.data) expect(v).toBeCloseTo(0.25, 5);
    const direct = await superResolve(stages, low, { seed: 1, sampler, height: 28, width: 28 });
    expect(direct.stage1.data).toEqual(up.data);
    const viaVae = await superResolve(stages, low, { seed: 1, sampler, height: 28, width: 28, throughVae: true });
    expect(viaVae.images.shape).toEqual([2, 1, 28, 28]);
  });

  it('estimates the noise level of Gaussian noise', () => {
    const flat = new Tensor(Float32Array.from(batchNormals(9, Purpose.corruption, 0, 4, 28 * 28), (v) => 0.3 * v), [4, 1, 28, 28]);
    for (const s of estimateNoiseSigma(flat)) expect(Math.abs(s - 0.3) / 0.3).toBeLessThan(0.15);
  });

  it('denoises from the timestep whose noise level matches σ', async () => {
    const r = await denoise(stages, image(6), { seed: 1, sampler: { ...sampler, steps: 10 }, sigma: 0.4, schedule: models.manifest.schedule });
    const ab = alphaBars(linearBetas(models.manifest.schedule));
    expect(Math.sqrt((1 - ab[r.startTimestep]!) / ab[r.startTimestep]!)).toBeCloseTo(0.4, 2);
    expect(r.images.shape).toEqual([2, c, h, w]);
  });

  it('interpolates along a slerp path with the DDPM noise held fixed', async () => {
    const dim = models.manifest.latent.dim;
    const z = sampleLatents(11, 2, dim, 1);
    const path = slerpPath(z.data.subarray(0, dim), z.data.subarray(dim), 5);
    expect(Array.from(path.sliceBatch(0, 1).data)).toEqual(Array.from(z.data.subarray(0, dim)).map((v) => expect.closeTo(v, 5)));
    expect(Array.from(path.sliceBatch(4, 5).data)).toEqual(Array.from(z.data.subarray(dim)).map((v) => expect.closeTo(v, 5)));
    // with both ends equal the path is constant: fixed noise must then give identical images
    const same = await interpolate(stages, z.data.subarray(0, dim), z.data.subarray(0, dim), { seed: 2, sampler: { ...sampler, kind: 'DDPM' }, points: 3 });
    const k = c * h * w;
    expect(same.images.data.subarray(0, k)).toEqual(same.images.data.subarray(2 * k, 3 * k));
  });

  it('interpolates in the DDPM latent: one x̂, x_T slerped between two seeds’ start noise, the ends as generation draws them', async () => {
    const dim = models.manifest.latent.dim;
    const z = sampleLatents(11, 1, dim, 1).data;
    const ddpm = { ...sampler, kind: 'DDPM' as const };
    const r = await interpolateNoise(stages, z, [3, 4], { seed: 9, sampler: ddpm, points: 4 });
    const k = c * h * w;
    expect(r.stage1.shape).toEqual([4, c, h, w]);
    // x̂ held fixed along the path
    for (let p = 1; p < 4; p++) expect(r.stage1.data.subarray(p * k, (p + 1) * k)).toEqual(r.stage1.data.subarray(0, k));
    // the points differ (x_T moves), but the first is the refinement of x̂ from seed 3's x_T with seed 9's step noise
    expect(Array.from(r.images.data.subarray(0, k))).not.toEqual(Array.from(r.images.data.subarray(3 * k)));
    const first = await stages.refine(r.stage1.sliceBatch(0, 1), { seed: 9, sampler: ddpm, init: startNoise(3, k, ddpm.temperature), sharedNoise: true });
    expect(Array.from(r.images.data.subarray(0, k))).toEqual(Array.from(first.data).map((v) => expect.closeTo(v, 4)));
  });
});
