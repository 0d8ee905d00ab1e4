/**
 * The gateway's logs: service-kit's JSON lines (pino) with `service: "gateway"`. Job lines carry `job`, the lines
 * of a request (its access line, the jobs it submitted, wherever they run) carry `request` (access-log.ts).
 */
import { createLogger, type LogDestination, type Logger, type LogLevel } from '@diffusevae/service-kit';

export type { Logger };

/** The gateway process's logger: LOG_LEVEL (a bad value throws ConfigError), stdout unless `destination` is given. */
export function gatewayLogger(opts: { level?: LogLevel; destination?: LogDestination } = {}): Logger {
  return createLogger({ service: 'gateway', ...opts });
}

/** For tests: errors and fatal lines still reach stdout, the rest is dropped. */
export function quietLogger(): Logger {
  return gatewayLogger({ level: 'error' });
}
