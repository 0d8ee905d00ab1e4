import { describe, expect, it } from 'vitest';
import { banner, SAMPLE_MUTATION } from '../src/banner.js';
import { loadLauncherConfig, replicasVariable } from '../src/config.js';
import { LineSplitter } from '../src/processes.js';

describe('loadLauncherConfig', () => {
  it('defaults: port 4000, one replica of each service, NATS started here', () => {
    const c = loadLauncherConfig({});
    expect(c.port).toBe(4000);
    expect(c.auth).toBe('keys');
    expect(c.natsUrl).toBeUndefined();
    expect(c.services.map((s) => `${s.name}:${s.replicas}:${s.entry}`)).toEqual([
      'encoder:1:services/encoder/src/main.ts',
      'vae-decoder:1:services/vae-decoder/src/main.ts',
      'refiner:1:services/refiner/src/main.ts',
      'scheduler:1:services/scheduler/src/main.ts',
    ]);
  });

  it('reads replica counts per service, NATS_URL and MODEL_DIR', () => {
    const c = loadLauncherConfig({ REFINER_REPLICAS: '2', VAE_DECODER_REPLICAS: '3', NATS_URL: 'nats://h:4222', MODEL_DIR: 'models/x', PORT: '0' });
    expect(c.services.find((s) => s.name === 'refiner')!.replicas).toBe(2);
    expect(c.services.find((s) => s.name === 'vae-decoder')!.replicas).toBe(3);
    expect(c).toMatchObject({ natsUrl: 'nats://h:4222', modelDir: 'models/x', port: 0 });
    expect(replicasVariable('vae-decoder')).toBe('VAE_DECODER_REPLICAS');
  });

  it('AUTH as the gateway reads it: keys or none', () => {
    expect(loadLauncherConfig({ AUTH: 'none' }).auth).toBe('none');
    expect(() => loadLauncherConfig({ AUTH: 'off' })).toThrow(/AUTH.*keys, none.*"off"/);
  });

  it('restart back-off: 500 ms doubling to 30 s by default, or as set', () => {
    expect(loadLauncherConfig({})).toMatchObject({ restartBackoffMs: 500, restartBackoffMaxMs: 30_000 });
    expect(loadLauncherConfig({ RESTART_BACKOFF_MS: '100', RESTART_BACKOFF_MAX_MS: '2000' })).toMatchObject({ restartBackoffMs: 100, restartBackoffMaxMs: 2000 });
    expect(loadLauncherConfig({ RESTART_BACKOFF_MS: '60000' }).restartBackoffMaxMs).toBe(60_000);
  });

  it.each([
    [{ PORT: '70000' }, 'PORT: must be an integer in [0, 65535], got "70000"'],
    [{ REFINER_REPLICAS: 'two' }, 'REFINER_REPLICAS: must be an integer in [0, 32], got "two"'],
    [{ STOP_GRACE_MS: '-1' }, 'STOP_GRACE_MS: must be an integer in [100, 600000], got "-1"'],
    [{ RESTART_BACKOFF_MS: '0' }, 'RESTART_BACKOFF_MS: must be an integer in [10, 600000], got "0"'],
    [{ RESTART_BACKOFF_MAX_MS: 'soon' }, 'RESTART_BACKOFF_MAX_MS: must be an integer in [10, 3600000], got "soon"'],
    [{ RESTART_BACKOFF_MS: '2000', RESTART_BACKOFF_MAX_MS: '1000' }, 'RESTART_BACKOFF_MAX_MS: must be at least RESTART_BACKOFF_MS (2000), got 1000'],
  ])('names the variable at fault: %o', (env, message) => {
    expect(() => loadLauncherConfig(env)).toThrow(message);
  });
});

