/**
 * Child processes with prefixed logs, readiness by log line, and an ordered stop. Each child gets its own
 * process group: Ctrl-C reaches only the launcher, which then stops the children in order (gateway first,
 * NATS last) instead of everyone at once. A child that ends on its own has the rest of its group killed and is
 * reported; starting its label again (restarts.ts decides when) puts the new process in its place.
 */
import { spawn, type ChildProcess } from 'node:child_process';

export interface ProcessSpec {
  /** in log prefixes and messages: refiner#2 */
  label: string;
  command: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** stopped before lower tiers: gateway 2, services 1, nats-server 0 */
  tier: number;
}

export interface Managed {
  spec: ProcessSpec;
  child: ChildProcess;
  /** The first line (already printed or still to come) that matches; rejects on exit or timeout. */
  waitFor(pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray>;
}

/** Splits a stream into lines; the last, unfinished piece waits for the next chunk. */
export class LineSplitter {
  private pending = '';
  push(chunk: string): string[] {
    const lines = (this.pending + chunk).split(/\r?\n/);
    this.pending = lines.pop() ?? '';
    return lines;
  }
  flush(): string[] {
    const rest = this.pending;
    this.pending = '';
    return rest ? [rest] : [];
  }
}

const COLORS = [36, 33, 35, 32, 34, 91, 96, 93, 95, 92];

export class Supervisor {
  private readonly procs: Managed[] = [];
  private stopping = false;
  private readonly width = 14;

  constructor(
    /** where prefixed lines go */
    private readonly print: (line: string) => void,
    /** a child ended while nobody asked it to */
    private readonly onUnexpectedExit: (label: string, code: number | null, signal: NodeJS.Signals | null) => void,
    private readonly color = process.stdout.isTTY === true && !process.env.NO_COLOR,
  ) {
    // Last resort if the launcher itself dies: no orphans left behind.
    process.once('exit', () => {
      for (const p of this.procs) killGroup(p.child, 'SIGKILL');
    });
  }

  get running(): Managed[] {
    return this.procs.filter((p) => alive(p.child));
  }

  /** A label seen before (its process gone) is a restart: the new process takes the old one's place and colour. */
  start(spec: ProcessSpec): Managed {
    if (this.stopping) throw new Error(`not starting ${spec.label}: stopping`);
    const index = this.procs.findIndex((p) => p.spec.label === spec.label);
    if (index >= 0 && alive(this.procs[index]!.child)) throw new Error(`${spec.label} is already running`);
    const child = spawn(spec.command, spec.args, { cwd: spec.cwd, env: spec.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const c = COLORS[(index >= 0 ? index : this.procs.length) % COLORS.length]!;
    const tag = spec.label.padEnd(this.width);
    const prefix = this.color ? `\x1b[${c}m${tag}│\x1b[0m ` : `${tag}│ `;
    const seen: string[] = [];
    const watchers = new Set<(line: string) => void>();
    const onLine = (line: string) => {
      this.print(prefix + line);
      seen.push(line);
      if (seen.length > 500) seen.shift();
      for (const w of watchers) w(line);
    };
    for (const stream of [child.stdout!, child.stderr!]) {
      const split = new LineSplitter();
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => split.push(chunk).forEach(onLine));
      stream.on('end', () => split.flush().forEach(onLine));
    }
    child.on('error', (e) => this.print(`${prefix}could not start ${spec.command}: ${e.message}`));
    child.once('exit', (code, signal) => {
      if (this.stopping) return;
      // The leader is gone; what it ran (tsx's program) must not serve on, or be a second copy after a restart.
      killGroup(child, 'SIGKILL');
      this.onUnexpectedExit(spec.label, code, signal);
    });

    const waitFor = (pattern: RegExp, timeoutMs: number) =>
      new Promise<RegExpMatchArray>((resolve, reject) => {
        const already = seen.map((l) => l.match(pattern)).find((m) => m);
        if (already) return resolve(already);
        const done = () => {
          clearTimeout(timer);
          watchers.delete(watch);
          child.off('exit', onExit);
        };
        const watch = (line: string) => {
          const m = line.match(pattern);
          if (m) {
            done();
            resolve(m);
          }
        };
        const onExit = (code: number | null, signal: string | null) => (done(), reject(new Error(`${spec.label} exited (${describeExit(code, signal)}) before it was ready`)));
        const timer = setTimeout(() => (done(), reject(new Error(`${spec.label} was not ready within ${timeoutMs} ms`))), timeoutMs);
        watchers.add(watch);
        child.once('exit', onExit);
        if (!alive(child)) onExit(child.exitCode, child.signalCode);
      });

    const managed: Managed = { spec, child, waitFor };
    if (index >= 0) this.procs[index] = managed;
    else this.procs.push(managed);
    return managed;
  }

  /** SIGKILL to `p`'s whole process group (one that will not become ready); its exit is reported as usual. */
  kill(p: Managed): void {
    if (!killGroup(p.child, 'SIGKILL')) p.child.kill('SIGKILL');
  }

  /** Until nothing of `p`'s process group is left (its port free), at most `timeoutMs`; false if something is. */
  async whenGone(p: Managed, timeoutMs = 5000): Promise<boolean> {
    const until = Date.now() + timeoutMs;
    while (alive(p.child) || groupAlive(p.child)) {
      if (Date.now() >= until) return false;
      await sleep(20);
    }
    return true;
  }

  /** Highest tier first; within a tier, in parallel. SIGTERM, then SIGKILL after `graceMs`. */
  async stopAll(graceMs: number): Promise<void> {
    this.stopping = true;
    const tiers = [...new Set(this.procs.map((p) => p.spec.tier))].sort((a, b) => b - a);
    for (const tier of tiers) {
      await Promise.all(this.procs.filter((p) => p.spec.tier === tier).map((p) => stopOne(p, graceMs, this.print)));
    }
  }
}

/** How a child ended, for messages: SIGKILL, code 1. */
export function describeExit(code: number | null, signal: NodeJS.Signals | string | null): string {
  return signal ?? `code ${code}`;
}

function alive(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

/** The whole group: tsx runs the program in a child of its own, which outlives a leader killed outright. */
function killGroup(child: ChildProcess, signal: NodeJS.Signals | 0): boolean {
  if (child.pid === undefined) return false;
  try {
    process.kill(-child.pid, signal);
    return true;
  } catch {
    return false; // ESRCH: nothing left in it
  }
}

function groupAlive(child: ChildProcess): boolean {
  return killGroup(child, 0); // signal 0: only asks whether the group exists
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function stopOne(p: Managed, graceMs: number, print: (line: string) => void): Promise<void> {
  const { child, spec } = p;
  if (alive(child)) {
    // Only the leader: tsx passes SIGTERM on to the program, which drains; a second copy would kill it outright.
    child.kill('SIGTERM');
  } else if (groupAlive(child)) {
    // The leader is gone (killed) but the program it ran is not: ask it directly.
    killGroup(child, 'SIGTERM');
  }
  const until = Date.now() + graceMs;
  while ((alive(child) || groupAlive(child)) && Date.now() < until) await sleep(50);
  if (alive(child) || groupAlive(child)) {
    print(`launcher: ${spec.label} did not stop within ${graceMs} ms; killing it`);
    killGroup(child, 'SIGKILL');
    while (alive(child)) await sleep(20);
  }
}
