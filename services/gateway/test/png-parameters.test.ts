import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelSet } from '@diffusevae/models';
import { localStages } from '@diffusevae/pipeline';
import { createGateway, quietLogger, type Gateway } from '../src/index.js';
import { gql, JOB_FIELDS, MODEL_DIR } from './helpers.js';

// Every output PNG of a job carries its parameters in a `parameters` text chunk, read here by libvips (sharp).
let models: ModelSet;
let gw: Gateway;

beforeAll(async () => {
  models = await ModelSet.load(MODEL_DIR, ['encoder', 'decoder', 'refiner']);
  gw = await createGateway({ stages: localStages(models), manifest: models.manifest, port: 0, host: '127.0.0.1', log: quietLogger() });
});
afterAll(async () => {
  await gw?.stop();
  await models?.release();
});

const GENERATE = `mutation($input: GenerateInput!) { generate(input: $input) { ${JOB_FIELDS} } }`;

async function parametersOf(b64: string): Promise<string | undefined> {
  const { comments } = await sharp(Buffer.from(b64, 'base64')).metadata();
  return comments?.find((c) => c.keyword === 'parameters')?.text;
}

describe('PNG parameters', () => {
  it('each image and stage-1 image carries the job parameters; equal requests still give identical bytes', async () => {
    const input = { count: 2, seed: 42, sampler: { kind: 'DDIM', steps: 3, eta: 0 } };
    const [a, b] = await Promise.all([gql(gw.url, GENERATE, { input }), gql(gw.url, GENERATE, { input })]);
    expect(a.errors).toBeUndefined();
    const [ja, jb] = [a.data!.generate, b.data!.generate];
    expect(ja.status).toBe('SUCCEEDED');
    expect(ja.id).not.toBe(jb.id);
    const sha = models.manifest.files.refiner.sha256;
    for (const [output, list] of [
      ['final', ja.images],
      ['stage 1', ja.stage1],
    ] as const) {
      expect(list).toHaveLength(2);
      for (const [i, im] of (list as { png: string }[]).entries()) {
        const text = await parametersOf(im.png);
        expect(text).toMatch(new RegExp(`^DiffuseVAE ${models.manifest.name}, kind: generate, output: ${output}, seed: 42, sample: ${i}, sampler: DDIM, steps: 3, eta: 0, `));
        expect(text).toContain(`refiner sha256: ${sha}`);
        expect(text).not.toContain(ja.id);
      }
    }
    const pngs = (j: typeof ja) => [...j.images, ...j.stage1].map((im: { png: string }) => im.png);
    expect(pngs(ja)).toEqual(pngs(jb));
    expect(ja.manifest.jobId).toBe(ja.id); // the id stays in the manifest, only the PNGs leave it out
  });
});
