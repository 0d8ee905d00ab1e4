import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_MODEL_DIR } from '@diffusevae/models';
import { decodeImage } from '@diffusevae/image';
import { startNatsServer, startService, type NatsServer, type ServiceProcess } from '@diffusevae/testing';
import { KvKeyStore } from '@diffusevae/auth';
import { connect } from '@nats-io/transport-node';
import { gql, JOB_FIELDS, MODEL_DIR, pngBase64 } from './helpers.js';

// The real thing: nats-server, the four services and the gateway, each its own process, over HTTP, serving two model
// sets side by side (MODEL_DIR's set, the default, and the continuous-noise fmnist-cont): each set's jobs reach that
// set's services, on its subjects.
const CONT_DIR = path.join(path.dirname(DEFAULT_MODEL_DIR), 'fmnist-cont');
let nats: NatsServer;
const services: Record<string, ServiceProcess> = {};
let gateway: ServiceProcess;
let url: string;
let key: string;
/** every request with the key (the gateway process runs with AUTH=keys, its default) */
const call = (query: string, variables?: Record<string, unknown>) => gql(url, query, variables, undefined, key);

beforeAll(async () => {
  nats = await startNatsServer({ jetstream: true });
  const env = { NATS_URL: nats.url, MODEL_DIR: `${MODEL_DIR},${CONT_DIR}`, ORT_THREADS: '1' };
  const names = ['encoder', 'vae-decoder', 'refiner', 'scheduler'];
  const started = await Promise.all(names.map((n) => startService(`services/${n}/src/main.ts`, env, { timeoutMs: 120_000 })));
  names.forEach((n, i) => (services[n] = started[i]!));
  const nc = await connect({ servers: nats.url });
  key = (await (await KvKeyStore.open(nc)).create('e2e')).key;
  await nc.close();
  // two runs of a job at most: the last test waits for a job that cannot succeed to be given up
  gateway = await startService('services/gateway/src/main.ts', { ...env, PORT: '0', HOST: '127.0.0.1', JOB_MAX_ATTEMPTS: '2' }, { timeoutMs: 120_000 });
  url = gateway.output().match(/ready on (http\S+)/)![1]!;
});

afterAll(async () => {
  await gateway?.stop();
  await Promise.all(Object.values(services).map((s) => s.stop()));
  await nats?.stop();
});

const GENERATE = `mutation($input: GenerateInput!) { generate(input: $input) { ${JOB_FIELDS} } }`;

