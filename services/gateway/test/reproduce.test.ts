import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeImage } from '@diffusevae/image';
import { ModelSet } from '@diffusevae/models';
import { localStages } from '@diffusevae/pipeline';
import { DEFAULT_SAMPLER } from '@diffusevae/schedulers';
import { createGateway, quietLogger, type Gateway } from '../src/index.js';
import { gql, JOB_FIELDS, MODEL_DIR, pngBase64 } from './helpers.js';

// What a client needs to build a form (models), manifests that are valid input as they stand, reproduce(manifest)
// giving the same bytes, and per-image seeds (image i of a job made again alone). Real models, in-process stages.
let models: ModelSet;
let gw: Gateway;
let url: string;
const fast = { kind: 'DDIM', steps: 3 };

beforeAll(async () => {
  models = await ModelSet.load(MODEL_DIR, ['encoder', 'decoder', 'refiner']);
  gw = await createGateway({ stages: localStages(models), manifest: models.manifest, port: 0, host: '127.0.0.1', log: quietLogger(), limits: { maxImageSteps: 5000 } });
  url = gw.url;
});
afterAll(async () => {
  await gw?.stop();
  await models?.release();
});

const GENERATE = `mutation($input: GenerateInput!) { generate(input: $input) { ${JOB_FIELDS} } }`;
const REPRODUCE = `mutation($m: JSON!, $image: Int) { reproduce(manifest: $m, image: $image) { ${JOB_FIELDS} } }`;
const pngs = (job: { images: { png: string }[] }) => job.images.map((i) => i.png);

describe('models: what a form needs', () => {
  it('limits, choices and defaults, the defaults the same as the SDL’s', async () => {
    const r = await gql(
      url,
      `{ models { limits { maxCount maxPoints maxSteps maxImageSteps maxSeed inputSizes { kind scale width height } }
         samplers timestepSpacings varianceTypes scales
         defaults { count sample points latentTemperature scale sampler { kind steps eta temperature timestepSpacing varianceType clipSample } } } }`,
    );
    expect(r.errors).toBeUndefined();
    const m = r.data!.models[0];
    expect(m.limits).toEqual({
      maxCount: 64,
      maxPoints: 64,
      maxSteps: Math.min(1000, models.manifest.schedule.numTrainTimesteps),
      maxImageSteps: 5000,
      maxSeed: 2 ** 31 - 1,
      inputSizes: [
        { kind: 'RECONSTRUCT', scale: null, width: 28, height: 28 },
        { kind: 'DENOISE', scale: null, width: 28, height: 28 },
        { kind: 'SUPER_RESOLVE', scale: 2, width: 14, height: 14 },
        { kind: 'SUPER_RESOLVE', scale: 4, width: 7, height: 7 },
        { kind: 'INTERPOLATE', scale: null, width: 28, height: 28 },
      ],
    });
    expect(m.samplers).toEqual(['DDPM', 'DDIM', 'DPMPP_2M', 'DPMPP_2M_SDE']);
    expect(m.timestepSpacings).toEqual(['LEADING', 'TRAILING', 'LINSPACE', 'QUAD']);
    expect(m.varianceTypes).toEqual(['FIXEDLARGE', 'FIXEDSMALL']);
    expect(m.scales).toEqual([2, 4]);
    expect(m.defaults.sampler).toEqual({ kind: 'DPMPP_2M_SDE', steps: DEFAULT_SAMPLER.steps, eta: null /* DDIM's only */, temperature: 1, timestepSpacing: 'TRAILING', varianceType: 'FIXEDLARGE', clipSample: true });

    // the same defaults as introspection shows on the inputs
    const intro = await gql(url, `{ s: __type(name: "SamplerInput") { inputFields { name defaultValue } } g: __type(name: "GenerateInput") { inputFields { name defaultValue } } i: __type(name: "InterpolateInput") { inputFields { name defaultValue } } }`);
    const dv = (t: string, f: string) => intro.data![t].inputFields.find((x: { name: string }) => x.name === f).defaultValue;
    expect(dv('s', 'steps')).toBe(String(m.defaults.sampler.steps));
    expect(dv('s', 'kind')).toBe(m.defaults.sampler.kind);
    expect(dv('s', 'timestepSpacing')).toBe(m.defaults.sampler.timestepSpacing);
    expect(dv('g', 'count')).toBe(String(m.defaults.count));
    expect(dv('g', 'sample')).toBe(String(m.defaults.sample));
    expect(dv('i', 'points')).toBe(String(m.defaults.points));
  });
});

