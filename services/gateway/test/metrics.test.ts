import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelSet } from '@diffusevae/models';
import { localStages } from '@diffusevae/pipeline';
import { Metrics } from '@diffusevae/service-kit';
import { parsePrometheusText, sampleValue } from '@diffusevae/testing';
import { createGateway, quietLogger, type Gateway } from '../src/index.js';
import { OperationNames, outcomeOf } from '../src/metrics.js';
import { gql, MODEL_DIR } from './helpers.js';

describe('OperationNames', () => {
  it('keeps the first names it sees, then says other; no name is anonymous, an odd one other', () => {
    const names = new OperationNames(2);
    expect(names.label(undefined)).toBe('anonymous');
    expect(names.label('')).toBe('anonymous');
    expect(names.label('A')).toBe('A');
    expect(names.label('B')).toBe('B');
    expect(names.label('C')).toBe('other');
    expect(names.label('A')).toBe('A');
    expect(new OperationNames().label('not a name')).toBe('other');
    expect(new OperationNames().label('x'.repeat(65))).toBe('other');
  });
});

describe('outcomeOf', () => {
  it('is ok without errors, else the first error’s code (error when it has none, or an odd one)', () => {
    expect(outcomeOf(undefined)).toBe('ok');
    expect(outcomeOf([])).toBe('ok');
    expect(outcomeOf([{ extensions: { code: 'BAD_USER_INPUT' } }, { extensions: { code: 'X' } }])).toBe('BAD_USER_INPUT');
    expect(outcomeOf([{}])).toBe('error');
    expect(outcomeOf([{ extensions: { code: 'not a code' } }])).toBe('error');
  });
});

// GET /metrics of a gateway running the real models in-process
let models: ModelSet;
let gw: Gateway;
let guarded: Gateway;
const metrics = new Metrics({ defaults: false });
const TOKEN = 'a-metrics-token-of-32-characters';

beforeAll(async () => {
  models = await ModelSet.load(MODEL_DIR, ['encoder', 'decoder', 'refiner']);
  const base = { stages: localStages(models), manifest: models.manifest, port: 0, host: '127.0.0.1', log: quietLogger() };
  gw = await createGateway({ ...base, metrics, limits: { maxActiveJobs: 1 } });
  guarded = await createGateway({ ...base, metricsToken: TOKEN });
});
afterAll(async () => {
  await gw?.stop();
  await guarded?.stop();
  await models?.release();
});

async function scrape(g: Gateway) {
  const r = await fetch(g.metricsUrl);
  expect(r.status).toBe(200);
  expect(r.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
  return parsePrometheusText(await r.text());
}

describe('gateway GET /metrics', () => {
  it('counts operations by name, type and outcome, and finished jobs by kind and status', async () => {
    const ok = await gql(gw.url, `mutation Gen { generate(input: { count: 1, seed: 1, sampler: { kind: DDIM, steps: 2 } }) { status } }`);
    expect(ok.data!.generate).toEqual({ status: 'SUCCEEDED' });
    await gql(gw.url, `query Bad { job(id: "nope") { id } }`);
    await gql(gw.url, `{ health { status } }`);
    await gql(gw.url, `{ health {`);
    const f = await scrape(gw);
    expect(sampleValue(f, 'diffusevae_graphql_operations_total', { operation: 'Gen', type: 'mutation', outcome: 'ok' })).toBe(1);
    expect(sampleValue(f, 'diffusevae_graphql_operations_total', { operation: 'Bad', type: 'query', outcome: 'BAD_USER_INPUT' })).toBe(1);
    expect(sampleValue(f, 'diffusevae_graphql_operations_total', { operation: 'anonymous', type: 'query', outcome: 'ok' })).toBe(1);
    expect(sampleValue(f, 'diffusevae_graphql_operations_total', { operation: 'anonymous', type: 'unknown', outcome: 'GRAPHQL_PARSE_FAILED' })).toBe(1);
    expect(sampleValue(f, 'diffusevae_graphql_operation_duration_seconds_count', { operation: 'Gen', type: 'mutation' })).toBe(1);
    expect(sampleValue(f, 'diffusevae_jobs_total', { kind: 'generate', status: 'SUCCEEDED' })).toBe(1);
    expect(sampleValue(f, 'diffusevae_job_image_steps_total', { kind: 'generate' })).toBe(2);
    expect(sampleValue(f, 'diffusevae_queue_depth')).toBe(0);
    // the registry passed in is the one served
    expect(sampleValue(parsePrometheusText((await metrics.scrape()).body), 'diffusevae_jobs_total', { kind: 'generate', status: 'SUCCEEDED' })).toBe(1);
  });

  it('counts a job cancelled while it waits in the queue, and shows the queue depth and the running job', async () => {
    const submit = async (seed: number) =>
      (await gql(gw.url, `mutation { generate(input: { count: 1, seed: ${seed}, wait: false, sampler: { kind: DDPM, steps: 1000 } }) { id } }`)).data!.generate.id as string;
    const running = await submit(2);
    const queued = await submit(3);
    const f = await scrape(gw);
    expect(sampleValue(f, 'diffusevae_queue_depth')).toBe(1);
    expect(sampleValue(f, 'diffusevae_jobs_running')).toBe(1);
    for (const id of [queued, running]) {
      const c = await gql(gw.url, `mutation($id: ID!) { cancelJob(id: $id) { status errorCode } }`, { id });
      expect(c.data!.cancelJob).toEqual({ status: 'CANCELLED', errorCode: 'CANCELLED' });
    }
    await expect.poll(async () => sampleValue(await scrape(gw), 'diffusevae_jobs_total', { kind: 'generate', status: 'CANCELLED' })).toBe(2);
  });

  it('with METRICS_TOKEN, needs it as a Bearer token', async () => {
    const none = await fetch(guarded.metricsUrl);
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect((await fetch(guarded.metricsUrl, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
    const ok = await fetch(guarded.metricsUrl, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(ok.status).toBe(200);
    expect(parsePrometheusText(await ok.text()).get('diffusevae_jobs_total')?.type).toBe('counter');
    // the probes stay open
    expect((await fetch(guarded.metricsUrl.replace(/\/metrics$/, '/livez'))).status).toBe(200);
  });
});
