import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_MODEL_DIR } from '@diffusevae/models';

// `npm start` for real: nats-server, the four services and the gateway; the way it stops, and how it restarts a child that dies.
const ROOT = path.resolve(import.meta.dirname, '../../..');
const MODEL_DIR = process.env.MODEL_DIR || DEFAULT_MODEL_DIR;

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
    env: { ...process.env, NO_COLOR: '1', MODEL_DIR, PORT: '0', ORT_THREADS: '1', ...env },
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
  it('starts everything with REFINER_REPLICAS=2, answers a query, and stops everything on SIGTERM', async () => {
    const l = launch({ REFINER_REPLICAS: '2' });
    const url = (await l.waitFor(/DiffuseVAE gateway ready: (\S+)/))[1]!;
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: '{ health { status services { name instances } } }' }) });
    const health = ((await res.json()) as { data: { health: { status: string; services: { name: string; instances: number }[] } } }).data.health;
    expect(health.status).toBe('ok');
    expect(health.services.find((s) => s.name === 'diffusevae-refiner')!.instances).toBe(2);
    const children = pids(l.output());
    expect(children.map((c) => c.label)).toEqual(['nats-server', 'encoder#1', 'vae-decoder#1', 'refiner#1', 'refiner#2', 'scheduler#1', 'gateway']);
    l.child.kill('SIGTERM');
    expect(await l.exited).toBe(0);
    expect(l.output()).toContain('launcher: all stopped');
    expect(children.filter((c) => alive(c.pid))).toEqual([]);
  });

  it('restarts a service replica, nats-server and the gateway when they die, on the same ports, and the gateway answers again', async () => {
    const l = launch({});
    const url = (await l.waitFor(/DiffuseVAE gateway ready: (\S+)/))[1]!;
    const natsPort = (await l.waitFor(/launcher: nats-server \(JetStream\) on nats:\/\/127\.0\.0\.1:(\d+)/))[1]!;
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
});

async function healthStatus(url: string): Promise<string | undefined> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: '{ health { status } }' }) });
  return ((await res.json()) as { data?: { health?: { status: string } } }).data?.health?.status;
}

/** Until the gateway reports every service up (reconnecting can take a few seconds). */
async function healthy(url: string, timeoutMs = 30_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  let last: string | undefined;
  while (Date.now() < until) {
    last = await healthStatus(url).catch((e: unknown) => String(e));
    if (last === 'ok') return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`the gateway's health is still ${last}`);
}
