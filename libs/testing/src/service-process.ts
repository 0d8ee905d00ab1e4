import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { stopChild, waitForLine } from './child.js';

/** The repository root: services' entries are given relative to it. */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const TSX = path.join(REPO_ROOT, 'node_modules/.bin/tsx');

export interface ServiceProcessOptions {
  /** the line that says the service is ready; default: service-kit's `[<service>] ready on …` */
  readyPattern?: RegExp;
  /** start-up includes loading and verifying the model: allow for a busy machine */
  timeoutMs?: number;
}

export interface ServiceProcess {
  pid: number;
  /** everything the process printed so far (stdout and stderr) */
  output(): string;
  /** SIGTERM (SIGKILL after a grace period); resolves with the exit code */
  stop(): Promise<number | null>;
}

/**
 * Runs a service's entry (e.g. 'services/refiner/src/main.ts') as its own process with tsx, as it runs in
 * production, with `env` added to this process's environment; resolves once it prints its readiness line.
 */
export async function startService(entry: string, env: Record<string, string> = {}, opts: ServiceProcessOptions = {}): Promise<ServiceProcess> {
  const child = spawn(TSX, [path.resolve(REPO_ROOT, entry)], { cwd: REPO_ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const { ready, output } = waitForLine(child, opts.readyPattern ?? /^\[[\w-]+\] ready on /, opts.timeoutMs ?? 60_000, entry);
  try {
    await ready;
  } catch (e) {
    await stopChild(child);
    throw e;
  }
  return { pid: child.pid!, output, stop: () => stopChild(child) };
}