describe('manifests', () => {
  let job: any;
  beforeAll(async () => {
    const r = await gql(url, GENERATE, { input: { count: 4, seed: 11, sampler: { kind: 'DDIM', steps: 4, eta: 0.5, timestepSpacing: 'TRAILING' } } });
    expect(r.errors).toBeUndefined();
    job = r.data!.generate;
  });

  it('list each image’s seed and sample, and spell the sampler as SamplerInput does (valid input as it stands)', async () => {
    expect(job.manifest.images).toEqual([0, 1, 2, 3].map((i) => ({ seed: 11, sample: i })));
    expect(job.manifest.sampler).toEqual({ kind: 'DDIM', steps: 4, eta: 0.5, temperature: 1, timestepSpacing: 'TRAILING', varianceType: 'FIXEDLARGE', clipSample: true });
    const again = await gql(url, GENERATE, { input: { count: 4, seed: 11, sampler: job.manifest.sampler } });
    expect(again.errors).toBeUndefined();
    expect(pngs(again.data!.generate)).toEqual(pngs(job));
  });

  it('reproduce(manifest) gives identical PNG bytes, stage 1 too, as a new job', async () => {
    const r = await gql(url, REPRODUCE, { m: job.manifest });
    expect(r.errors).toBeUndefined();
    expect(r.data!.reproduce.id).not.toBe(job.id);
    expect(pngs(r.data!.reproduce)).toEqual(pngs(job));
    expect(r.data!.reproduce.stage1.map((i: { png: string }) => i.png)).toEqual(job.stage1.map((i: { png: string }) => i.png));
    expect({ ...r.data!.reproduce.manifest, jobId: 0, durationMs: 0 }).toEqual({ ...job.manifest, jobId: 0, durationMs: 0 });
  });

  it('image i alone: reproduce(manifest, image: i), or count 1 from sample i — the same bytes as image i of the job', async () => {
    const alone = await gql(url, REPRODUCE, { m: job.manifest, image: 2 });
    expect(alone.errors).toBeUndefined();
    expect(pngs(alone.data!.reproduce)).toEqual([pngs(job)[2]]);
    expect(alone.data!.reproduce.manifest).toMatchObject({ count: 1, sample: 2, images: [{ seed: 11, sample: 2 }] });
    const bySample = await gql(url, GENERATE, { input: { count: 1, seed: 11, sample: 3, sampler: job.manifest.sampler } });
    expect(pngs(bySample.data!.generate)).toEqual([pngs(job)[3]]);
  });

  it('image-input jobs carry their input: super-resolution and denoising (estimated σ) made again from the manifest alone', async () => {
    const sr = await gql(url, `mutation($i: SuperResolveInput!) { superResolve(input: $i) { ${JOB_FIELDS} } }`, { i: { image: pngBase64(7, 7, 3), scale: 4, count: 2, seed: 5, sampler: fast } });
    expect(sr.errors).toBeUndefined();
    const m = sr.data!.superResolve.manifest;
    const input = await decodeImage(Buffer.from(m.input, 'base64'), { channels: 1 });
    expect([input.width, input.height]).toEqual([7, 7]);
    const again = await gql(url, REPRODUCE, { m });
    expect(pngs(again.data!.reproduce)).toEqual(pngs(sr.data!.superResolve));

    const dn = await gql(url, `mutation($i: DenoiseInput!) { denoise(input: $i) { ${JOB_FIELDS} } }`, { i: { image: pngBase64(28, 28), seed: 9, sampler: fast } });
    expect(dn.errors).toBeUndefined();
    expect(dn.data!.denoise.manifest.sigmaEstimated).toBe(true);
    const dn2 = await gql(url, REPRODUCE, { m: dn.data!.denoise.manifest });
    expect(pngs(dn2.data!.reproduce)).toEqual(pngs(dn.data!.denoise));
  });

  it('an interpolation (one end an image) is made again whole; image is refused for it', async () => {
    const it = await gql(url, `mutation($i: InterpolateInput!) { interpolate(input: $i) { ${JOB_FIELDS} } }`, {
      i: { from: { seed: 1 }, to: { image: pngBase64(28, 28) }, points: 3, seed: 4, sampler: fast },
    });
    expect(it.errors).toBeUndefined();
    const m = it.data!.interpolate.manifest;
    expect(m.images).toEqual([0, 1, 2].map(() => ({ seed: 4, sample: 0 })));
    expect(pngs((await gql(url, REPRODUCE, { m })).data!.reproduce)).toEqual(pngs(it.data!.interpolate));
    const one = await gql(url, REPRODUCE, { m, image: 1 });
    expect(one.errors![0]).toMatchObject({ extensions: { code: 'BAD_USER_INPUT', field: 'image' } });
  });

  it('a DDPM-latent interpolation is made again from its manifest with the same bytes', async () => {
    const it = await gql(url, `mutation($i: InterpolateInput!) { interpolate(input: $i) { ${JOB_FIELDS} } }`, {
      i: { space: 'DDPM_LATENT', at: { image: pngBase64(28, 28) }, from: { seed: 1 }, to: { seed: 2 }, points: 3, seed: 4, sampler: fast },
    });
    expect(it.errors).toBeUndefined();
    const m = it.data!.interpolate.manifest;
    expect(m).toMatchObject({ space: 'ddpm-latent', at: { inputSha256: expect.any(String) } });
    expect(pngs((await gql(url, REPRODUCE, { m })).data!.reproduce)).toEqual(pngs(it.data!.interpolate));
  });

  it('refuses what is not a manifest of this model, naming the entry', async () => {
    const cases: [unknown, number | undefined, string, RegExp][] = [
      ['a string', undefined, 'manifest', /must be a job's manifest/],
      [{ ...job.manifest, kind: 'paint' }, undefined, 'manifest.kind', /one of generate/],
      [{ ...job.manifest, model: { ...job.manifest.model, files: { ...job.manifest.model.files, refiner: { sha256: 'ab' } } } }, undefined, 'manifest.model', /refiner differ/],
      [job.manifest, 4, 'image', /0\.\.3, got 4/],
      [{ ...job.manifest, sampler: { ...job.manifest.sampler, steps: 0 } }, undefined, 'manifest.sampler.steps', /^manifest\.sampler\.steps: must be an integer/],
      [{ ...job.manifest, kind: 'denoise' }, undefined, 'manifest.input', /input image the manifest carries/],
    ];
    for (const [m, image, field, message] of cases) {
      const r = await gql(url, REPRODUCE, { m, ...(image !== undefined ? { image } : {}) });
      expect(r.data?.reproduce ?? null, field).toBeNull();
      expect(r.errors![0]!.extensions, field).toMatchObject({ code: 'BAD_USER_INPUT', field });
      expect(r.errors![0]!.message, field).toMatch(message);
    }
  });
});
