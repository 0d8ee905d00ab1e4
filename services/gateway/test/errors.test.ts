import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PlatformError } from '@diffusevae/contracts';
import { readManifest, type ModelManifest } from '@diffusevae/models';
import type { Stages } from '@diffusevae/pipeline';
import { Tensor } from '@diffusevae/tensor';
import { LogCapture } from '@diffusevae/service-kit';
import { createGateway, gatewayLogger, type Gateway } from '../src/index.js';
import { classify, INTERNAL_MESSAGE } from '../src/errors.js';
import { gql, MODEL_DIR } from './helpers.js';

// Service failures through the whole gateway, with stages that fail on purpose.
let manifest: ModelManifest;
let failure: unknown;
const logged = new LogCapture();
const log = gatewayLogger({ level: 'error', destination: logged });
const stages: Stages = {
  encode: async () => {
    throw failure;
  },
  decode: async (z) => new Tensor(new Float32Array(z.batch * 28 * 28), [z.batch, 1, 28, 28]),
  refine: async () => {
    throw failure;
  },
};
let gw: Gateway;

beforeAll(async () => {
  manifest = await readManifest(MODEL_DIR);
  // one run a job: a transient failure would otherwise be tried again (runner.test.ts has those)
  gw = await createGateway({ stages, manifest, port: 0, host: '127.0.0.1', log, limits: { maxAttempts: 1 } });
});
afterAll(() => gw?.stop());

const GENERATE = `mutation { generate(input: { seed: 1, sampler: { steps: 2 } }) { id status } }`;

describe('errors from the services', () => {
  it.each([
    ['SERVICE_UNAVAILABLE', new PlatformError('SERVICE_UNAVAILABLE', 'no diffusevae-scheduler replica is running')],
    ['DEADLINE_EXCEEDED', new PlatformError('DEADLINE_EXCEEDED', 'diffusevae-scheduler did not answer within 10 ms')],
    ['RESOURCE_EXHAUSTED', new PlatformError('RESOURCE_EXHAUSTED', 'the refiner queue is full')],
  ])('a PlatformError %s keeps its code and message', async (code, err) => {
    failure = err;
    const r = await gql(gw.url, GENERATE);
    expect(r.data).toEqual({ generate: null });
    expect(r.errors![0]).toMatchObject({ message: err.message, extensions: { code, jobId: expect.any(String) } });
    // The job is recorded as failed, with the same code.
    const job = await gql(gw.url, `query($id: ID!) { job(id: $id) { status error errorCode images { png } } }`, { id: r.errors![0]!.extensions!['jobId'] });
    expect(job.data!.job).toEqual({ status: 'FAILED', error: err.message, errorCode: code, images: [] });
  });

  it('anything unknown is INTERNAL_SERVER_ERROR: generic message, no stack trace, logged', async () => {
    failure = new Error('secret detail at /srv/thing.ts:12');
    const r = await gql(gw.url, GENERATE);
    expect(r.errors![0]!.message).toBe(INTERNAL_MESSAGE);
    expect(r.errors![0]!.extensions).toEqual({ code: 'INTERNAL_SERVER_ERROR', jobId: expect.any(String) });
    expect(JSON.stringify(r)).not.toMatch(/secret|stacktrace|\.ts:/);
    const jobId = r.errors![0]!.extensions!['jobId'];
    expect(logged.find({ msg: 'job failed', job: jobId })).toMatchObject([{ level: 'error', code: 'INTERNAL_SERVER_ERROR', err: { message: 'secret detail at /srv/thing.ts:12' } }]);
  });

  it('a failure while encoding an interpolation endpoint has the service code', async () => {
    failure = new PlatformError('SERVICE_UNAVAILABLE', 'no diffusevae-encoder replica is running');
    const png = (await import('./helpers.js')).pngBase64;
    const r = await gql(gw.url, `mutation($i: InterpolateInput!) { interpolate(input: $i) { id } }`, { i: { from: { seed: 1 }, to: { image: await png(28, 28) }, points: 2 } });
    expect(r.errors![0]!.extensions!['code']).toBe('SERVICE_UNAVAILABLE');
  });
});

describe('classify', () => {
  it('maps NATS client errors by name, also as a cause', () => {
    const noResponders = Object.assign(new Error('503'), { name: 'NoRespondersError' });
    expect(classify(noResponders).code).toBe('SERVICE_UNAVAILABLE');
    expect(classify(new Error('request failed', { cause: Object.assign(new Error('timeout'), { name: 'TimeoutError' }) })).code).toBe('DEADLINE_EXCEEDED');
    expect(classify(Object.assign(new Error('x: bad'), { name: 'SchedulerError', field: 'x' }))).toEqual({ code: 'BAD_USER_INPUT', message: 'x: bad', field: 'x', internal: false });
    expect(classify('a string')).toEqual({ code: 'INTERNAL_SERVER_ERROR', message: INTERNAL_MESSAGE, internal: true });
  });
});
