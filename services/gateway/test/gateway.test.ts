import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeImage } from '@diffusevae/image';
import { ModelSet } from '@diffusevae/models';
import { localStages } from '@diffusevae/pipeline';
import { createGateway, quietLogger, type Gateway } from '../src/index.js';
import { gql, JOB_FIELDS, MODEL_DIR, pngBase64 } from './helpers.js';

// The resolvers over in-process stages (localStages on the ONNX models), through a real HTTP server.
let models: ModelSet;
let gw: Gateway;
let url: string;
const fast = { kind: 'DDIM', steps: 3 };

beforeAll(async () => {
  models = await ModelSet.load(MODEL_DIR, ['encoder', 'decoder', 'refiner']);
  gw = await createGateway({ stages: localStages(models), manifest: models.manifest, port: 0, host: '127.0.0.1', log: quietLogger() });
  url = gw.url;
});
afterAll(async () => {
  await gw?.stop();
  await models?.release();
});

const GENERATE = `mutation($input: GenerateInput!) { generate(input: $input) { ${JOB_FIELDS} } }`;

async function pngSize(b64: string) {
  const img = await decodeImage(Buffer.from(b64, 'base64'), { channels: 1 });
  return `${img.width}x${img.height}`;
}

function codeOf(r: { errors?: { extensions?: Record<string, unknown> }[] }) {
  return r.errors?.[0]?.extensions?.['code'];
}

describe('generate', () => {
  it('returns count decodable 28×28 PNGs, stage-1 images and a manifest that reproduces the job', async () => {
    const r = await gql(url, GENERATE, { input: { count: 3, seed: 7, sampler: fast } });
    expect(r.errors).toBeUndefined();
    const job = r.data!.generate;
    expect(job.status).toBe('SUCCEEDED');
    expect(job.kind).toBe('GENERATE');
    expect(job.images).toHaveLength(3);
    expect(job.stage1).toHaveLength(3);
    for (const im of [...job.images, ...job.stage1]) {
      expect(im).toMatchObject({ width: 28, height: 28 });
      expect(await pngSize(im.png)).toBe('28x28');
    }
    expect(job.progress).toEqual({ step: 3, steps: 3, timestep: expect.any(Number) });
    expect(job.manifest).toMatchObject({
      kind: 'generate',
      seed: 7,
      count: 3,
      latentTemperature: 1,
      sampler: { kind: 'DDIM', steps: 3, eta: 1, temperature: 1, timestepSpacing: 'TRAILING', varianceType: 'FIXEDLARGE', clipSample: true },
      model: { name: models.manifest.name, formulation: models.manifest.schedule.formulation, files: { refiner: { sha256: models.manifest.files.refiner.sha256 } } },
    });
  });

  it('gives identical PNG bytes for the same seed, different ones for another', async () => {
    const input = { count: 2, seed: 42, sampler: fast };
    const [a, b, c] = await Promise.all([gql(url, GENERATE, { input }), gql(url, GENERATE, { input }), gql(url, GENERATE, { input: { ...input, seed: 43 } })]);
    const pngs = (r: typeof a) => r.data!.generate.images.map((i: { png: string }) => i.png);
    expect(pngs(a)).toEqual(pngs(b));
    expect(pngs(c)).not.toEqual(pngs(a));
  });

  it('draws a seed when none is given and reports it', async () => {
    const r = await gql(url, GENERATE, { input: { sampler: { ...fast, kind: 'DDPM' }, refine: false } });
    expect(r.errors).toBeUndefined();
    expect(Number.isInteger(r.data!.generate.manifest.seed)).toBe(true);
    expect(r.data!.generate.manifest.sampler).toMatchObject({ kind: 'DDPM', varianceType: 'FIXEDLARGE' });
    expect(r.data!.generate.manifest.sampler).not.toHaveProperty('eta');
  });

  it('refuses eta with DDPM, naming input.sampler.eta (the SDL gives eta no default, so only a given one is seen)', async () => {
    const r = await gql(url, GENERATE, { input: { sampler: { ...fast, kind: 'DDPM', eta: 0 } } });
    expect(r.data!.generate).toBeNull();
    expect(r.errors![0]).toMatchObject({ extensions: { code: 'BAD_USER_INPUT', field: 'input.sampler.eta' }, message: expect.stringMatching(/^input\.sampler\.eta: is for DDIM only/) });
    const ddim = await gql(url, GENERATE, { input: { sampler: fast, refine: true, count: 1 } });
    expect(ddim.data!.generate.manifest.sampler).toMatchObject({ kind: 'DDIM', eta: 1 });
  });

  it('wait: false returns the job at once; job(id) has it finished later', async () => {
    const r = await gql(url, `mutation { generate(input: { seed: 1, wait: false, sampler: { steps: 2 } }) { id status images { png } } }`);
    expect(['QUEUED', 'RUNNING']).toContain(r.data!.generate.status);
    expect(r.data!.generate.images).toEqual([]);
    const id = r.data!.generate.id;
    let job;
    for (let i = 0; i < 200; i++) {
      job = (await gql(url, `query($id: ID!) { job(id: $id) { id status images { width } manifest } }`, { id })).data!.job;
      if (job.status === 'SUCCEEDED') break;
      await new Promise((res) => setTimeout(res, 50));
    }
    expect(job).toMatchObject({ id, status: 'SUCCEEDED', images: [{ width: 28 }], manifest: { seed: 1 } });
    expect((await gql(url, `{ job(id: "nope") { id } }`)).data!.job).toBeNull();
  });
});

