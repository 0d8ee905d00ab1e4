/**
 * Supervision: a child that was ready once and then exits on its own is started again under the same label,
 * after a delay that doubles with each restart (RESTART_BACKOFF_MS up to RESTART_BACKOFF_MAX_MS) and starts
 * over once the child has served for a minute. A restart that does not become ready is killed and retried the
 * same way: never a tight loop. Once stopping begins, nothing is started again.
 */
import { describeExit, type Managed, type Supervisor } from './processes.js';

/** Delays between restarts: `initialMs`, doubling to `maxMs`; back to `initialMs` after an uptime of `resetAfterMs`. */
export class Backoff {
  private delay: number;

  constructor(
    readonly initialMs: number,
    readonly maxMs: number,
    readonly resetAfterMs = 60_000,
  ) {
    this.delay = Math.min(initialMs, maxMs);
  }

  /** The delay before restarting a child that was up (ready) for `uptimeMs`. */
  next(uptimeMs = 0): number {
    if (uptimeMs >= this.resetAfterMs) this.reset();
    const d = this.delay;
    this.delay = Math.min(this.maxMs, this.delay * 2);
    return d;
  }

  reset(): void {
    this.delay = Math.min(this.initialMs, this.maxMs);
  }
}

/** How to bring up one child: start it (Supervisor.start), then wait until it serves. Used again for each restart. */
export interface Launch<T> {
  label: string;
  spawn(): Managed;
  /** resolves once `p` is ready; rejects if it exits first or takes too long */
  ready(p: Managed): Promise<T>;
}

export interface KeeperOptions {
  sup: Supervisor;
  /** launcher lines, without the `launcher: ` prefix */
  say: (line: string) => void;
  initialMs: number;
  maxMs: number;
  /** an uptime that resets the back-off (default 60 s) */
  resetAfterMs?: number;
  now?: () => number;
}

interface Kept {
  launch: Launch<unknown>;
  current: Managed;
  backoff: Backoff;
  /** when `current` became ready; undefined while it is not (yet) */
  readyAt: number | undefined;
  restarts: number;
  timer: NodeJS.Timeout | undefined;
}

export class Keeper {
  private readonly kept = new Map<string, Kept>();
  private stopped = false;
  private readonly now: () => number;

  constructor(private readonly opts: KeeperOptions) {
    this.now = opts.now ?? Date.now;
  }

  /** Starts a child and waits until it is ready (a failure rejects: start-up stops); from then on it is kept. */
  async start<T>(launch: Launch<T>): Promise<T> {
    const p = launch.spawn();
    this.opts.say(`started ${launch.label} (pid ${p.child.pid})`);
    const value = await launch.ready(p);
    if (!this.stopped) {
      const backoff = new Backoff(this.opts.initialMs, this.opts.maxMs, this.opts.resetAfterMs);
      this.kept.set(launch.label, { launch, current: p, backoff, readyAt: this.now(), restarts: 0, timer: undefined });
    }
    return value;
  }

  /**
   * For the Supervisor's unexpected exits: schedules the restart of a kept child and says so. False for a
   * child that is not kept (it died while starting) or once stopping has begun.
   */
  exited(label: string, code: number | null, signal: NodeJS.Signals | null): boolean {
    const k = this.kept.get(label);
    if (!k || this.stopped) return false;
    if (k.timer) return true; // already scheduled
    const delay = k.backoff.next(k.readyAt === undefined ? 0 : this.now() - k.readyAt);
    k.readyAt = undefined;
    k.restarts += 1;
    this.opts.say(`${label} exited unexpectedly (${describeExit(code, signal)}); restarting in ${delay} ms (restart ${k.restarts})`);
    k.timer = setTimeout(() => void this.restart(k), delay);
    return true;
  }

  /** No restarts from now on; pending ones are cancelled. */
  stop(): void {
    this.stopped = true;
    for (const k of this.kept.values()) {
      clearTimeout(k.timer);
      k.timer = undefined;
    }
  }

  /** Restarts so far, by label. */
  get restarts(): Record<string, number> {
    return Object.fromEntries([...this.kept].map(([label, k]) => [label, k.restarts]));
  }

  private async restart(k: Kept): Promise<void> {
    k.timer = undefined;
    const { label } = k.launch;
    if (this.stopped) return;
    if (!(await this.opts.sup.whenGone(k.current))) this.opts.say(`${label}: its old process group is still there; restarting anyway`);
    if (this.stopped) return;
    let p: Managed;
    try {
      p = k.launch.spawn();
    } catch (e) {
      if (this.stopped) return;
      // Not expected (it started before); try again later rather than give up on it.
      this.opts.say(`could not restart ${label}: ${(e as Error).message}`);
      this.exited(label, null, null);
      return;
    }
    k.current = p;
    this.opts.say(`restarted ${label} (pid ${p.child.pid})`);
    try {
      await k.launch.ready(p);
    } catch (e) {
      if (this.stopped || k.current !== p) return;
      if (p.child.exitCode === null && p.child.signalCode === null) {
        // Still running but not ready: kill it; its exit schedules the next try.
        this.opts.say(`${label}: ${(e as Error).message}; killing it`);
        this.opts.sup.kill(p);
      }
      // Otherwise it exited, and that exit has already scheduled the next try.
      return;
    }
    if (this.stopped || k.current !== p) return;
    k.readyAt = this.now();
    this.opts.say(`${label} is ready again`);
  }
}
