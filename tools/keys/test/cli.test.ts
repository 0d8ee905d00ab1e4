import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { KvKeyStore } from '@diffusevae/auth';
import { REPO_ROOT, startNatsServer, type NatsServer } from '@diffusevae/testing';
import { connect } from '@nats-io/transport-node';

// The CLI as a person runs it, against a real nats-server.
const run = promisify(execFile);
let nats: NatsServer;
beforeAll(async () => {
  nats = await startNatsServer({ jetstream: true });
});
afterAll(async () => {
  await nats?.stop();
});

const keys = (...args: string[]) =>
  run(path.join(REPO_ROOT, 'node_modules/.bin/tsx'), [path.join(REPO_ROOT, 'tools/keys/src/main.ts'), ...args], { env: { ...process.env, NATS_URL: nats.url }, cwd: REPO_ROOT });

it('create, list, revoke over NATS; a usage error exits 2', async () => {
  const created = await keys('create', '--name', 'cli-test', '--concurrent', '2');
  const key = created.stdout.trim().split('\n').at(-1)!;
  expect(key).toMatch(/^dvae_/);
  const nc = await connect({ servers: nats.url });
  const store = await KvKeyStore.open(nc, { cacheMs: 0 });
  expect((await store.verify(key))?.name).toBe('cli-test');
  const listed = await keys('list');
  expect(listed.stdout).toMatch(/cli-test\tsubmit,read\t600\/min 2 jobs/);
  await keys('revoke', 'cli-test');
  expect(await store.verify(key)).toBeUndefined();
  await nc.close();
  const bad = await keys('create').catch((e: { code: number; stderr: string }) => e);
  expect(bad).toMatchObject({ code: 2, stderr: expect.stringMatching(/--name NAME is required/) });
});
