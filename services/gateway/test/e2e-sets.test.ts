import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KvKeyStore } from '@diffusevae/auth';
import { DEFAULT_MODEL_DIR } from '@diffusevae/models';
import { startNatsServer, startService, type NatsServer, type ServiceProcess } from '@diffusevae/testing';
import { connect } from '@nats-io/transport-node';
import { gql, JOB_FIELDS } from './helpers.js';

// Two model sets side by side, each process its own (as e2e.test.ts): nats-server, the four services and the gateway,
// all with MODEL_DIR=models/fmnist,models/fmnist-cont. Each set's jobs reach that set's services (its subjects).
const MODEL_DIR = ['fmnist', 'fmnist-cont'].map((s) => path.join(path.dirname(DEFAULT_MODEL_DIR), s)).join(',');

let nats: NatsServer;
const services: ServiceProcess[] = [];
let gateway: ServiceProcess;
let url: string;
let key: string;
const call = (query: string, variables?: Record<string, unknown>) => gql(url, query, variables, undefined, key);

beforeAll(async () => {
  nats = await startNatsServer({ jetstream: true });
  const env = { NATS_URL: nats.url, MODEL_DIR, ORT_THREADS: '1' };
  const names = ['encoder', 'vae-decoder', 'refiner', 'scheduler'];
  services.push(...(await Promise.all(names.map((n) => startService(`services/${n}/src/main.ts`, env, { timeoutMs: 180_000 })))));
  const nc = await connect({ servers: nats.url });
  key = (await (await KvKeyStore.open(nc)).create('e2e-sets')).key;
  await nc.close();
  gateway = await startService('services/gateway/src/main.ts', { ...env, PORT: '0', HOST: '127.0.0.1' }, { timeoutMs: 180_000 });
  url = gateway.output().match(/ready on (http\S+)/)![1]!;
}, 300_000);

afterAll(async () => {
  await gateway?.stop();
  await Promise.all(services.map((s) => s.stop()));
  await nats?.stop();
});

const GENERATE = `mutation($input: GenerateInput!) { generate(input: $input) { ${JOB_FIELDS} } }`;

describe('a gateway over NATS serving two model sets', () => {
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

  it('an unknown model is BAD_USER_INPUT listing both sets', async () => {
    const r = await call(GENERATE, { input: { model: 'x', sampler: { steps: 4 } } });
    expect(r.errors![0]).toMatchObject({ message: 'input.model: unknown model set "x"; served: fmnist, fmnist-cont', extensions: { code: 'BAD_USER_INPUT' } });
  });
});
