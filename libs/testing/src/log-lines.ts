/**
 * Reading a process's logs: service-kit's logger writes one JSON object per line (`level`, `time`, `service`,
 * `replica`, `msg`, and the line's fields); these are those lines, parsed, out of any output (behind the
 * launcher's `label │ ` prefix, between other programs' lines).
 */
export interface LogLine {
  level: string;
  time: string;
  service: string;
  replica: string;
  msg: string;
  job?: string;
  request?: string;
  err?: { type: string; message: string; stack?: string; [k: string]: unknown };
  [field: string]: unknown;
}

/** The log lines of some output; lines that are not ours are skipped. */
export function parseLogLines(output: string): LogLine[] {
  const lines: LogLine[] = [];
  for (const text of output.split('\n')) {
    const start = text.indexOf('{"level":');
    if (start < 0) continue;
    try {
      const line = JSON.parse(text.slice(start)) as LogLine;
      if (typeof line.msg === 'string' && typeof line.level === 'string') lines.push(line);
    } catch {
      // not one of ours
    }
  }
  return lines;
}
