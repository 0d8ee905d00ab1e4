import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PlatformError } from '@diffusevae/contracts';
import { DEFAULT_MODEL_DIR, readManifests, type ModelManifest } from '@diffusevae/models';
import type { Stages } from '@diffusevae/pipeline';
import { Tensor } from '@diffusevae/tensor';
import { createGateway, InMemoryJobStore, isFinished, localJobBus, MemoryWorkQueue, quietLogger, type Gateway, type Job, type WorkItem } from '../src/index.js';
import { ModelSets } from '../src/model-sets.js';
import { JobRunner, DEFAULT_LIMITS } from '../src/runner.js';
import { validateGenerate } from '../src/validate.js';
import { gql, JOB_FIELDS } from './helpers.js';

// Several model sets side by side, in one process: the repository's three sets (their manifests only) with stand-in
// stages that record which set's stages a job ran on. No network is loaded: this is about routing and validation.
const SETS = ['fmnist', 'fmnist-cont', 'fmnist-f2-cont'];
const DIRS = SETS.map((s) => path.join(path.dirname(DEFAULT_MODEL_DIR), s));

let manifests: ModelManifest[];
/** the set whose stages each decode ran on, in order */
const calls: string[] = [];

/** Stand-in stages of one set: stage 1 is gray, the refiner returns it as it is. */
function fakeStages(m: ModelManifest): Stages {
  const { resolution: r, channels: c } = m.image;
  return {
    encode: async (x) => ({ mu: Tensor.zeros([x.batch, m.latent.dim]), logvar: Tensor.zeros([x.batch, m.latent.dim]) }),
    decode: async (z) => (calls.push(m.name), Tensor.zeros([z.batch, c, r, r])),
    refine: async (cond) => cond,
  };
}

const sources = () => manifests.map((manifest) => ({ manifest, stages: fakeStages(manifest) }));
const sets = () => ModelSets.of(sources());

beforeAll(async () => {
  manifests = await readManifests(DIRS);
});

describe('ModelSets', () => {
  it('picks the set a request names; none named: the first (the default)', () => {
    const s = sets();
    expect(s.names).toEqual(SETS);
    expect(s.default.name).toBe('fmnist');
    expect(s.list.map((x) => x.isDefault)).toEqual([true, false, false]);
    expect(s.pick(undefined).name).toBe('fmnist');
    expect(s.pick(null).name).toBe('fmnist');
    expect(s.pick('fmnist-f2-cont').model.limits).toMatchObject({ formulation: 2, noiseConditioning: 'continuous' });
  });

  it('an unknown set is BAD_USER_INPUT naming input.model and the served sets', () => {
    const e = (() => {
      try {
        sets().pick('x');
      } catch (err) {
        return err as PlatformError;
      }
    })();
    expect(e).toBeInstanceOf(PlatformError);
    expect(e).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.model', message: 'input.model: unknown model set "x"; served: fmnist, fmnist-cont, fmnist-f2-cont' });
  });

  it('get: the set a queued job or manifest recorded; none recorded is the default; one not served is undefined', () => {
    const s = sets();
    expect(s.get(undefined)?.name).toBe('fmnist');
    expect(s.get('fmnist-cont')?.name).toBe('fmnist-cont');
    expect(s.get('gone')).toBeUndefined();
  });

  it('refuses no set, and two sets of one name', () => {
    expect(() => new ModelSets([])).toThrow(/at least one model set/);
    expect(() => ModelSets.of([sources()[0]!, sources()[0]!])).toThrow(/two model sets are named fmnist/);
  });

  it("each request is validated against its set's limits", () => {
    const s = sets();
    const input = { seed: 1, sampler: { kind: 'DDPM' as const, steps: 4, inferenceSchedule: { betaStart: 1e-6, betaEnd: 0.8 } } };
    expect(() => validateGenerate(input, s.pick('fmnist').model.limits, () => 0)).toThrow(/input\.sampler\.inferenceSchedule: this model set is conditioned on the integer timestep/);
    expect(validateGenerate(input, s.pick('fmnist-cont').model.limits, () => 0).sampler).toMatchObject({ formulation: 1, inferenceSchedule: { betaStart: 1e-6, betaEnd: 0.8 } });
    expect(validateGenerate(input, s.pick('fmnist-f2-cont').model.limits, () => 0).sampler.formulation).toBe(2);
  });
});

