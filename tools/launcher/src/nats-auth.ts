/**
 * The NATS identities of a local platform: a random password per identity (libs/contracts' NATS_IDENTITIES), a
 * nats-server configuration giving each its permissions (natsPermissions). Where the launcher leaves the admin identity for
 * operator tools: readLocalNats in @diffusevae/service-kit.
 */
import { randomBytes } from 'node:crypto';
import { NATS_IDENTITIES, natsPermissions, type NatsIdentity, type NatsPermissions, type PermissionOptions } from '@diffusevae/contracts';
import bcrypt from 'bcryptjs';

/** A password as the configuration holds it: a literal (a bcrypt hash or plaintext), or `$NAME`, read by nats-server from its environment. */
export type PasswordRef = string | { variable: string };

export interface NatsUser {
  user: string;
  password: PasswordRef;
  permissions: NatsPermissions;
}

export interface NatsConfigOptions {
  /** `host`; absent: nats-server's default (every interface) or its -a flag */
  host?: string;
  /** `port`; absent: the default (4222) or the -p flag (which overrides the file either way) */
  port?: number;
  /** JetStream's `store_dir`; absent: no jetstream block (the -js / -sd flags may still enable it) */
  storeDir?: string;
  /** `http_port`: the monitoring endpoint */
  monitorPort?: number;
  users: NatsUser[];
  /** a comment at the top */
  header?: string;
}

const quote = (s: string) => JSON.stringify(s);

