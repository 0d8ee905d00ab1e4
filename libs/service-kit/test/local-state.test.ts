import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { devKeyFile, localNatsFile, readDevKey, readLocalNats, removeLocalNats, stateDir, writeDevKey, writeLocalNats } from '../src/local-state.js';

describe('the state folder', () => {
  it('is .diffusevae under the root, or DIFFUSEVAE_STATE_DIR', () => {
    expect(stateDir('/repo', {})).toBe(path.join('/repo', '.diffusevae'));
    expect(stateDir('/repo', { DIFFUSEVAE_STATE_DIR: ' ' })).toBe(path.join('/repo', '.diffusevae'));
    expect(stateDir('/repo', { DIFFUSEVAE_STATE_DIR: 'rel/state' })).toBe(path.resolve('rel/state'));
  });
});

describe('nats.json', () => {
  let root: string;
  afterEach(() => rmSync(root, { recursive: true, force: true }));
  const mine = { url: 'nats://127.0.0.1:4999', user: 'admin', pass: 'secret' };

  it('is written for its owner only, read back, and removed only while it is still this launcher’s', () => {
    root = mkdtempSync(path.join(tmpdir(), 'local-state-'));
    expect(readLocalNats(root)).toBeUndefined();
    writeLocalNats(root, mine);
    expect(localNatsFile(root)).toBe(path.join(root, 'nats.json'));
    expect(statSync(localNatsFile(root)).mode & 0o777).toBe(0o600);
    expect(readLocalNats(root)).toEqual(mine);
    // another launcher took over the file: leave it
    writeLocalNats(root, { ...mine, pass: 'theirs' });
    removeLocalNats(root, mine);
    expect(readLocalNats(root)?.pass).toBe('theirs');
    writeLocalNats(root, mine);
    removeLocalNats(root, mine);
    expect(readLocalNats(root)).toBeUndefined();
  });

  it('reads as undefined when it is not one', () => {
    root = mkdtempSync(path.join(tmpdir(), 'local-state-'));
    for (const text of ['not json', '{"url": "nats://x"}', 'null', '{"url": 1, "user": "a", "pass": "b"}']) {
      writeFileSync(localNatsFile(root), text);
      expect(readLocalNats(root), text).toBeUndefined();
    }
    expect(readFileSync(localNatsFile(root), 'utf8')).toContain('"url": 1');
  });
});

describe('dev-key', () => {
  let root: string;
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('is written for its owner only and read back trimmed; absent or empty reads as undefined', () => {
    root = mkdtempSync(path.join(tmpdir(), 'local-state-'));
    expect(readDevKey(root)).toBeUndefined();
    writeDevKey(root, 'dvae_0123456789ab_secret');
    expect(statSync(devKeyFile(root)).mode & 0o777).toBe(0o600);
    expect(readDevKey(root)).toBe('dvae_0123456789ab_secret');
    writeFileSync(devKeyFile(root), '\n');
    expect(readDevKey(root)).toBeUndefined();
  });
});