describe('a gateway serving three sets', () => {
  let gw: Gateway;
  /** serves fmnist alone: a manifest of another set cannot be reproduced there */
  let fmnistOnly: Gateway;
  const GENERATE = `mutation($input: GenerateInput!) { generate(input: $input) { ${JOB_FIELDS} } }`;

  beforeAll(async () => {
    gw = await createGateway({ sets: sources(), port: 0, host: '127.0.0.1', log: quietLogger() });
    fmnistOnly = await createGateway({ stages: fakeStages(manifests[0]!), manifest: manifests[0]!, port: 0, host: '127.0.0.1', log: quietLogger() });
  });
  afterAll(async () => {
    await gw?.stop();
    await fmnistOnly?.stop();
  });

  it('models lists every set in MODEL_DIR order, the first marked default, each with its own facts and files', async () => {
    const r = await gql(gw.url, `{ models { name default formulation noiseConditioning numTrainTimesteps resolution limits { maxSteps } files { role sha256 } } }`);
    expect(r.errors).toBeUndefined();
    const models = r.data!.models as { name: string; default: boolean; formulation: number; noiseConditioning: string; files: { role: string; sha256: string }[] }[];
    expect(models.map((m) => [m.name, m.default, m.formulation, m.noiseConditioning])).toEqual([
      ['fmnist', true, 1, 'DISCRETE'],
      ['fmnist-cont', false, 1, 'CONTINUOUS'],
      ['fmnist-f2-cont', false, 2, 'CONTINUOUS'],
    ]);
    models.forEach((m, i) => {
      expect(m).toMatchObject({ numTrainTimesteps: 1000, resolution: 28, limits: { maxSteps: 1000 } });
      expect(m.files.find((f) => f.role === 'refiner')!.sha256).toBe(manifests[i]!.files.refiner.sha256);
    });
  });

  it('an unknown model is BAD_USER_INPUT listing the served sets, on every job mutation', async () => {
    const message = 'input.model: unknown model set "x"; served: fmnist, fmnist-cont, fmnist-f2-cont';
    const r = await gql(gw.url, GENERATE, { input: { model: 'x' } });
    expect(r.data?.generate).toBeNull();
    expect(r.errors![0]).toMatchObject({ message, extensions: { code: 'BAD_USER_INPUT', field: 'input.model' } });
    const dn = await gql(gw.url, `mutation { denoise(input: { model: "x", image: "" }) { id } }`);
    expect(dn.errors![0]).toMatchObject({ message, extensions: { code: 'BAD_USER_INPUT' } });
  });

  it("the rest of the input is checked against the named set's limits", async () => {
    const sampler = { kind: 'DDPM', steps: 4, inferenceSchedule: { betaStart: 1e-6, betaEnd: 0.8 } };
    const discrete = await gql(gw.url, GENERATE, { input: { seed: 1, sampler } });
    expect(discrete.errors![0]).toMatchObject({ extensions: { code: 'BAD_USER_INPUT', field: 'input.sampler.inferenceSchedule' } });
    const cont = await gql(gw.url, GENERATE, { input: { model: 'fmnist-cont', seed: 1, sampler } });
    expect(cont.errors).toBeUndefined();
    expect(cont.data!.generate.manifest).toMatchObject({ model: { name: 'fmnist-cont' }, sampler: { inferenceSchedule: { betaStart: 1e-6, betaEnd: 0.8 } } });
  });

  it("a job runs on its set's stages; its manifest names the set and its files; reproduce runs it there again", async () => {
    calls.length = 0;
    const run = async (model?: string) => (await gql(gw.url, GENERATE, { input: { ...(model ? { model } : {}), seed: 3, sampler: { steps: 4 } } })).data!.generate;
    const [dflt, f2] = [await run(), await run('fmnist-f2-cont')];
    expect(calls).toEqual(['fmnist', 'fmnist-f2-cont']);
    expect(dflt.manifest.model).toMatchObject({ name: 'fmnist', formulation: 1, files: { refiner: { sha256: manifests[0]!.files.refiner.sha256 } } });
    expect(f2.manifest.model).toMatchObject({ name: 'fmnist-f2-cont', formulation: 2, files: { refiner: { sha256: manifests[2]!.files.refiner.sha256 } } });
    expect(f2.manifest.sampler).toMatchObject({ steps: 4 });

    calls.length = 0;
    const again = await gql(gw.url, `mutation($m: JSON!) { reproduce(manifest: $m) { ${JOB_FIELDS} } }`, { m: f2.manifest });
    expect(again.errors).toBeUndefined();
    expect(calls).toEqual(['fmnist-f2-cont']);
    expect(again.data!.reproduce.manifest.model).toEqual(f2.manifest.model);
    expect(again.data!.reproduce.images).toEqual(f2.images);
  });

  it('reproduce refuses, clearly, a manifest of a set this gateway does not serve', async () => {
    const f2 = (await gql(gw.url, GENERATE, { input: { model: 'fmnist-f2-cont', seed: 4, sampler: { steps: 2 } } })).data!.generate;
    const r = await gql(fmnistOnly.url, `mutation($m: JSON!) { reproduce(manifest: $m) { id } }`, { m: f2.manifest });
    expect(r.errors![0]).toMatchObject({
      message: 'manifest.model: the job was made by model set "fmnist-f2-cont", which this gateway does not serve (served: fmnist): its images cannot be made again here',
      extensions: { code: 'BAD_USER_INPUT', field: 'manifest.model' },
    });
  });
});

