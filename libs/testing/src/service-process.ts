import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { stopChild, waitForLine } from './child.js';

/** service-kit's readiness line (a JSON log line, `"msg":"ready on <url> (…)"`), every service's and the gateway's */
export const READY_LINE = /"msg":"ready on /;

/** The repository root: services' entries are given relative to it. */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

export interface ServiceProcessOptions {
  /** the line that says the service is ready; default: service-kit's JSON line whose msg is `ready on …` (READY_LINE) */
  readyPattern?: RegExp;
  /** start-up includes loading and verifying the model: allow for a busy machine */
  timeoutMs?: number;
  /**
   * a command that runs the service and execs it, keeping its pid: `['taskset', '-c', '0']` pins it to CPU 0 from
   * its first instruction (the bench's scale-out stage)
   */
  prefix?: readonly string[];
}

export interface ServiceProcess {
  pid: number;
  /** everything the process printed so far (stdout and stderr) */
  output(): string;
  /** SIGTERM (SIGKILL after a grace period); resolves with the exit code */
  stop(): Promise<number | null>;
  /** sends a signal (SIGKILL: a crash) and resolves once the process is gone */
  kill(signal: NodeJS.Signals): Promise<void>;
  /** resolves when the process has exited */
  exited: Promise<void>;
}

/**
 * Runs a service's entry (e.g. 'services/refiner/src/main.ts') as its own process, TypeScript through tsx's
 * loader in that one process (so that a signal reaches the service itself, as kill -9 of a container would),
 * with `env` added to this process's environment; resolves once it prints its readiness line.
 */
export async function startService(entry: string, env: Record<string, string> = {}, opts: ServiceProcessOptions = {}): Promise<ServiceProcess> {
  const [command, ...args] = [...(opts.prefix ?? []), process.execPath, '--import', 'tsx', path.resolve(REPO_ROOT, entry)];
  const child = spawn(command!, args, {
    cwd: REPO_ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const { ready, output } = waitForLine(child, opts.readyPattern ?? READY_LINE, opts.timeoutMs ?? 60_000, entry);
  try {
    await ready;
  } catch (e) {
    await stopChild(child);
    throw e;
  }
  return {
    pid: child.pid!,
    output,
    stop: () => stopChild(child),
    exited,
    async kill(signal) {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}
