import { createClient, type Client } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { ModelSet } from '@diffusevae/models';
import { localStages, type Stages } from '@diffusevae/pipeline';
import { createGateway, quietLogger, type Gateway } from '../src/index.js';
import { gql, MODEL_DIR } from './helpers.js';

// jobProgress over graphql-ws, on the same port and path as HTTP.
let models: ModelSet;
let gw: Gateway;
let client: Client;

beforeAll(async () => {
  models = await ModelSet.load(MODEL_DIR, ['decoder', 'refiner']);
  const local = localStages(models);
  // Each step waits a little, so that a subscriber attached after the mutation still sees steps go by.
  const slow: Stages = {
    ...local,
    refine: (cond, o) => local.refine(cond, { ...o, onStep: async (p) => (await new Promise((r) => setTimeout(r, 30)), o.onStep?.(p)) }),
  };
  gw = await createGateway({ stages: slow, manifest: models.manifest, port: 0, host: '127.0.0.1', log: quietLogger() });
  client = createClient({ url: gw.url.replace(/^http/, 'ws'), webSocketImpl: WebSocket, retryAttempts: 0 });
});
afterAll(async () => {
  await client?.dispose();
  await gw?.stop();
  await models?.release();
});

const PROGRESS = `subscription($id: ID!) { jobProgress(id: $id) { jobId status progress { step steps } job { status images { width } } } }`;

async function collect(id: string) {
  const events: any[] = [];
  for await (const r of client.iterate({ query: PROGRESS, variables: { id } })) {
    if (r.errors) throw Object.assign(new Error(r.errors[0]!.message), { extensions: r.errors[0]!.extensions });
    events.push(r.data!['jobProgress']);
  }
  return events;
}

describe('jobProgress', () => {
  it('streams steps, then the finished job, then completes', async () => {
    const started = await gql(gw.url, `mutation { generate(input: { count: 2, seed: 5, wait: false, sampler: { steps: 8 } }) { id } }`);
    const id = started.data!.generate.id;
    const events = await collect(id);
    const last = events.at(-1);
    expect(last).toMatchObject({ jobId: id, status: 'SUCCEEDED', progress: { step: 8, steps: 8 }, job: { status: 'SUCCEEDED', images: [{ width: 28 }, { width: 28 }] } });
    const steps = events.filter((e) => e.status === 'RUNNING' && e.progress).map((e) => e.progress.step);
    expect(steps.length).toBeGreaterThan(1);
    expect([...steps].sort((a, b) => a - b)).toEqual(steps);
  });

  it('a finished job gives one event; an unknown one is NOT_FOUND; an id that is no UUID is BAD_USER_INPUT', async () => {
    const done = await gql(gw.url, `mutation { generate(input: { seed: 6, sampler: { steps: 2 } }) { id } }`);
    const events = await collect(done.data!.generate.id);
    expect(events).toHaveLength(1);
    expect(events[0].status).toBe('SUCCEEDED');
    const unknown = '0b7e5a52-3c1e-4a57-9a8e-2f0c8d9e1a64';
    await expect(collect(unknown)).rejects.toMatchObject({ message: expect.stringMatching(new RegExp(`job ${unknown} not found`)), extensions: { code: 'NOT_FOUND' } });
    await expect(collect('no-such-job')).rejects.toMatchObject({ message: expect.stringMatching(/^id: must be a job id/), extensions: { code: 'BAD_USER_INPUT' } });
  });
});