describe('restoration', () => {
  const MUT = (name: string, type: string) => `mutation($input: ${type}!) { ${name}(input: $input) { ${JOB_FIELDS} } }`;

  it.each([
    [4, 7, 7],
    [2, 14, 14],
  ])('superResolve ×%i from %i×%i to 28×28', async (scale, size) => {
    const r = await gql(url, MUT('superResolve', 'SuperResolveInput'), { input: { image: pngBase64(size, size), scale, seed: 3, sampler: fast } });
    expect(r.errors).toBeUndefined();
    const job = r.data!.superResolve;
    expect(job.images.map((i: { width: number; height: number }) => `${i.width}x${i.height}`)).toEqual(['28x28']);
    expect(await pngSize(job.images[0].png)).toBe('28x28');
    expect(job.manifest).toMatchObject({ kind: 'superResolve', scale, throughVae: false, inputSha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
  });

  it('denoise starts at the timestep matching σ (given, or estimated) and reports it', async () => {
    const image = pngBase64(28, 28);
    const given = await gql(url, MUT('denoise', 'DenoiseInput'), { input: { image, sigma: 0.1, seed: 5, sampler: { steps: 10 } } });
    expect(given.errors).toBeUndefined();
    const m = given.data!.denoise.manifest;
    expect(m).toMatchObject({ kind: 'denoise', sigma: 0.1, sigmaModelRange: 0.2, sigmaEstimated: false });
    expect(m.startTimestep).toBeGreaterThan(0);
    expect(m.startTimestep).toBeLessThan(999);
    const estimated = await gql(url, MUT('denoise', 'DenoiseInput'), { input: { image, count: 2, sampler: fast } });
    expect(estimated.errors).toBeUndefined();
    expect(estimated.data!.denoise.images).toHaveLength(2);
    expect(estimated.data!.denoise.manifest.sigmaEstimated).toBe(true);
  });

  it('reconstruct runs encoder → decoder → refiner', async () => {
    const r = await gql(url, MUT('reconstruct', 'ReconstructInput'), { input: { image: pngBase64(28, 28, 3), count: 2, seed: 9, sampler: fast } });
    expect(r.errors).toBeUndefined();
    expect(r.data!.reconstruct.images).toHaveLength(2);
    expect(r.data!.reconstruct.manifest).toMatchObject({ kind: 'reconstruct', useMean: false, count: 2 });
  });

  it('interpolate between a seed and an image', async () => {
    const r = await gql(url, MUT('interpolate', 'InterpolateInput'), {
      input: { from: { seed: 11 }, to: { image: pngBase64(28, 28) }, points: 3, seed: 2, sampler: fast },
    });
    expect(r.errors).toBeUndefined();
    expect(r.data!.interpolate.images).toHaveLength(3);
    expect(r.data!.interpolate.manifest).toMatchObject({ kind: 'interpolate', points: 3, from: { seed: 11 }, to: { inputSha256: expect.any(String) } });
  });

  it('interpolate in the DDPM latent: one stage-1 image held, x_T moved between two seeds’ noise', async () => {
    const r = await gql(url, MUT('interpolate', 'InterpolateInput'), {
      input: { space: 'DDPM_LATENT', at: { seed: 5 }, from: { seed: 11 }, to: { seed: 12 }, points: 3, seed: 2, sampler: fast },
    });
    expect(r.errors).toBeUndefined();
    const job = r.data!.interpolate;
    expect(job.images).toHaveLength(3);
    expect(job.manifest).toMatchObject({ kind: 'interpolate', space: 'ddpm-latent', at: { seed: 5 }, from: { seed: 11 }, to: { seed: 12 } });
    // the stage-1 image is the same at every point, the refined ones are not (pixels: each PNG's text names its point)
    const pixels = async (ims: { png: string }[]) =>
      new Set(await Promise.all(ims.map(async (i) => Buffer.from((await decodeImage(Buffer.from(i.png, 'base64'), { channels: 1 })).data.buffer).toString('hex'))));
    expect((await pixels(job.stage1)).size).toBe(1);
    expect((await pixels(job.images)).size).toBe(3);
  });
});

describe('bad input is BAD_USER_INPUT naming the field', () => {
  const SR = `mutation($input: SuperResolveInput!) { superResolve(input: $input) { id } }`;

  it.each([
    ['malformed base64', 'not base64!!', /^input\.image: not valid base64/],
    ['base64 that is not an image', Buffer.from('hello, world').toString('base64'), /^input\.image: not a PNG, JPEG or WebP image/],
    ['a truncated PNG', 'TRUNCATED', /^input\.image: not a PNG, JPEG or WebP image \(corrupt or truncated/],
  ])('%s', async (_name, image, message) => {
    const img = image === 'TRUNCATED' ? pngBase64(7, 7).slice(0, 40) : image;
    const r = await gql(url, SR, { input: { image: img } });
    expect(codeOf(r)).toBe('BAD_USER_INPUT');
    expect(r.errors![0]!.message).toMatch(message);
    expect(r.errors![0]!.extensions!['field']).toBe('input.image');
  });

  it('a wrong size, with the allowed sizes', async () => {
    const r = await gql(url, SR, { input: { image: pngBase64(10, 10) } });
    expect(codeOf(r)).toBe('BAD_USER_INPUT');
    expect(r.errors![0]!.message).toBe('input.image: must be 7x7 for scale 4 (the model is 28x28; allowed: 14x14 for scale 2, 7x7 for scale 4), got 10x10');
  });

  it('steps 1200 and count 0', async () => {
    const steps = await gql(url, GENERATE, { input: { sampler: { steps: 1200 } } });
    expect(codeOf(steps)).toBe('BAD_USER_INPUT');
    expect(steps.errors![0]!.message).toBe('input.sampler.steps: must be an integer in [1, 1000], got 1200');
    const count = await gql(url, `mutation { generate(input: { count: 0 }) { id } }`);
    expect(codeOf(count)).toBe('BAD_USER_INPUT');
    expect(count.errors![0]!.message).toBe('input.count: must be an integer in [1, 64], got 0');
  });

  it('NaN and Infinity cannot get through variables', async () => {
    // JSON has no NaN: a client sends a string or an overflowing literal, and GraphQL's Float refuses both.
    const nan = await gql(url, GENERATE, { input: { sampler: { eta: 'NaN' } } });
    expect(codeOf(nan)).toBe('BAD_USER_INPUT');
    expect(nan.errors![0]!.message).toMatch(/input\.sampler\.eta.*Float cannot represent/);
    const inf = await gql(url, '', undefined, `{"query":${JSON.stringify(GENERATE)},"variables":{"input":{"sampler":{"temperature":1e999}}}}`);
    expect(codeOf(inf)).toBe('BAD_USER_INPUT');
    expect(inf.errors![0]!.message).toMatch(/temperature.*Float cannot represent non numeric value: Infinity/);
  });

  it('an unknown sampler kind is refused by the enum', async () => {
    const v = await gql(url, GENERATE, { input: { sampler: { kind: 'PNDM' } } });
    expect(codeOf(v)).toBe('BAD_USER_INPUT');
    expect(v.errors![0]!.message).toMatch(/"PNDM" does not exist in "SamplerKind" enum/);
    const literal = await gql(url, `mutation { generate(input: { sampler: { kind: PNDM } }) { id } }`);
    expect(codeOf(literal)).toBe('GRAPHQL_VALIDATION_FAILED');
  });

  it('a body that is not JSON is a 400', async () => {
    const r = await gql(url, '', undefined, '{"query": ');
    expect(r.status).toBe(400);
    expect(codeOf(r)).toBe('BAD_REQUEST');
  });
});

describe('models and health', () => {
  it('describes the served model and reports in-process health', async () => {
    const r = await gql(url, `{ models { name resolution channels latentDim numTrainTimesteps files { role sha256 } } health { status mode services { name } } }`);
    expect(r.errors).toBeUndefined();
    expect(r.data!.models[0]).toMatchObject({ name: models.manifest.name, resolution: 28, channels: 1, latentDim: models.manifest.latent.dim });
    expect(r.data!.models[0].files).toContainEqual({ role: 'decoder', sha256: models.manifest.files.decoder.sha256 });
    expect(r.data!.health).toEqual({ status: 'ok', mode: 'in-process', services: [] });
  });
});
