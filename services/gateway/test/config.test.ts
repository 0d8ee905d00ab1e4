import path from 'node:path';
import { ConfigError } from '@diffusevae/service-kit';
import { describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS, loadGatewayConfig } from '../src/index.js';

describe('loadGatewayConfig', () => {
  it('keeps jobs in JetStream KV for an hour by default, with the documented limits', () => {
    expect(loadGatewayConfig({})).toMatchObject({
      port: 4000,
      jobStore: 'kv',
      jobBucket: 'diffusevae-jobs',
      jobRetentionMs: 3_600_000,
      jetstreamReplicas: 1,
      limits: DEFAULT_LIMITS,
    });
  });

  it('JETSTREAM_REPLICAS > 1 (a cluster) waits 30 s for a silent runner by default, so a leader election does not move live jobs', () => {
    expect(loadGatewayConfig({}).jobAckWaitMs).toBe(10_000);
    expect(loadGatewayConfig({ JETSTREAM_REPLICAS: '3' })).toMatchObject({ jetstreamReplicas: 3, jobAckWaitMs: 30_000 });
    expect(loadGatewayConfig({ JETSTREAM_REPLICAS: '3', JOB_ACK_WAIT_MS: '15000' }).jobAckWaitMs).toBe(15_000);
  });

  it('MODEL_DIR may list several model sets: the first is the default', () => {
    const c = loadGatewayConfig({ MODEL_DIR: 'models/fmnist, models/fmnist-cont' });
    expect(c.modelDirs).toEqual([path.resolve('models/fmnist'), path.resolve('models/fmnist-cont')]);
    expect(c.modelDir).toBe(c.modelDirs[0]);
    expect(loadGatewayConfig({}).modelDirs).toEqual([loadGatewayConfig({}).modelDir]);
  });

  it('leaves GET /metrics open unless METRICS_TOKEN is set', () => {
    expect(loadGatewayConfig({}).metricsToken).toBeUndefined();
    expect(loadGatewayConfig({ METRICS_TOKEN: ' 0123456789abcdef0123 ' }).metricsToken).toBe('0123456789abcdef0123');
  });

  it('reads every limit', () => {
    const c = loadGatewayConfig({
      JOB_STORE: 'memory',
      JOB_BUCKET: 'jobs-2',
      JOB_RETENTION_MS: '60000',
      MAX_ACTIVE_JOBS: '4',
      MAX_QUEUED_JOBS: '0',
      MAX_IMAGE_STEPS: '1000',
      PROGRESS_INTERVAL_MS: '0',
      PREVIEW_INTERVAL_MS: '250',
      JOB_MAX_ATTEMPTS: '3',
      JOB_ACK_WAIT_MS: '20000',
      SCHEDULER_LIVENESS_MS: '3000',
      JETSTREAM_REPLICAS: '3',
    });
    expect(c).toMatchObject({ jetstreamReplicas: 3, jobStore: 'memory', jobBucket: 'jobs-2', jobRetentionMs: 60_000, jobAckWaitMs: 20_000, schedulerLivenessMs: 3000 });
    expect(c.limits).toEqual({ maxActiveJobs: 4, maxQueuedJobs: 0, maxImageSteps: 1000, maxAttempts: 3, progressIntervalMs: 0, previewIntervalMs: 250 });
  });

  it.each([
    ['JOB_STORE', 'redis', /^JOB_STORE: must be one of kv, memory, got "redis"$/],
    ['JOB_BUCKET', 'a.b', /^JOB_BUCKET: must be letters, digits/],
    ['JOB_RETENTION_MS', '10', /^JOB_RETENTION_MS: must be an integer in \[1000, /],
    ['MAX_ACTIVE_JOBS', '0', /^MAX_ACTIVE_JOBS: must be an integer in \[1, /],
    ['MAX_QUEUED_JOBS', 'many', /^MAX_QUEUED_JOBS: must be an integer/],
    ['MAX_IMAGE_STEPS', '-5', /^MAX_IMAGE_STEPS: must be an integer/],
    ['PREVIEW_INTERVAL_MS', '1.5', /^PREVIEW_INTERVAL_MS: must be an integer/],
    ['JETSTREAM_REPLICAS', '7', /^JETSTREAM_REPLICAS: must be an integer in \[1, 5\], got "7"$/],
    ['METRICS_TOKEN', 'short', /^METRICS_TOKEN: must be at least 16 characters without spaces/],
  ])('rejects %s=%s naming the variable', (name, value, message) => {
    const err = (() => {
      try {
        loadGatewayConfig({ [name]: value });
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(ConfigError);
    expect(err).toMatchObject({ variable: name, message: expect.stringMatching(message) });
  });
});
