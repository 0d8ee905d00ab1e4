import { execFile, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { KvKeyStore } from '@diffusevae/auth';
import { decodeImage } from '@diffusevae/image';
import { REPO_ROOT, startNatsServer, startService, type NatsServer, type ServiceProcess } from '@diffusevae/testing';
import { connect } from '@nats-io/transport-node';

// The CLI as a person runs it, against the real thing: nats-server, the four services and the gateway (API keys on),
// each its own process.
const run = promisify(execFile);
let nats: NatsServer;
const procs: ServiceProcess[] = [];
let url: string;
let key: string;
let tmp: string;

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'diffusevae-cli-'));
  nats = await startNatsServer({ jetstream: true });
  const env = { NATS_URL: nats.url, MODEL_DIR: process.env.MODEL_DIR || path.join(REPO_ROOT, 'models/fmnist'), ORT_THREADS: '1' };
  procs.push(...(await Promise.all(['encoder', 'vae-decoder', 'refiner', 'scheduler'].map((n) => startService(`services/${n}/src/main.ts`, env, { timeoutMs: 150_000 })))));
  const nc = await connect({ servers: nats.url });
  key = (await (await KvKeyStore.open(nc)).create('cli-test')).key;
  await nc.close();
  const gateway = await startService('services/gateway/src/main.ts', { ...env, PORT: '0', HOST: '127.0.0.1' }, { timeoutMs: 150_000 });
  procs.push(gateway);
  url = gateway.output().match(/ready on (http\S+)/)![1]!;
});

afterAll(async () => {
  await Promise.all(procs.map((p) => p.stop()));
  await nats?.stop();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}
/** the CLI, its key from $DIFFUSEVAE_KEY (and a state folder of its own, so no dev key of a local `npm start` is read) */
const cli = (args: string[], env: Record<string, string> = {}): Promise<Outcome> =>
  run(path.join(REPO_ROOT, 'node_modules/.bin/tsx'), [path.join(REPO_ROOT, 'tools/cli/src/main.ts'), ...args], {
    env: { ...process.env, DIFFUSEVAE_KEY: key, DIFFUSEVAE_STATE_DIR: tmp, ...env },
    cwd: tmp,
  }).then(
    (r) => ({ code: 0, ...r }),
    (e: Outcome) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
  );

it('generate --count 2: one grid PNG, progress on stderr, the job as JSON; exit 0', async () => {
  const out = path.join(tmp, 'x.png');
  const r = await cli(['generate', '--count', '2', '--steps', '5', '--seed', '7', '--out', out, '--url', url, '--json']);
  expect(r.stderr).toMatch(/job [0-9a-f-]+: submitted/);
  expect(r.code).toBe(0);
  expect(r.stderr).toMatch(/step 5\/5|SUCCEEDED/);
  expect(JSON.parse(r.stdout)).toMatchObject({ status: 'SUCCEEDED', kind: 'GENERATE', images: [{ width: 28, height: 28 }, { width: 28, height: 28 }], files: [out], manifest: { seed: 7, count: 2 } });
  const png = await readFile(out);
  const g = await decodeImage(png, { channels: 1 });
  expect([g.width, g.height]).toEqual([2 * 30 + 2, 30 + 2]);
});

it('refusals: the API’s message and exit 3; a bad key exit 4 saying how to get one; a bad flag exit 2', async () => {
  const bad = await cli(['generate', '--steps', '5000', '--out', path.join(tmp, 'y.png'), '--url', url]);
  expect(bad).toMatchObject({ code: 3, stderr: expect.stringContaining('input.sampler.steps: must be an integer in [1, 1000], got 5000') });
  const auth = await cli(['generate', '--out', path.join(tmp, 'y.png'), '--url', url, '--key', 'dvae_000000000000_nope']);
  expect(auth).toMatchObject({ code: 4, stderr: expect.stringMatching(/npm run keys -- create/) });
  const flag = await cli(['generate', '--stpes', '5', '--out', path.join(tmp, 'y.png')]);
  expect(flag).toMatchObject({ code: 2, stderr: expect.stringMatching(/Unknown option '--stpes'/) });
});

it('Ctrl-C cancels the job (cancelJob) and exits 130', async () => {
  const child = spawn(path.join(REPO_ROOT, 'node_modules/.bin/tsx'), [path.join(REPO_ROOT, 'tools/cli/src/main.ts'), 'generate', '--steps', '1000', '--sampler', 'ddpm', '--out', path.join(tmp, 'z.png'), '--url', url], {
    env: { ...process.env, DIFFUSEVAE_KEY: key, DIFFUSEVAE_STATE_DIR: tmp },
    cwd: tmp,
  });
  let stderr = '';
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  await new Promise<void>((resolve) =>
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (/step \d+\/1000/.test(stderr)) resolve();
    }),
  );
  child.kill('SIGINT');
  expect(await exited).toBe(130);
  expect(stderr).toMatch(/job [0-9a-f-]+ cancelled/);
});