describe('REFINER_SETS: refiner replicas per model set', () => {
  const MODEL_DIR = 'models/fmnist,models/fmnist-cont,models/fmnist-f2-cont';

  it('groups the sets of MODEL_DIR, each group with its count (default 1)', () => {
    const c = loadLauncherConfig({ MODEL_DIR, REFINER_SETS: 'models/fmnist:2; models/fmnist-cont,models/fmnist-f2-cont' });
    expect(c.refinerGroups).toEqual([
      { modelDirs: ['models/fmnist'], replicas: 2 },
      { modelDirs: ['models/fmnist-cont', 'models/fmnist-f2-cont'], replicas: 1 },
    ]);
    expect(loadLauncherConfig({ MODEL_DIR }).refinerGroups).toBeUndefined();
  });

  it.each([
    ['a set outside MODEL_DIR', { MODEL_DIR, REFINER_SETS: 'models/other:1;models/fmnist,models/fmnist-cont,models/fmnist-f2-cont' }, /^REFINER_SETS: models\/other is not in MODEL_DIR/],
    ['a set without a refiner', { MODEL_DIR, REFINER_SETS: 'models/fmnist:2' }, /^REFINER_SETS: no refiner for models\/fmnist-cont, models\/fmnist-f2-cont: every set of MODEL_DIR needs one$/],
    ['zero replicas', { MODEL_DIR, REFINER_SETS: 'models/fmnist:0;models/fmnist-cont,models/fmnist-f2-cont' }, /^REFINER_SETS: group 1: replicas must be in \[1, 32\], got 0$/],
    ['a malformed group', { MODEL_DIR, REFINER_SETS: 'models/fmnist:two' }, /^REFINER_SETS: group 1 \("models\/fmnist:two"\) must be DIR\[,DIR…\]\[:REPLICAS\]$/],
    ['no MODEL_DIR', { REFINER_SETS: 'models/fmnist' }, /^REFINER_SETS: needs MODEL_DIR/],
    ['REFINER_REPLICAS too', { MODEL_DIR: 'models/fmnist', REFINER_SETS: 'models/fmnist', REFINER_REPLICAS: '2' }, /^REFINER_SETS: and REFINER_REPLICAS: choose one/],
  ])('refuses %s, naming REFINER_SETS', (_, env, message) => {
    expect(() => loadLauncherConfig(env)).toThrow(message);
  });
});

describe('LineSplitter', () => {
  it('joins lines split across chunks and keeps the unfinished tail', () => {
    const s = new LineSplitter();
    expect(s.push('a\nb')).toEqual(['a']);
    expect(s.push('c\r\nd\n')).toEqual(['bc', 'd']);
    expect(s.push('e')).toEqual([]);
    expect(s.flush()).toEqual(['e']);
  });
});

describe('banner', () => {
  it('gives the URL and a query that can be pasted as is', () => {
    const b = banner('http://localhost:4000/graphql');
    expect(b).toContain('DiffuseVAE gateway ready: http://localhost:4000/graphql');
    expect(b).toContain(SAMPLE_MUTATION);
    expect(b).toContain(`-d '${JSON.stringify({ query: SAMPLE_MUTATION })}'`);
    expect(b).toContain('AUTH=none');
    expect(b).not.toContain('authorization');
  });

  it('with a development key: the key, the playground and explorer links that carry it, and a curl that sends it', () => {
    const key = 'dvae_0123456789ab_secret';
    const b = banner('http://localhost:4000/graphql', { key, file: '.diffusevae/dev-key', created: true });
    expect(b).toContain(`Development API key (new; saved in .diffusevae/dev-key;`);
    expect(b).toContain(`\n    ${key}\n`);
    expect(b).toContain(`http://localhost:4000/graphql#key=${key}`);
    expect(b).toContain(`http://localhost:4000/#key=${key}`);
    expect(b).toContain(`curl -s http://localhost:4000/graphql -H 'content-type: application/json' -H 'authorization: Bearer ${key}' -d '`);
    expect(banner('http://localhost:4000/graphql', { key, file: 'k', created: false })).toContain('the same as last time');
  });

  it('with keys on but no development key (NATS_URL given): says how to make one, not that there are none', () => {
    const b = banner('http://localhost:4000/graphql', undefined, 'keys');
    expect(b).toContain('npm run keys -- create --name NAME');
    expect(b).toContain('http://localhost:4000/#key=<the key>');
    expect(b).not.toContain('AUTH=none');
  });
});
