/** One line per event: `level message {"key":value}` — readable behind the launcher's prefixes, greppable. */
export interface Logger {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

function render(fields: Record<string, unknown> | undefined): string {
  if (!fields) return '';
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(fields)) out[k] = v instanceof Error ? (v.stack ?? v.message) : v;
  return ` ${JSON.stringify(out)}`;
}

export function consoleLogger(): Logger {
  return {
    info: (m, f) => console.log(`info ${m}${render(f)}`),
    warn: (m, f) => console.warn(`warn ${m}${render(f)}`),
    error: (m, f) => console.error(`error ${m}${render(f)}`),
  };
}

/** For tests: errors still reach stderr, the rest is dropped. */
export function quietLogger(): Logger {
  return { info: () => {}, warn: () => {}, error: (m, f) => console.error(`error ${m}${render(f)}`) };
}
