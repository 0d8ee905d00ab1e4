import { describe, expect, it } from 'vitest';
import { MemoryKeyStore } from '@diffusevae/auth';
import { parseCommand, runCommand, UsageError } from '../src/commands.js';

describe('parseCommand', () => {
  it('create with defaults and with limits', () => {
    expect(parseCommand(['create', '--name', 'ci'])).toEqual({ kind: 'create', name: 'ci', scopes: ['submit', 'read'], limits: {} });
    expect(parseCommand(['create', '--name', 'ops', '--scopes', 'admin', '--rate', '60', '--concurrent', '2', '--image-steps', '5000'])).toEqual({
      kind: 'create',
      name: 'ops',
      scopes: ['admin'],
      limits: { requestsPerMinute: 60, concurrentJobs: 2, imageStepsPerMinute: 5000 },
    });
  });
  it('refuses what it cannot do, saying which option', () => {
    expect(() => parseCommand(['create'])).toThrow(/--name NAME is required/);
    expect(() => parseCommand(['create', '--name', 'x', '--scopes', 'write'])).toThrow(/--scopes: each must be one of submit, read, admin/);
    expect(() => parseCommand(['create', '--name', 'x', '--rate', '1.5'])).toThrow(/--rate: must be a whole number/);
    expect(() => parseCommand(['create', '--name', 'x', '--bogus'])).toThrow(UsageError);
    expect(() => parseCommand(['revoke'])).toThrow(/one key id or name/);
    expect(() => parseCommand(['rotate'])).toThrow(/unknown command "rotate"/);
    expect(parseCommand(['--help'])).toEqual({ kind: 'help' });
    expect(parseCommand(['create', '--help'])).toEqual({ kind: 'help' });
  });
});

describe('runCommand', () => {
  it('create prints the key as the last line; list shows it without its hash; revoke ends it', async () => {
    const store = new MemoryKeyStore();
    const lines: string[] = [];
    await runCommand({ kind: 'create', name: 'ci', scopes: ['read'], limits: { concurrentJobs: 3 } }, store, (l) => lines.push(l));
    const key = lines.at(-1)!;
    expect(key).toMatch(/^dvae_[0-9a-f]{12}_/);
    expect((await store.verify(key))?.limits.concurrentJobs).toBe(3);
    const listed: string[] = [];
    await runCommand({ kind: 'list', json: true }, store, (l) => listed.push(l));
    const records = JSON.parse(listed.join('\n'));
    expect(records[0]).toMatchObject({ name: 'ci', scopes: ['read'] });
    expect(records[0].sha256).toBeUndefined();
    await runCommand({ kind: 'revoke', key: 'ci' }, store, () => {});
    expect(await store.verify(key)).toBeUndefined();
  });
});