/** A duration nats-server reads ("24h", "90s", "1500ms"). */
export function natsDuration(ms: number): string {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

function list(subjects: readonly string[], indent: string): string {
  if (subjects.length === 0) return '[]';
  return `[\n${subjects.map((s) => `${indent}  ${quote(s)}`).join('\n')}\n${indent}]`;
}

function password(p: PasswordRef): string {
  if (typeof p === 'string') return quote(p);
  if (!/^[A-Z_][A-Z0-9_]*$/.test(p.variable)) throw new Error(`not an environment variable name: ${JSON.stringify(p.variable)}`);
  return `$${p.variable}`;
}

function renderUser(u: NatsUser): string {
  const p = u.permissions;
  const i = '        ';
  const lines = [
    '    {',
    `      user: ${quote(u.user)}`,
    `      password: ${password(u.password)}`,
    '      permissions {',
    `        publish { allow: ${list(p.publish, i)} }`,
    `        subscribe { allow: ${list(p.subscribe, i)} }`,
    ...(p.responses ? [`        allow_responses { max: ${p.responses.maxMsgs}, expires: ${quote(natsDuration(p.responses.expiresMs))} }`] : []),
    '      }',
    '    }',
  ];
  return lines.join('\n');
}

/**
 * A nats-server configuration file: listen address, JetStream's store, and `authorization { users }` with each
 * user's publish and subscribe allow lists and allow_responses. Pure: the same options give the same text.
 */
export function renderNatsConfig(opts: NatsConfigOptions): string {
  const out: string[] = [];
  if (opts.header) out.push(...opts.header.split('\n').map((l) => `# ${l}`.trimEnd()));
  if (opts.host !== undefined) out.push(`host: ${quote(opts.host)}`);
  if (opts.port !== undefined) out.push(`port: ${opts.port}`);
  if (opts.monitorPort !== undefined) out.push(`http_port: ${opts.monitorPort}`);
  if (opts.storeDir !== undefined) out.push('jetstream {', `  store_dir: ${quote(opts.storeDir)}`, '}');
  out.push('authorization {', '  users = [', opts.users.map(renderUser).join('\n'), '  ]', '}');
  return `${out.join('\n')}\n`;
}

/** The platform's users, one per identity, with the passwords given (literal or `$VARIABLE`). */
export function platformUsers(passwords: Record<NatsIdentity, PasswordRef>, opts: PermissionOptions = {}): NatsUser[] {
  const perms = natsPermissions(opts);
  return NATS_IDENTITIES.map((id) => ({ user: id, password: passwords[id], permissions: perms[id] }));
}

/** `GATEWAY_PASSWORD`, `VAE_DECODER_PASSWORD`, …: where a deployment's nats-server finds an identity's password. */
export function passwordVariable(identity: NatsIdentity): string {
  return `${identity.toUpperCase().replace(/-/g, '_')}_PASSWORD`;
}

/**
 * deploy/k8s/nats.yaml's nats.conf (its ConfigMap holds exactly this; tools/launcher/test/deploy.test.ts checks):
 * clients on 4222, monitoring on 8222, JetStream in /data, and each identity's password read by nats-server
 * from its environment (`$GATEWAY_PASSWORD`, …, set from the nats-auth Secret).
 */
export function deploymentNatsConfig(): string {
  const passwords = Object.fromEntries(NATS_IDENTITIES.map((id) => [id, { variable: passwordVariable(id) }])) as Record<NatsIdentity, PasswordRef>;
  return renderNatsConfig({
    header: [
      'The platform\'s NATS identities and their permissions: tools/launcher/src/nats-auth.ts deploymentNatsConfig(),',
      'from libs/contracts/src/permissions.ts. Passwords come from the environment (the nats-auth Secret).',
    ].join('\n'),
    port: 4222,
    monitorPort: 8222,
    storeDir: '/data',
    users: platformUsers(passwords),
  });
}

/** One user of a nats-server configuration as data (the NATS Helm chart renders its values into nats.conf as JSON). */
export interface NatsUserValues {
  user: string;
  password: string;
  permissions: {
    publish: { allow: string[] };
    subscribe: { allow: string[] };
    allow_responses?: { max: number; expires: string };
  };
}

/**
 * deploy/helm/nats-values.yaml's `config.merge.authorization` (tools/launcher/test/deploy.test.ts checks): the
 * users and permissions of deploymentNatsConfig() as the official NATS Helm chart (1.x) takes them. The chart
 * merges `config.merge` into the nats.conf it renders and writes a string `<< … >>` unquoted, so each password is
 * `<< $GATEWAY_PASSWORD >>`, …: nats-server reads the variable from its environment (the nats-auth Secret).
 */
export function helmNatsAuthorization(): { users: NatsUserValues[] } {
  const passwords = Object.fromEntries(NATS_IDENTITIES.map((id) => [id, { variable: passwordVariable(id) }])) as Record<NatsIdentity, PasswordRef>;
  return {
    users: platformUsers(passwords).map((u) => ({
      user: u.user,
      password: `<< ${password(u.password)} >>`,
      permissions: {
        publish: { allow: [...u.permissions.publish] },
        subscribe: { allow: [...u.permissions.subscribe] },
        ...(u.permissions.responses
          ? { allow_responses: { max: u.permissions.responses.maxMsgs, expires: natsDuration(u.permissions.responses.expiresMs) } }
          : {}),
      },
    })),
  };
}

/** A random password per identity: 24 bytes, base64url (no character the config or a URL would mind). */
export function generatePasswords(): Record<NatsIdentity, string> {
  return Object.fromEntries(NATS_IDENTITIES.map((id) => [id, randomBytes(24).toString('base64url')])) as Record<NatsIdentity, string>;
}

/** bcrypt cost: nats-server checks the hash at every connection and reconnection; 10 is about 50–100 ms there. */
const BCRYPT_COST = 10;

/** The hashes nats-server checks passwords against (bcrypt: a leaked configuration does not give the passwords). */
export async function hashPasswords(passwords: Record<NatsIdentity, string>): Promise<Record<NatsIdentity, string>> {
  const hashed = await Promise.all(NATS_IDENTITIES.map(async (id) => [id, await bcrypt.hash(passwords[id], BCRYPT_COST)] as const));
  return Object.fromEntries(hashed) as Record<NatsIdentity, string>;
}
