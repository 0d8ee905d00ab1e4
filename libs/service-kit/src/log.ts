/**
 * Structured logs: one JSON object per line on stdout (pino), for every process of the platform.
 *
 *   {"level":"info","time":"2025-01-01T12:00:00.000Z","service":"refiner","replica":"host:4242","msg":"ready on nats://… (diffusevae-refiner)"}
 *
 * `level` is a label, `time` ISO 8601, `service` the process's service (`encoder`, …, `gateway`), `replica` which
 * process of it (`<host>:<pid>`, as `$SRV.INFO` reports them). Child loggers add `job` (a job id) and `request` (a
 * request id: the gateway's `x-request-id`). An error goes under `err` (pino's serializer: type, message, its own
 * fields such as `code`, and the stack only where stacks are on: see `LoggerOptions.stacks`).
 *
 * LOG_LEVEL (default `info`): fatal, error, warn, info, debug, trace or silent.
 */
import { hostname } from 'node:os';
import { pino, stdSerializers, stdTimeFunctions, type DestinationStream, type Logger as PinoLogger } from 'pino';
import { ConfigError, type Env } from './config.js';

export type Logger = PinoLogger;

/** Where lines go: anything with `write(line)` (each call one whole line, `\n` included). */
export type LogDestination = DestinationStream;

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** LOG_LEVEL (any case; unset or empty: `info`); anything else is a ConfigError naming LOG_LEVEL and what it allows. */
export function logLevel(env: Env = process.env): LogLevel {
  const raw = env['LOG_LEVEL']?.trim();
  if (raw === undefined || raw === '') return 'info';
  const level = raw.toLowerCase() as LogLevel;
  if (!LOG_LEVELS.includes(level)) throw new ConfigError('LOG_LEVEL', `must be one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(raw)}`);
  return level;
}

export interface LoggerOptions {
  /** `encoder`, `vae-decoder`, `refiner`, `scheduler`, `gateway`, … */
  service: string;
  /** which process of the service; default `<host>:<pid>` (the `host` and `pid` of its `$SRV.INFO`) */
  replica?: string;
  /** default: LOG_LEVEL from `env` */
  level?: LogLevel;
  /** where LOG_LEVEL and NODE_ENV are read; default process.env */
  env?: Env;
  /** default: stdout, written synchronously (a line is out before a crash or process.exit) */
  destination?: LogDestination;
  /**
   * errors' stack traces (and with them the files they name) in `err.stack`; default: on, except with
   * NODE_ENV=production, where only LOG_LEVEL=debug or trace turns them on
   */
  stacks?: boolean;
}

/** `<host>:<pid>`: this process among the replicas of its service. */
export function defaultReplica(): string {
  return `${hostname()}:${process.pid}`;
}

/** pino's err serializer, without the stack (and so without file paths). */
function errWithoutStack(e: unknown): unknown {
  const s = stdSerializers.err(e as Error) as unknown;
  if (s && typeof s === 'object' && 'stack' in s) {
    const rest: Record<string, unknown> = { ...(s as Record<string, unknown>) };
    delete rest['stack'];
    return rest;
  }
  return s;
}

/** Throws ConfigError on a bad LOG_LEVEL (unless `level` is given). */
export function createLogger(opts: LoggerOptions): Logger {
  const env = opts.env ?? process.env;
  const level = opts.level ?? logLevel(env);
  const stacks = opts.stacks ?? (level === 'debug' || level === 'trace' || env['NODE_ENV'] !== 'production');
  return pino(
    {
      level,
      base: { service: opts.service, replica: opts.replica ?? defaultReplica() },
      timestamp: stdTimeFunctions.isoTime,
      messageKey: 'msg',
      formatters: { level: (label) => ({ level: label }) },
      serializers: { err: stacks ? stdSerializers.err : errWithoutStack },
    },
    opts.destination ?? pino.destination({ dest: 1, sync: true }),
  );
}

/** A child logger whose lines carry `job`: the job id. */
export function jobLogger(log: Logger, job: string): Logger {
  return log.child({ job });
}

/** A child logger whose lines carry `request`: the request id (the gateway's `x-request-id`). */
export function requestLogger(log: Logger, request: string): Logger {
  return log.child({ request });
}

/** A line as the logs hold it (for readers of logs: tests, tools). */
export interface LogLine {
  level: Exclude<LogLevel, 'silent'>;
  time: string;
  service: string;
  replica: string;
  msg: string;
  job?: string;
  request?: string;
  err?: { type: string; message: string; stack?: string; [k: string]: unknown };
  [field: string]: unknown;
}

/**
 * The log lines of some output (a process's stdout, behind the launcher's `label │ ` prefix, between other
 * programs' lines), parsed; lines that are not ours are skipped.
 */
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

/**
 * An in-memory destination: every line written, parsed (tests, and anything that wants a logger's lines as
 * objects; `parseLogLines` reads them out of a process's output).
 */
export class LogCapture implements LogDestination {
  readonly lines: LogLine[] = [];

  write(line: string): void {
    this.lines.push(JSON.parse(line) as LogLine);
  }

  /** the lines whose fields include all of `fields` */
  find(fields: Partial<Record<string, unknown>>): LogLine[] {
    return this.lines.filter((l) => Object.entries(fields).every(([k, v]) => l[k] === v));
  }
}
