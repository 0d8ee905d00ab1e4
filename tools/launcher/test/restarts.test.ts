import { afterEach, describe, expect, it } from 'vitest';
import { Supervisor, type Managed, type ProcessSpec } from '../src/processes.js';
import { natsArgs } from '../src/nats.js';
import { Backoff, Keeper, type Launch } from '../src/restarts.js';

const node = (label: string, script: string, tier = 1): ProcessSpec => ({ label, command: process.execPath, args: ['-e', script], env: process.env, cwd: process.cwd(), tier });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: () => boolean, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!what()) {
    if (Date.now() > end) throw new Error('timed out');
    await sleep(20);
  }
}

describe('Backoff', () => {
  it('doubles up to the maximum', () => {
    const b = new Backoff(500, 30_000);
    expect(Array.from({ length: 9 }, () => b.next())).toEqual([500, 1000, 2000, 4000, 8000, 16_000, 30_000, 30_000, 30_000]);
  });

  it('starts over after a long enough uptime, not after a short one', () => {
    const b = new Backoff(100, 1000, 60_000);
    expect([b.next(0), b.next(5_000), b.next(59_999)]).toEqual([100, 200, 400]);
    expect(b.next(60_000)).toBe(100);
    expect(b.next(10)).toBe(200);
    b.reset();
    expect(b.next()).toBe(100);
  });

  it('never waits longer than the maximum, even when the first delay is above it', () => {
    expect(new Backoff(5000, 1000).next()).toBe(1000);
  });
});

/** A Supervisor and a Keeper as main.ts wires them, with short delays; `dead` lists what the keeper did not take. */
function keeper(initialMs = 50, maxMs = 400) {
  const lines: string[] = [];
  const dead: string[] = [];
  const sup: Supervisor = new Supervisor(
    (l) => lines.push(l),
    (label, code, signal) => {
      if (!k.exited(label, code, signal)) dead.push(label);
    },
    false,
  );
  const k: Keeper = new Keeper({ sup, say: (l) => lines.push(`launcher: ${l}`), initialMs, maxMs });
  stops.push(async () => {
    k.stop();
    await sup.stopAll(1000);
  });
  return { sup, k, lines, dead };
}

const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(stops.splice(0).map((s) => s()));
});

/** A child that prints `ready` after `readyMs`; spawns counts its starts. */
function launchOf(sup: Supervisor, label: string, script: (n: number) => string, timeoutMs = 5000): Launch<string> & { spawns: Managed[] } {
  const spawns: Managed[] = [];
  return {
    label,
    spawns,
    spawn: () => {
      const p = sup.start(node(label, script(spawns.length)));
      spawns.push(p);
      return p;
    },
    ready: async (p) => (await p.waitFor(/ready (\d+)/, timeoutMs))[1]!,
  };
}

const serve = `console.log('ready ' + process.pid); setInterval(() => {}, 1000); process.on('SIGTERM', () => process.exit(0))`;

