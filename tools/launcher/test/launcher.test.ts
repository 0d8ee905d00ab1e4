import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_MODEL_DIR } from '@diffusevae/models';

// `npm start` for real: nats-server, the four services and the gateway, then the ways it stops.
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
    expect(children.map((c) => c.label)).toEqual(['encoder#1', 'vae-decoder#1', 'refiner#1', 'refiner#2', 'scheduler#1', 'gateway']);
    l.child.kill('SIGTERM');
    expect(await l.exited).toBe(0);
    expect(l.output()).toContain('launcher: all stopped');
    expect(children.filter((c) => alive(c.pid))).toEqual([]);
  });

  it('stops everything, naming the culprit, when a child dies', async () => {
    const l = launch({});
    await l.waitFor(/DiffuseVAE gateway ready/);
    const children = pids(l.output());
    process.kill(children.find((c) => c.label === 'refiner#1')!.pid, 'SIGKILL');
    expect(await l.exited).toBe(1);
    expect(l.output()).toMatch(/launcher: refiner#1 exited unexpectedly \(SIGKILL\); stopping everything/);
    expect(children.filter((c) => alive(c.pid))).toEqual([]);
  });
});
