import path from 'node:path';
import { DEFAULT_MODEL_DIR } from '@diffusevae/models';
import { describe, expect, it } from 'vitest';
import { ConfigError, DEFAULT_REFINER_INSTANCES, loadConfig, natsConnectOptions, sessionOptions } from '../src/index.js';

describe('loadConfig', () => {
  it('has documented defaults', () => {
    const c = loadConfig({});
    expect(c).toEqual({
      natsUrl: 'nats://127.0.0.1:4222',
      jetstreamReplicas: 1,
      modelDir: DEFAULT_MODEL_DIR,
      modelDirs: [DEFAULT_MODEL_DIR],
      refinerPrecision: 'fp32',
      executionProvider: 'cpu',
      intraOpThreads: 0,
      allowSpinning: false,
      requestTimeoutMs: 30_000,
      epsTimeoutMs: 5000,
      refineTimeoutMs: 600_000,
      metrics: { port: 0 },
      refiner: { maxBatch: 64, maxWaitMs: 0, instances: DEFAULT_REFINER_INSTANCES },
      scheduler: { maxActiveSamples: 256, maxQueuedJobs: 1024, epsAttempts: 4, checkpointIntervalMs: 1000, checkpointTtlMs: 600_000 },
    });
    expect(sessionOptions(c)).toEqual({ executionProviders: ['cpu'], intraOpThreads: 0, allowSpinning: false });
  });

  it('reads every variable', () => {
    const c = loadConfig({
      NATS_URL: 'nats://a:1,b:2',
      MODEL_DIR: 'models/x',
      ORT_EXECUTION_PROVIDER: 'cuda',
      REFINER_PRECISION: 'int8',
      ORT_THREADS: '2',
      ORT_SPINNING: '1',
      REQUEST_TIMEOUT_MS: '500',
      REFINE_TIMEOUT_MS: '9000',
      MAX_BATCH: '8',
      MAX_WAIT_MS: '3',
      REFINER_INSTANCES: '2',
      SCHEDULER_MAX_ACTIVE: '32',
      SCHEDULER_MAX_QUEUE: '0',
      JETSTREAM_REPLICAS: '3',
    });
    expect(c).toMatchObject({ natsUrl: 'nats://a:1,b:2', jetstreamReplicas: 3, modelDir: path.resolve('models/x'), refinerPrecision: 'int8', executionProvider: 'cuda', intraOpThreads: 2, allowSpinning: true });
    expect(c).toMatchObject({ requestTimeoutMs: 500, refineTimeoutMs: 9000, refiner: { maxBatch: 8, maxWaitMs: 3, instances: 2 }, scheduler: { maxActiveSamples: 32, maxQueuedJobs: 0 } });
    expect(sessionOptions(c).executionProviders).toEqual(['cuda', 'cpu']);
  });

  it('reads MODEL_DIR as a list of model sets, the first the default, each once', () => {
    const c = loadConfig({ MODEL_DIR: ' models/a , models/b ' });
    expect(c.modelDirs).toEqual([path.resolve('models/a'), path.resolve('models/b')]);
    expect(c.modelDir).toBe(path.resolve('models/a'));
    expect(() => loadConfig({ MODEL_DIR: 'models/a,,models/b' })).toThrow(/^MODEL_DIR: an empty entry in "models\/a,,models\/b"/);
    expect(() => loadConfig({ MODEL_DIR: 'models/a,./models/a' })).toThrow(/^MODEL_DIR: .*models\/a is listed twice$/);
  });

  it.each([
    ['MAX_BATCH', 'lots', /^MAX_BATCH: must be an integer in \[1, 4096\], got "lots"$/],
    ['MAX_BATCH', '0', /MAX_BATCH: must be an integer in \[1, 4096\]/],
    ['MAX_WAIT_MS', '1.5', /MAX_WAIT_MS: must be an integer/],
    ['REFINER_INSTANCES', '0', /^REFINER_INSTANCES: must be an integer in \[1, 64\], got "0"$/],
    ['SCHEDULER_MAX_ACTIVE', '0', /^SCHEDULER_MAX_ACTIVE: must be an integer in \[1, 65536\]/],
    ['SCHEDULER_MAX_QUEUE', '-1', /^SCHEDULER_MAX_QUEUE: must be an integer in \[0, 1000000\]/],
    ['ORT_SPINNING', 'yes', /^ORT_SPINNING: must be an integer in \[0, 1\]/],
    ['REQUEST_TIMEOUT_MS', '-1', /REQUEST_TIMEOUT_MS: must be an integer in \[1, /],
    ['ORT_EXECUTION_PROVIDER', 'tpu', /^ORT_EXECUTION_PROVIDER: must be one of cpu, cuda, got "tpu"$/],
    ['REFINER_PRECISION', 'fp16', /^REFINER_PRECISION: must be one of fp32, int8, got "fp16"$/],
    ['NATS_URL', 'http://x:1', /^NATS_URL: must be nats:\/\/host:port/],
    ['JETSTREAM_REPLICAS', '0', /^JETSTREAM_REPLICAS: must be an integer in \[1, 5\], got "0"$/],
    ['JETSTREAM_REPLICAS', '6', /^JETSTREAM_REPLICAS: must be an integer in \[1, 5\], got "6"$/],
    ['JETSTREAM_REPLICAS', 'three', /^JETSTREAM_REPLICAS: must be an integer in \[1, 5\]/],
  ])('rejects %s=%s naming the variable', (name, value, message) => {
    const err = (() => {
      try {
        loadConfig({ [name]: value });
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).variable).toBe(name);
    expect((err as ConfigError).message).toMatch(message);
  });
  it.each([
    [{ NATS_PASSWORD: 'p' }, 'NATS_USER', /^NATS_USER: must be set when NATS_PASSWORD is \(both or neither\)$/],
    [{ NATS_USER: 'refiner' }, 'NATS_PASSWORD', /^NATS_PASSWORD: must be set when NATS_USER is \(both or neither\)$/],
    [{ NATS_USER: 'refiner', NATS_PASSWORD: '' }, 'NATS_PASSWORD', /must be set when NATS_USER is/],
    [{ NATS_USER: 'a.b', NATS_PASSWORD: 'p' }, 'NATS_USER', /^NATS_USER: must be letters, digits, _ and - \(it names the inbox prefix _INBOX_<user>\), got "a.b"$/],
  ])('NATS_USER and NATS_PASSWORD come together: %j names %s', (env, variable, message) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(expect.objectContaining({ variable, message: expect.stringMatching(message) }));
  });
});

describe('natsConnectOptions', () => {
  it('connects without credentials when none are set', () => {
    const c = loadConfig({ NATS_URL: 'nats://a:1, nats://b:2' });
    expect(c.natsAuth).toBeUndefined();
    expect(natsConnectOptions(c, 'diffusevae-refiner')).toEqual({ servers: ['nats://a:1', 'nats://b:2'], name: 'diffusevae-refiner', maxReconnectAttempts: -1 });
  });

  it('with NATS_USER / NATS_PASSWORD: that identity, and replies on its own inbox prefix', () => {
    const c = loadConfig({ NATS_USER: ' vae-decoder ', NATS_PASSWORD: ' s3cret ' });
    expect(c.natsAuth).toEqual({ user: 'vae-decoder', pass: ' s3cret ' }); // a password is taken as it is
    expect(natsConnectOptions(c, 'diffusevae-vae-decoder')).toEqual({
      servers: ['nats://127.0.0.1:4222'],
      name: 'diffusevae-vae-decoder',
      maxReconnectAttempts: -1,
      user: 'vae-decoder',
      pass: ' s3cret ',
      inboxPrefix: '_INBOX_vae-decoder',
    });
  });
});