describe('Keeper', () => {
  it('restarts a child that dies after it was ready, under the same label, and says so', async () => {
    const { sup, k, lines, dead } = keeper();
    const launch = launchOf(sup, 'svc#2', () => serve);
    const other = launchOf(sup, 'other', () => serve);
    await Promise.all([k.start(launch), k.start(other)]);
    const first = launch.spawns[0]!;
    expect(lines).toContain(`launcher: started svc#2 (pid ${first.child.pid})`);
    first.child.kill('SIGKILL');
    await until(() => lines.includes('launcher: svc#2 is ready again'));
    const second = launch.spawns[1]!;
    expect(second.child.pid).not.toBe(first.child.pid);
    expect(lines).toContain('launcher: svc#2 exited unexpectedly (SIGKILL); restarting in 50 ms (restart 1)');
    expect(lines).toContain(`launcher: restarted svc#2 (pid ${second.child.pid})`);
    expect(sup.running.map((p) => p.spec.label).sort()).toEqual(['other', 'svc#2']);
    expect(other.spawns).toHaveLength(1);
    expect(dead).toEqual([]);
    expect(k.restarts).toEqual({ 'svc#2': 1, other: 0 });
  });

  it('retries a restart that exits or is not ready with longer and longer delays', async () => {
    const { sup, k, lines } = keeper(50, 150);
    // the first run serves; the next two die at once; the fourth hangs without being ready; the fifth serves
    const launch = launchOf(
      sup,
      'flaky',
      (n) => (n === 0 || n === 4 ? serve : n === 3 ? `setInterval(() => {}, 1000)` : `process.exit(3)`),
      400,
    );
    await k.start(launch);
    launch.spawns[0]!.child.kill('SIGKILL');
    await until(() => lines.includes('launcher: flaky is ready again'));
    const said = lines.filter((l) => l.startsWith('launcher: flaky'));
    expect(said).toEqual([
      'launcher: flaky exited unexpectedly (SIGKILL); restarting in 50 ms (restart 1)',
      'launcher: flaky exited unexpectedly (code 3); restarting in 100 ms (restart 2)',
      'launcher: flaky exited unexpectedly (code 3); restarting in 150 ms (restart 3)',
      'launcher: flaky: flaky was not ready within 400 ms; killing it',
      'launcher: flaky exited unexpectedly (SIGKILL); restarting in 150 ms (restart 4)',
      'launcher: flaky is ready again',
    ]);
    expect(launch.spawns).toHaveLength(5);
  });

  it('leaves a child that dies while starting to the caller', async () => {
    const { sup, k, dead } = keeper();
    const launch = launchOf(sup, 'broken', () => `process.exit(1)`);
    await expect(k.start(launch)).rejects.toThrow('broken exited (code 1) before it was ready');
    expect(dead).toEqual(['broken']);
    await sleep(150);
    expect(launch.spawns).toHaveLength(1);
  });

  it('restarts nothing once stopped, pending restarts included', async () => {
    const { sup, k, lines } = keeper(200);
    const launch = launchOf(sup, 'svc', () => serve);
    await k.start(launch);
    launch.spawns[0]!.child.kill('SIGKILL');
    await until(() => lines.some((l) => l.includes('restarting in 200 ms')));
    k.stop();
    await sup.stopAll(1000);
    await sleep(400);
    expect(launch.spawns).toHaveLength(1);
    expect(k.exited('svc', 0, null)).toBe(false);
  });
});

describe('natsArgs', () => {
  it('lets the kernel pick the port the first time, then asks for that one, with the same store', () => {
    expect(natsArgs('/tmp/s')).toEqual(['-a', '127.0.0.1', '-p', '-1', '-js', '-sd', '/tmp/s']);
    expect(natsArgs('/tmp/s', 43655)).toEqual(['-a', '127.0.0.1', '-p', '43655', '-js', '-sd', '/tmp/s']);
    // with a configuration (users, JetStream and its store): only the address and the port, which override it
    expect(natsArgs('/tmp/s', undefined, '/tmp/nats.conf')).toEqual(['-c', '/tmp/nats.conf', '-a', '127.0.0.1', '-p', '-1']);
    expect(natsArgs('/tmp/s', 43655, '/tmp/nats.conf')).toEqual(['-c', '/tmp/nats.conf', '-a', '127.0.0.1', '-p', '43655']);
  });
});

describe('Supervisor restarts', () => {
  it('kills what is left of a group whose leader died, and puts a restarted label in its old place', async () => {
    const lines: string[] = [];
    const exits: string[] = [];
    const sup = new Supervisor((l) => lines.push(l), (label) => exits.push(label), false);
    stops.push(() => sup.stopAll(1000));
    // the leader runs a grandchild in its own group, as tsx does
    const spec = node('leader', `require('child_process').spawn(process.execPath, ['-e', "console.log('grandchild up'); setInterval(() => {}, 1000)"], { stdio: 'inherit' }); setInterval(() => {}, 1000)`);
    const first = sup.start(spec);
    await first.waitFor(/grandchild up/, 5000);
    first.child.kill('SIGKILL');
    expect(await sup.whenGone(first, 5000)).toBe(true);
    expect(exits).toEqual(['leader']);
    const second = sup.start(spec);
    expect(() => sup.start(spec)).toThrow('leader is already running');
    await second.waitFor(/grandchild up/, 5000);
    expect(sup.running).toEqual([second]);
    await sup.stopAll(200); // the grandchild ignores its leader's SIGTERM: killed after 200 ms
    expect(() => sup.start(spec)).toThrow('not starting leader: stopping');
  });
});
