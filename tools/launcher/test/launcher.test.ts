import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_MODEL_DIR } from '@diffusevae/models';
import { connect } from '@nats-io/transport-node';
import { devKeyFile, localNatsFile, readLocalNats } from '@diffusevae/service-kit';

// `npm start` for real: nats-server, the four services and the gateway; the way it stops, and how it restarts a child that dies.
const ROOT = path.resolve(import.meta.dirname, '../../..');
const MODEL_DIR = process.env.MODEL_DIR || DEFAULT_MODEL_DIR;
/** the launches' state folder (JetStream store, nats.json, dev-key): shared by this file's launches, not the repository's */
const STATE = mkdtempSync(path.join(tmpdir(), 'launcher-state-'));
afterAll(() => rmSync(STATE, { recursive: true, force: true }));

interface Launched {
  child: ChildProcess;
  output: () => string;
  waitFor: (pattern: RegExp, timeoutMs?: number) => Promise<RegExpMatchArray>;
  exited: Promise<number | null>;
}

let current: Launched | undefined;
afterEach(async () => {
  if (current && current.child.exitCode === null) {
    current.child.kill('SIGTERM');
    await current.exited;
  }
});

function launch(env: Record<string, string>): Launched {
  const child = spawn(path.join(ROOT, 'node_modules/.bin/tsx'), [path.join(ROOT, 'tools/launcher/src/main.ts')], {
    cwd: ROOT,
    env: { ...process.env, NO_COLOR: '1', MODEL_DIR, PORT: '0', ORT_THREADS: '1', DIFFUSEVAE_STATE_DIR: STATE, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const waitFor = async (pattern: RegExp, timeoutMs = 150_000) => {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const m = out.match(pattern);
      if (m) return m;
      if (child.exitCode !== null || Date.now() > until) throw new Error(`no ${pattern} in the launcher's output:\n${out}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  current = { child, output: () => out, waitFor, exited };
  return current;
}

const pids = (out: string) => [...out.matchAll(/started (\S+) \(pid (\d+)\)/g)].map((m) => ({ label: m[1]!, pid: Number(m[2]) }));
/** The process group: tsx's leader and the program it runs. */
const alive = (pid: number) => {
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('launcher', () => {
  it('starts everything with REFINER_REPLICAS=2 under their NATS identities, runs a job, and stops everything on SIGTERM', async () => {
    const l = launch({ REFINER_REPLICAS: '2' });
    const url = (await l.waitFor(/DiffuseVAE gateway ready: (\S+)/))[1]!;
    const natsUrl = (await l.waitFor(/launcher: nats-server \(JetStream\) on (\S+?);/))[1]!;

    // the admin identity, for operator tools, in .diffusevae/nats.json (its owner's only); nobody gets in without one
    const local = readLocalNats(STATE);
    expect(local).toEqual({ url: natsUrl, user: 'admin', pass: expect.stringMatching(/^[\w-]{32}$/) });
    expect(statSync(localNatsFile(STATE)).mode & 0o777).toBe(0o600);
    await expect(connect({ servers: natsUrl, maxReconnectAttempts: 0 })).rejects.toThrow(/Authorization Violation/);
    await (await connect({ servers: local!.url, user: local!.user, pass: local!.pass })).close();

    // a first user's key, printed with the explorer link that carries it, and saved for the next start
    const dev = devKeyOf(l.output());
    expect(l.output()).toContain('Development API key (new;');
    expect(l.output()).toContain(`${url}#key=${dev}`);
    expect(l.output()).toContain(`-H 'authorization: Bearer ${dev}'`);
    expect(readFileSync(devKeyFile(STATE), 'utf8').trim()).toBe(dev);
    expect(statSync(devKeyFile(STATE)).mode & 0o777).toBe(0o600);
    expect((await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query":"{ __typename }"}' })).status).toBe(401);

    const key = await createKey(); // npm run keys, through nats.json
    expect(key).not.toBe(dev);
    const res = await fetch(url, { method: 'POST', headers: headers(key), body: JSON.stringify({ query: '{ health { status services { name instances } } }' }) });
    const health = ((await res.json()) as { data: { health: { status: string; services: { name: string; instances: number }[] } } }).data.health;
    expect(health.status).toBe('ok');
    expect(health.services.find((s) => s.name === 'diffusevae-refiner')!.instances).toBe(2);
    // a whole job: the gateway's queue and KV, encoder-less generate through vae-decoder, scheduler and refiners
    const job = await fetch(url, {
      method: 'POST',
      headers: headers(dev),
      body: JSON.stringify({ query: 'mutation { generate(input: { count: 2, seed: 3, sampler: { kind: DDIM, steps: 10 } }) { status images { width } } }' }),
    });
    expect(((await job.json()) as { data: { generate: unknown } }).data.generate).toEqual({ status: 'SUCCEEDED', images: [{ width: 28 }, { width: 28 }] });
    const children = pids(l.output());
    expect(children.map((c) => c.label)).toEqual(['nats-server', 'encoder#1', 'vae-decoder#1', 'refiner#1', 'refiner#2', 'scheduler#1', 'gateway']);
    l.child.kill('SIGTERM');
    expect(await l.exited).toBe(0);
    expect(l.output()).toContain('launcher: all stopped');
    expect(children.filter((c) => alive(c.pid))).toEqual([]);
    // every process used only what its identity allows (nats-server logs "Publish Violation", "Subscription Violation")
    expect(l.output().split('\n').filter((line) => /Violation/.test(line))).toEqual([]);
    expect(existsSync(localNatsFile(STATE))).toBe(false);
    firstDevKey = dev;
  });

  it('restarts a service replica, nats-server and the gateway when they die, on the same ports, and the gateway answers again', async () => {
    const l = launch({});
    const url = (await l.waitFor(/DiffuseVAE gateway ready: (\S+)/))[1]!;
    const natsPort = (await l.waitFor(/launcher: nats-server \(JetStream\) on nats:\/\/127\.0\.0\.1:(\d+)/))[1]!;
    // the store outlived the last launch: the same development key, still good
    if (firstDevKey) {
      expect(l.output()).toContain('Development API key (the same as last time;');
      expect(devKeyOf(l.output())).toBe(firstDevKey);
    }
    const key = devKeyOf(l.output());
    const healthStatus = (u: string) => healthStatusWith(u, key);
    const healthy = (u: string) => healthyWith(u, key);
    const first = pids(l.output());
    const latest = (label: string) => pids(l.output()).filter((c) => c.label === label).at(-1)!.pid;

    // A replica's whole process group, killed outright: the launcher says so and brings it back; the rest serve on.
    const refiner = first.find((c) => c.label === 'refiner#1')!.pid;
    process.kill(-refiner, 'SIGKILL');
    await l.waitFor(/launcher: refiner#1 exited unexpectedly \(SIGKILL\); restarting in 500 ms \(restart 1\)/, 10_000);
    expect(['ok', 'degraded']).toContain(await healthStatus(url)); // answers meanwhile (degraded: no refiner)
    await l.waitFor(/launcher: restarted refiner#1 \(pid \d+\)/, 30_000);
    await l.waitFor(/launcher: refiner#1 is ready again/, 120_000);
    expect(latest('refiner#1')).not.toBe(refiner);
    expect(alive(latest('refiner#1'))).toBe(true);
    expect(alive(refiner)).toBe(false);
    await healthy(url);

    // nats-server, killed outright: back on the same port with the same store; everyone reconnects.
    const nats = first.find((c) => c.label === 'nats-server')!.pid;
    process.kill(-nats, 'SIGKILL');
    await l.waitFor(/launcher: nats-server exited unexpectedly \(SIGKILL\); restarting in 500 ms \(restart 1\)/, 10_000);
    await l.waitFor(/launcher: nats-server is ready again/, 30_000);
    expect(latest('nats-server')).not.toBe(nats);
    const ports = [...l.output().matchAll(/^nats-server +│ .*Listening for client connections on [^\s:]+:(\d+)/gm)].map((m) => m[1]);
    expect(ports).toEqual([natsPort, natsPort]);
    await healthy(url);

    // The gateway, killed outright: back on the same URL (the port it got first), serving again.
    const gateway = first.find((c) => c.label === 'gateway')!.pid;
    process.kill(-gateway, 'SIGKILL');
    await l.waitFor(/launcher: gateway exited unexpectedly \(SIGKILL\); restarting in 500 ms \(restart 1\)/, 10_000);
    await l.waitFor(/launcher: gateway is ready again/, 120_000);
    expect(latest('gateway')).not.toBe(gateway);
    await healthy(url);

    // Nothing else died or came back; Ctrl-C still stops everything, the restarted ones too, and restarts nothing.
    expect(l.output().match(/exited unexpectedly \((\S+)\)/g)).toEqual(['exited unexpectedly (SIGKILL)', 'exited unexpectedly (SIGKILL)', 'exited unexpectedly (SIGKILL)']);
    l.child.kill('SIGTERM');
    expect(await l.exited).toBe(0);
    const afterStop = l.output().slice(l.output().indexOf('launcher: stopping (SIGTERM)'));
    expect(afterStop).not.toMatch(/restart/);
    expect(afterStop).toContain('launcher: all stopped');
    expect(pids(l.output()).filter((c) => alive(c.pid))).toEqual([]);
  });

  it('REFINER_SETS: one refiner replica per model set, each set usable by name from a mutation', async () => {
    const cont = path.join(path.dirname(MODEL_DIR), 'fmnist-cont');
    const l = launch({ MODEL_DIR: `${MODEL_DIR},${cont}`, REFINER_SETS: `${MODEL_DIR}:1;${cont}:1` });
    const url = (await l.waitFor(/DiffuseVAE gateway ready: (\S+)/))[1]!;
    expect(pids(l.output()).map((c) => c.label).filter((x) => x.startsWith('refiner'))).toEqual(['refiner[fmnist]#1', 'refiner[fmnist-cont]#1']);
    const key = devKeyOf(l.output());
    const ask = async (query: string) => ((await (await fetch(url, { method: 'POST', headers: headers(key), body: JSON.stringify({ query }) })).json()) as { data: Record<string, unknown> }).data;
    expect((await ask('{ models { name default noiseConditioning } }')).models).toEqual([
      { name: 'fmnist', default: true, noiseConditioning: 'DISCRETE' },
      { name: 'fmnist-cont', default: false, noiseConditioning: 'CONTINUOUS' },
    ]);
    for (const model of ['fmnist', 'fmnist-cont']) {
      const r = await ask(`mutation { generate(input: { model: "${model}", count: 1, seed: 3, sampler: { kind: DDPM, steps: 4 } }) { status manifest } }`);
      expect(r.generate, model).toMatchObject({ status: 'SUCCEEDED', manifest: { model: { name: model } } });
    }
    l.child.kill('SIGTERM');
    expect(await l.exited).toBe(0);
  });
});

let firstDevKey: string | undefined;
/** The development key in the launcher's banner. */
const devKeyOf = (out: string) => out.match(/Development API key [^\n]*\n\s+(dvae_\S+)/)![1]!;

const headers = (key: string) => ({ 'content-type': 'application/json', authorization: `Bearer ${key}` });

/** An API key made with `npm run keys -- create`, which reaches the launcher's NATS as admin through .diffusevae/nats.json. */
async function createKey(): Promise<string> {
  const env: NodeJS.ProcessEnv = { ...process.env, DIFFUSEVAE_STATE_DIR: STATE };
  delete env.NATS_URL;
  const { stdout } = await promisify(execFile)(path.join(ROOT, 'node_modules/.bin/tsx'), [path.join(ROOT, 'tools/keys/src/main.ts'), 'create', '--name', 'launcher-test'], { cwd: ROOT, env });
  return stdout.trim().split('\n').at(-1)!.trim();
}

async function healthStatusWith(url: string, key: string): Promise<string | undefined> {
  const res = await fetch(url, { method: 'POST', headers: headers(key), body: JSON.stringify({ query: '{ health { status } }' }) });
  return ((await res.json()) as { data?: { health?: { status: string } } }).data?.health?.status;
}

/** Until the gateway reports every service up (reconnecting can take a few seconds). */
async function healthyWith(url: string, key: string, timeoutMs = 30_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  let last: string | undefined;
  while (Date.now() < until) {
    last = await healthStatusWith(url, key).catch((e: unknown) => String(e));
    if (last === 'ok') return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`the gateway's health is still ${last}`);
}