describe('queued jobs carry their set', () => {
  const request = (limits: Parameters<typeof validateGenerate>[1]) => validateGenerate({ seed: 5, sampler: { steps: 2 }, wait: false }, limits, () => 0);
  const world = () => {
    const items: WorkItem[] = [];
    const store = new InMemoryJobStore();
    const queue = new MemoryWorkQueue(10, () => 1000);
    const enqueue = queue.enqueue.bind(queue);
    queue.enqueue = (item: WorkItem) => (items.push(item), enqueue(item));
    const runner = new JobRunner(sets(), store, queue, localJobBus(), quietLogger(), { ...DEFAULT_LIMITS, maxAttempts: 1 }).start();
    const finished = async (id: string): Promise<Job> => {
      for (;;) {
        const job = await store.get(id);
        if (job && isFinished(job)) return job;
        await new Promise((r) => setTimeout(r, 10));
      }
    };
    return { queue, runner, finished, items };
  };

  it('a job queued before jobs named their set (no model) runs on the default set', async () => {
    const { queue, runner, finished } = world();
    calls.length = 0;
    await queue.enqueue({ id: 'a8d6c0de-0000-4000-8000-000000000001', kind: 'generate', createdAt: new Date().toISOString(), request: request(sets().default.model.limits) });
    const job = await finished('a8d6c0de-0000-4000-8000-000000000001');
    await runner.stop();
    runner.close();
    expect(job.status).toBe('SUCCEEDED');
    expect(calls).toEqual(['fmnist']);
    expect(job.status === 'SUCCEEDED' && job.manifest['model']).toMatchObject({ name: 'fmnist' });
  });

  it('the runner queues the set; a job whose set this replica does not serve is given back, then fails naming the set', async () => {
    const { queue, runner, finished, items } = world();
    calls.length = 0;
    const { job } = await runner.submit(request(sets().pick('fmnist-cont').model.limits), { model: 'fmnist-cont' });
    expect(items.map((i) => i.model)).toEqual(['fmnist-cont']);
    expect((await finished(job.id)).status).toBe('SUCCEEDED');
    expect(calls).toEqual(['fmnist-cont']);
    const id = 'a8d6c0de-0000-4000-8000-000000000002';
    await queue.enqueue({ id, kind: 'generate', createdAt: new Date().toISOString(), model: 'gone', request: request(sets().default.model.limits) });
    const failed = await finished(id);
    await runner.stop();
    runner.close();
    expect(failed).toMatchObject({ status: 'FAILED', error: { code: 'SERVICE_UNAVAILABLE', message: expect.stringMatching(/model set gone is not served by this gateway \(its MODEL_DIR serves fmnist, fmnist-cont, fmnist-f2-cont\)/) } });
  });
});
