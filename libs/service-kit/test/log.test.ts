import { hostname } from 'node:os';
import { PlatformError } from '@diffusevae/contracts';
import { describe, expect, it } from 'vitest';
import { ConfigError, LOG_LEVELS, LogCapture, createLogger, jobLogger, logLevel, parseLogLines, requestLogger } from '../src/index.js';

// Every line through a real pino logger into memory: what a process writes on stdout, parsed back.
function capture(env: Record<string, string | undefined> = {}, replica?: string) {
  const lines = new LogCapture();
  const log = createLogger({ service: 'refiner', ...(replica ? { replica } : {}), env, destination: lines });
  return { lines: lines.lines, log };
}

describe('createLogger', () => {
  it('writes one JSON object per line: ISO time, level as a label, service, replica, msg, the fields given', () => {
    const raw: string[] = [];
    const log = createLogger({ service: 'refiner', env: {}, destination: { write: (s: string) => void raw.push(s) } });
    log.info({ endpoint: 'eps', items: 3 }, 'ran a batch');
    expect(raw).toHaveLength(1);
    expect(raw[0]!.endsWith('\n')).toBe(true);
    const line = JSON.parse(raw[0]!) as Record<string, unknown>;
    expect(line).toEqual({
      level: 'info',
      time: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      service: 'refiner',
      replica: `${hostname()}:${process.pid}`,
      endpoint: 'eps',
      items: 3,
      msg: 'ran a batch',
    });
    expect(Math.abs(Date.parse(line['time'] as string) - Date.now())).toBeLessThan(60_000);
  });

  it('takes the replica it is given', () => {
    const { lines, log } = capture({}, 'refiner#2');
    log.warn('hello');
    expect(lines[0]).toMatchObject({ level: 'warn', replica: 'refiner#2', msg: 'hello' });
  });

  it('keeps the lines at LOG_LEVEL and above (default info)', () => {
    const emit = (log: ReturnType<typeof capture>['log']) => {
      log.trace('t');
      log.debug('d');
      log.info('i');
      log.warn('w');
      log.error('e');
      log.fatal('f');
    };
    const levelsAt = (env: Record<string, string | undefined>) => {
      const c = capture(env);
      emit(c.log);
      return c.lines.map((l) => l.level);
    };
    expect(levelsAt({})).toEqual(['info', 'warn', 'error', 'fatal']);
    expect(levelsAt({ LOG_LEVEL: '' })).toEqual(['info', 'warn', 'error', 'fatal']);
    expect(levelsAt({ LOG_LEVEL: 'warn' })).toEqual(['warn', 'error', 'fatal']);
    expect(levelsAt({ LOG_LEVEL: 'DEBUG' })).toEqual(['debug', 'info', 'warn', 'error', 'fatal']);
    expect(levelsAt({ LOG_LEVEL: 'trace' })).toEqual(['trace', 'debug', 'info', 'warn', 'error', 'fatal']);
    expect(levelsAt({ LOG_LEVEL: 'silent' })).toEqual([]);
  });

  it('refuses a bad LOG_LEVEL with a ConfigError naming the variable and what it allows', () => {
    for (const bad of ['loud', 'warning', '30', 'info,debug']) {
      let err: unknown;
      try {
        createLogger({ service: 'refiner', env: { LOG_LEVEL: bad }, destination: new LogCapture() });
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ConfigError);
      expect(err).toMatchObject({ variable: 'LOG_LEVEL', message: `LOG_LEVEL: must be one of fatal, error, warn, info, debug, trace, silent, got ${JSON.stringify(bad)}` });
    }
    expect(LOG_LEVELS.map((l) => logLevel({ LOG_LEVEL: ` ${l} ` }))).toEqual([...LOG_LEVELS]);
  });

  it('child loggers carry the job and the request; the parent’s lines do not', () => {
    const { lines, log } = capture();
    const request = requestLogger(log, 'req-1');
    const job = jobLogger(request, '0b7e5a52-3c1e-4a57-9a8e-2f0c8d9e1a64');
    job.info({ attempt: 2 }, 'job started');
    request.info('graphql request');
    log.info('ready');
    expect(lines).toMatchObject([
      { msg: 'job started', job: '0b7e5a52-3c1e-4a57-9a8e-2f0c8d9e1a64', request: 'req-1', attempt: 2, service: 'refiner' },
      { msg: 'graphql request', request: 'req-1' },
      { msg: 'ready' },
    ]);
    expect(lines[1]).not.toHaveProperty('job');
    expect(lines[2]).not.toHaveProperty('request');
    expect(lines[2]).not.toHaveProperty('job');
  });

  it('serializes errors under err: type, message, their own fields, the cause; the stack except in production', () => {
    const cause = new Error('socket closed');
    const e = new PlatformError('SERVICE_UNAVAILABLE', 'no refiner answered');
    e.cause = cause;
    const logged = (env: Record<string, string | undefined>) => {
      const c = capture(env);
      c.log.error({ err: e }, 'refine failed');
      return c.lines[0]!.err!;
    };
    const dev = logged({ NODE_ENV: 'development' });
    expect(dev).toMatchObject({ type: 'PlatformError', code: 'SERVICE_UNAVAILABLE', message: expect.stringContaining('no refiner answered') });
    expect(dev.message).toContain('socket closed'); // pino's serializer appends the causes
    expect(dev.stack).toMatch(/PlatformError: no refiner answered\n\s+at /);
    expect(logged({})['stack']).toEqual(expect.any(String)); // NODE_ENV unset: not production

    const prod = logged({ NODE_ENV: 'production' });
    expect(prod).toMatchObject({ type: 'PlatformError', code: 'SERVICE_UNAVAILABLE', message: expect.stringContaining('no refiner answered') });
    expect(prod).not.toHaveProperty('stack');
    expect(JSON.stringify(prod)).not.toMatch(/\.ts:\d+|node_modules|file:\/\//);
    // in production, LOG_LEVEL=debug (or trace) brings the stacks back
    expect(logged({ NODE_ENV: 'production', LOG_LEVEL: 'debug' })['stack']).toEqual(expect.any(String));
    // an error given as the only argument goes under err too
    const c = capture({ NODE_ENV: 'production' });
    c.log.error(new Error('plain'));
    expect(c.lines[0]).toMatchObject({ msg: 'plain', err: { type: 'Error', message: 'plain' } });
    expect(c.lines[0]!.err).not.toHaveProperty('stack');
  });
});

describe('the readiness line', () => {
  it('keeps `ready on <url>` followed by a space, as launchers match it', () => {
    const { lines, log } = capture();
    const raw: string[] = [];
    const toRaw = createLogger({ service: 'refiner', env: {}, destination: { write: (s: string) => void raw.push(s) } });
    for (const l of [log, toRaw]) l.info('ready on nats://127.0.0.1:4222,nats://127.0.0.1:4223 (diffusevae-refiner)');
    expect(lines[0]!.msg.match(/\bready on (\S+)/)![1]).toBe('nats://127.0.0.1:4222,nats://127.0.0.1:4223');
    // the launcher's pattern (tools/launcher/src/main.ts) on the raw JSON line
    expect(raw[0]!.match(/\bready on (\S+)/)![1]).toBe('nats://127.0.0.1:4222,nats://127.0.0.1:4223');
  });
});

describe('parseLogLines', () => {
  it('reads our lines out of any output: behind a launcher prefix, between lines of other programs', () => {
    const out = [
      '[1] nats-server: Server is ready',
      'refiner#1 │ {"level":"info","time":"2025-01-01T00:00:00.000Z","service":"refiner","replica":"h:1","msg":"ready on nats://127.0.0.1:4222 (diffusevae-refiner)"}',
      '{"level":"warn","time":"2025-01-01T00:00:01.000Z","service":"scheduler","replica":"h:2","job":"j","msg":"checkpoint: x"}',
      '{"not":"ours"}',
      '{"level":"info", broken',
      '',
    ].join('\n');
    expect(parseLogLines(out)).toMatchObject([
      { service: 'refiner', msg: 'ready on nats://127.0.0.1:4222 (diffusevae-refiner)' },
      { service: 'scheduler', level: 'warn', job: 'j' },
    ]);
  });
});
