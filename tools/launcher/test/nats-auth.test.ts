import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { NATS_IDENTITIES, natsPermissions, type NatsIdentity } from '@diffusevae/contracts';
import bcrypt from 'bcryptjs';
import { describe, expect, it } from 'vitest';
import { findNatsServer } from '../src/nats.js';
import {
  deploymentNatsConfig,
  generatePasswords,
  hashPasswords,
  natsDuration,
  passwordVariable,
  platformUsers,
  renderNatsConfig,
} from '../src/nats-auth.js';

describe('renderNatsConfig', () => {
  it('writes listen address, JetStream and each user with allow lists and allow_responses', () => {
    const text = renderNatsConfig({
      header: 'test\nsecond line',
      host: '127.0.0.1',
      port: 4222,
      storeDir: '/tmp/js',
      users: [
        { user: 'svc', password: 'p"w', permissions: { publish: [], subscribe: ['a.b', '_INBOX_svc.>'], responses: { maxMsgs: 1, expiresMs: 3_600_000 }, inboxPrefix: '_INBOX_svc' } },
        { user: 'all', password: { variable: 'ALL_PASSWORD' }, permissions: { publish: ['>'], subscribe: ['$JS.API.INFO'], inboxPrefix: '_INBOX_all' } },
      ],
    });
    expect(text).toBe(`# test
# second line
host: "127.0.0.1"
port: 4222
jetstream {
  store_dir: "/tmp/js"
}
authorization {
  users = [
    {
      user: "svc"
      password: "p\\"w"
      permissions {
        publish { allow: [] }
        subscribe { allow: [
          "a.b"
          "_INBOX_svc.>"
        ] }
        allow_responses { max: 1, expires: "1h" }
      }
    }
    {
      user: "all"
      password: $ALL_PASSWORD
      permissions {
        publish { allow: [
          ">"
        ] }
        subscribe { allow: [
          "$JS.API.INFO"
        ] }
      }
    }
  ]
}
`);
  });

  it('leaves out what it is not given, and refuses a variable name nats-server would not read', () => {
    const text = renderNatsConfig({ users: [] });
    expect(text).not.toMatch(/host|port|jetstream/);
    const user = { user: 'u', password: { variable: 'bad name' }, permissions: { publish: [], subscribe: [], inboxPrefix: '_INBOX_u' } };
    expect(() => renderNatsConfig({ users: [user] })).toThrow(/not an environment variable name/);
  });

  it('renders every identity of natsPermissions, the bucket names passed through', () => {
    const passwords = Object.fromEntries(NATS_IDENTITIES.map((id) => [id, { variable: passwordVariable(id) }])) as Record<NatsIdentity, { variable: string }>;
    const users = platformUsers(passwords, { jobBucket: 'other-jobs' });
    expect(users.map((u) => u.user)).toEqual([...NATS_IDENTITIES]);
    expect(users.find((u) => u.user === 'gateway')!.permissions).toEqual(natsPermissions({ jobBucket: 'other-jobs' }).gateway);
    const text = renderNatsConfig({ users });
    for (const id of NATS_IDENTITIES) expect(text).toContain(`password: $${passwordVariable(id)}`);
    expect(text).toContain('"$KV.other-jobs.>"');
    expect(text).toContain('allow_responses { max: 1, expires: "24h" }'); // the scheduler's
    expect(passwordVariable('vae-decoder')).toBe('VAE_DECODER_PASSWORD');
  });

  it('is a configuration nats-server accepts: the launcher’s, and deploy/k8s’s with its password variables set', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'nats-conf-'));
    try {
      const check = (text: string, env: Record<string, string> = {}) => {
        const file = path.join(dir, 'nats.conf');
        writeFileSync(file, text);
        return spawnSync(findNatsServer()!, ['-c', file, '-t'], { env: { ...process.env, ...env }, encoding: 'utf8' });
      };
      const launcher = check(renderNatsConfig({ host: '127.0.0.1', storeDir: path.join(dir, 'js'), users: platformUsers(generatePasswords()) }));
      expect(launcher.status, launcher.stderr).toBe(0);
      const variables = Object.fromEntries(NATS_IDENTITIES.map((id) => [passwordVariable(id), `p${id.length}e4`]));
      const deployed = check(deploymentNatsConfig(), variables);
      expect(deployed.status, deployed.stderr).toBe(0);
      // a password variable left unset stops the server instead of letting anyone in
      const unset = check(deploymentNatsConfig());
      expect(unset.status).not.toBe(0);
      expect(unset.stderr).toMatch(/GATEWAY_PASSWORD/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('writes durations as nats-server reads them', () => {
    expect([86_400_000, 3_600_000, 120_000, 90_000, 1500].map(natsDuration)).toEqual(['24h', '1h', '2m', '90s', '1500ms']);
  });
});

describe('passwords', () => {
  it('are random per identity, base64url, and hash to bcrypt that checks them', async () => {
    const a = generatePasswords();
    const b = generatePasswords();
    expect(Object.keys(a)).toEqual([...NATS_IDENTITIES]);
    for (const id of NATS_IDENTITIES) {
      expect(a[id]).toMatch(/^[A-Za-z0-9_-]{32}$/);
      expect(a[id]).not.toBe(b[id]);
    }
    expect(new Set(Object.values(a)).size).toBe(NATS_IDENTITIES.length);
    const hashed = await hashPasswords(a);
    expect(hashed.refiner).toMatch(/^\$2[aby]\$10\$/);
    expect(await bcrypt.compare(a.refiner, hashed.refiner)).toBe(true);
    expect(await bcrypt.compare(a.gateway, hashed.refiner)).toBe(false);
  });
});
