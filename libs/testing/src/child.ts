import type { ChildProcess } from 'node:child_process';

/**
 * Resolves with the first line of the child's stdout or stderr that matches `pattern`; rejects, with all the
 * output so far, if the child exits or `timeoutMs` passes first. Keeps collecting output afterwards so that a
 * failing test can print it.
 */
export function waitForLine(child: ChildProcess, pattern: RegExp, timeoutMs: number, what: string): { ready: Promise<RegExpMatchArray>; output: () => string } {
  let output = '';
  let pending = '';
  let settle: ((m: RegExpMatchArray | Error) => void) | undefined;
  const ready = new Promise<RegExpMatchArray>((resolve, reject) => {
    settle = (m) => {
      settle = undefined;
      clearTimeout(timer);
      if (m instanceof Error) reject(m);
      else resolve(m);
    };
  });
  const timer = setTimeout(() => settle?.(new Error(`${what}: no line matching ${pattern} within ${timeoutMs} ms\n${output}`)), timeoutMs);
  const onData = (chunk: Buffer) => {
    const text = chunk.toString('utf8');
    output += text;
    pending += text;
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) {
      const m = line.match(pattern);
      if (m) settle?.(m);
    }
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  child.once('exit', (code, signal) => settle?.(new Error(`${what} exited (${signal ?? `code ${code}`}) before it was ready\n${output}`)));
  child.once('error', (e) => settle?.(new Error(`${what}: ${e.message}`)));
  return { ready, output: () => output };
}

/** SIGTERM, then SIGKILL if the child is still there after `graceMs`. Resolves with its exit code (null if killed by a signal). */
export function stopChild(child: ChildProcess, graceMs = 5000): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => {
    const kill = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', (code) => {
      clearTimeout(kill);
      resolve(code);
    });
    child.kill('SIGTERM');
  });
}