// first: the tests at the end of the next block stop a refiner and restart nats-server
describe('gateway over NATS, two model sets', () => {
  it('says so when ready, and lists both, the first the default', async () => {
    expect(gateway.output()).toMatch(/ready on \S+ \(models fmnist, fmnist-cont; default fmnist,/);
    const r = await call(`{ models { name default noiseConditioning } }`);
    expect(r.data!.models).toEqual([
      { name: 'fmnist', default: true, noiseConditioning: 'DISCRETE' },
      { name: 'fmnist-cont', default: false, noiseConditioning: 'CONTINUOUS' },
    ]);
  });

  it('a generate on each set succeeds on that set, its manifest naming it', async () => {
    const dflt = await call(GENERATE, { input: { count: 1, seed: 7, sampler: { kind: 'DDPM', steps: 4 } } });
    expect(dflt.errors).toBeUndefined();
    expect(dflt.data!.generate).toMatchObject({ status: 'SUCCEEDED', images: [{ width: 28, height: 28 }], manifest: { model: { name: 'fmnist' } } });
    const cont = await call(GENERATE, {
      input: { model: 'fmnist-cont', count: 1, seed: 7, sampler: { kind: 'DDPM', steps: 4, inferenceSchedule: { betaStart: 1e-6, betaEnd: 0.8 } } },
    });
    expect(cont.errors).toBeUndefined();
    expect(cont.data!.generate).toMatchObject({
      status: 'SUCCEEDED',
      images: [{ width: 28, height: 28 }],
      manifest: { model: { name: 'fmnist-cont' }, sampler: { inferenceSchedule: { betaStart: 1e-6, betaEnd: 0.8 } } },
    });
    // each set's own files
    expect(cont.data!.generate.manifest.model.files.refiner.sha256).not.toBe(dflt.data!.generate.manifest.model.files.refiner.sha256);
  });

  it('a schedule given by σ (LOG_SNR) runs on the continuous set, its manifest saying the ends it walked', async () => {
    const r = await call(GENERATE, {
      input: { model: 'fmnist-cont', count: 1, seed: 7, sampler: { kind: 'DPMPP_2M_SDE', steps: 4, inferenceSchedule: { kind: 'LOG_SNR', sigmaMin: 0.05 } } },
    });
    expect(r.errors).toBeUndefined();
    expect(r.data!.generate).toMatchObject({ status: 'SUCCEEDED', images: [{ width: 28, height: 28 }] });
    const walked = r.data!.generate.manifest.sampler.inferenceSchedule;
    expect(walked).toMatchObject({ kind: 'LOG_SNR', sigmaMin: 0.05 });
    // the training schedule's noisiest σ = √((1 − ᾱ_999)/ᾱ_999)
    expect(walked.sigmaMax).toBeCloseTo(157.4, 0);
    // its manifest runs it again to the same bytes
    const again = await call(`mutation($m: JSON!) { reproduce(manifest: $m) { ${JOB_FIELDS} } }`, { m: r.data!.generate.manifest });
    expect(again.errors).toBeUndefined();
    expect(again.data!.reproduce.images[0].png).toBe(r.data!.generate.images[0].png);
    expect(again.data!.reproduce.manifest.sampler.inferenceSchedule).toEqual(walked);
  });

  it('an unknown model is BAD_USER_INPUT listing both sets', async () => {
    const r = await call(GENERATE, { input: { model: 'x', sampler: { steps: 4 } } });
    expect(r.errors![0]).toMatchObject({ message: 'input.model: unknown model set "x"; served: fmnist, fmnist-cont', extensions: { code: 'BAD_USER_INPUT' } });
  });
});

describe('gateway over NATS', () => {
  it('answers 401 UNAUTHENTICATED without a key, saying how to get one', async () => {
    const r = await gql(url, `{ health { status } }`);
    expect(r.status).toBe(401);
    expect(r.errors![0]).toMatchObject({ extensions: { code: 'UNAUTHENTICATED' }, message: expect.stringMatching(/npm run keys -- create/) });
  });

  it('sees one instance of each service', async () => {
    const r = await call(`{ health { status mode services { name instances } } }`);
    expect(r.data!.health).toMatchObject({ status: 'ok', mode: 'nats' });
    expect(r.data!.health.services.map((s: { instances: number }) => s.instances)).toEqual([1, 1, 1, 1]);
  });

  it('generate: DDIM 10 steps, 4 images, seed 42 twice gives identical bytes', async () => {
    const input = { count: 4, seed: 42, sampler: { kind: 'DDIM', steps: 10 } };
    const a = await call(GENERATE, { input });
    const b = await call(GENERATE, { input });
    expect(a.errors).toBeUndefined();
    const images = a.data!.generate.images as { png: string }[];
    expect(images).toHaveLength(4);
    for (const im of images) {
      const decoded = await decodeImage(Buffer.from(im.png, 'base64'), { channels: 1 });
      expect([decoded.width, decoded.height]).toEqual([28, 28]);
    }
    expect(b.data!.generate.images).toEqual(images);
    expect(a.data!.generate.manifest).toMatchObject({ seed: 42, count: 4, sampler: { kind: 'DDIM', steps: 10 } });
  });

  it('superResolve ×4 from 7×7 and denoise', async () => {
    const sr = await call(`mutation($i: SuperResolveInput!) { superResolve(input: $i) { status images { width height } } }`, {
      i: { image: pngBase64(7, 7), scale: 4, seed: 1, sampler: { steps: 5 } },
    });
    expect(sr.errors).toBeUndefined();
    expect(sr.data!.superResolve).toEqual({ status: 'SUCCEEDED', images: [{ width: 28, height: 28 }] });
    const dn = await call(`mutation($i: DenoiseInput!) { denoise(input: $i) { status images { width } manifest } }`, {
      i: { image: pngBase64(28, 28), sigma: 0.1, seed: 1, sampler: { steps: 5 } },
    });
    expect(dn.errors).toBeUndefined();
    expect(dn.data!.denoise.manifest).toMatchObject({ kind: 'denoise', sigma: 0.1, startTimestep: expect.any(Number) });
  });

  it('a cancelled job stops; its neighbours in the scheduler’s batch finish with the bytes they have alone', async () => {
    const inputs = [
      { count: 2, seed: 11, sampler: { kind: 'DDIM', steps: 20 } },
      { count: 1, seed: 12, sampler: { kind: 'DDPM', steps: 400 } },
      { count: 3, seed: 13, sampler: { kind: 'DDPM', steps: 25, timestepSpacing: 'TRAILING' } },
    ];
    const pngs = (job: { images: { png: string }[] }) => job.images.map((i) => i.png);
    const alone = [pngs((await call(GENERATE, { input: inputs[0] })).data!.generate), pngs((await call(GENERATE, { input: inputs[2] })).data!.generate)];
    const JOB = `query($id: ID!) { job(id: $id) { ${JOB_FIELDS} } }`;
    const job = async (id: string) => (await call(JOB, { id })).data!.job;
    const ids = await Promise.all(inputs.map(async (input) => (await call(GENERATE, { input: { ...input, wait: false } })).data!.generate.id as string));
    const preview = async (id: string) => (await call(`query($id: ID!) { job(id: $id) { preview { width height } } }`, { id })).data!.job.preview;
    while (!((await job(ids[1]!)).progress?.step >= 2) || !(await preview(ids[1]!))) await new Promise((r) => setTimeout(r, 20));
    const cancelled = await call(`mutation($id: ID!) { cancelJob(id: $id) { status errorCode progress { step } preview { width height } } }`, { id: ids[1] });
    // its own status, with the last preview it made
    expect(cancelled.data!.cancelJob).toMatchObject({ status: 'CANCELLED', errorCode: 'CANCELLED', preview: { width: 28, height: 28 } });
    expect(cancelled.data!.cancelJob.progress.step).toBeLessThan(400);
    const done = async (id: string) => {
      for (let j = await job(id); ; j = await job(id)) if (j.status !== 'QUEUED' && j.status !== 'RUNNING') return j;
    };
    const [first, third] = [await done(ids[0]!), await done(ids[2]!)];
    expect([pngs(first), pngs(third)]).toEqual(alone);
    // they did share the scheduler's ticks
    const nc = await connect({ servers: nats.url });
    const stats = (await nc.request('$SRV.STATS.diffusevae-scheduler')).json<{ endpoints: { data: { maxJobsPerTick: number } }[] }>();
    await nc.close();
    expect(stats.endpoints[0]!.data.maxJobsPerTick).toBeGreaterThanOrEqual(3);
  });

  it('bad input is refused before any service is called', async () => {
    const r = await call(GENERATE, { input: { sampler: { steps: 1200 } } });
    expect(r.errors![0]).toMatchObject({ message: 'input.sampler.steps: must be an integer in [1, 1000], got 1200', extensions: { code: 'BAD_USER_INPUT' } });
  });

  it('with the refiner stopped, generate is tried JOB_MAX_ATTEMPTS times, then fails with SERVICE_UNAVAILABLE in bounded time', async () => {
    await services['refiner']!.stop();
    const t0 = Date.now();
    const r = await call(GENERATE, { input: { count: 1, seed: 1, sampler: { steps: 5 } } });
    expect(Date.now() - t0).toBeLessThan(20_000);
    const job = await call(`query($id: ID!) { job(id: $id) { status attempts } }`, { id: r.errors![0]!.extensions!['jobId'] });
    expect(job.data!.job).toEqual({ status: 'FAILED', attempts: 2 });
    expect(r.errors![0]!.extensions!['code']).toBe('SERVICE_UNAVAILABLE');
    expect(r.errors![0]!.message).toMatch(/refiner/);
    const health = await call(`{ health { status services { name instances } } }`);
    expect(health.data!.health.status).toBe('degraded');
    expect(health.data!.health.services).toContainEqual({ name: 'diffusevae-refiner', instances: 0 });
  });

  it('/livez and /readyz need no key; /readyz is 503 while NATS is down and 200 again once it is back, with no restart', async () => {
    const base = url.replace(/\/graphql$/, '');
    expect((await fetch(`${base}/livez`)).status).toBe(200);
    expect(await (await fetch(`${base}/readyz`)).json()).toEqual({ status: 'ready' });
    const restarted = nats.restart(4000);
    let down: { status: number; body: unknown } | undefined;
    for (let i = 0; i < 60 && !down; i++) {
      const r = await fetch(`${base}/readyz`);
      if (r.status === 503) down = { status: r.status, body: await r.json() };
      else await new Promise((res) => setTimeout(res, 100));
    }
    expect(down).toMatchObject({ status: 503, body: { status: 'unready', reason: expect.stringMatching(/NATS disconnected/) } });
    expect((await fetch(`${base}/livez`)).status).toBe(200);
    await restarted;
    let back = 0;
    for (let i = 0; i < 100 && back !== 200; i++) {
      back = (await fetch(`${base}/readyz`)).status;
      if (back !== 200) await new Promise((res) => setTimeout(res, 100));
    }
    expect(back).toBe(200);
  });
});
