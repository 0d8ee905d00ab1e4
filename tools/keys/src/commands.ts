/**
 * The commands of `npm run keys`, parsed and run over a KeyStore (pure of NATS: main.ts connects).
 *
 *   create --name NAME [--scopes submit,read] [--rate N] [--concurrent N] [--image-steps N]
 *   list [--json]
 *   revoke ID|NAME
 */
import { parseArgs } from 'node:util';
import { DEFAULT_KEY_LIMITS, DEFAULT_SCOPES, SCOPES, checkScopes, type ApiKeyRecord, type KeyLimits, type KeyStore, type Scope } from '@diffusevae/auth';

export const USAGE = `usage: npm run keys -- <command>

  create --name NAME [--scopes LIST] [--rate N] [--concurrent N] [--image-steps N]
         a new API key; it is printed once, as the last line (only its hash is stored)
         --scopes       comma-separated, of ${SCOPES.join(', ')} (default ${DEFAULT_SCOPES.join(',')}; admin sees every key's jobs)
         --rate         requests per minute (default ${DEFAULT_KEY_LIMITS.requestsPerMinute})
         --concurrent   jobs queued or running at once (default ${DEFAULT_KEY_LIMITS.concurrentJobs})
         --image-steps  count × steps of the jobs submitted per minute (default ${DEFAULT_KEY_LIMITS.imageStepsPerMinute})
  list [--json]
         every key: id, name, scopes, limits, created, revoked
  revoke ID|NAME
         the key stops working on every gateway within a few seconds

NATS: NATS_URL (and NATS_USER, NATS_PASSWORD), or the server \`npm start\` runs (its admin identity).`;

export type Command =
  | { kind: 'create'; name: string; scopes: Scope[]; limits: Partial<KeyLimits> }
  | { kind: 'list'; json: boolean }
  | { kind: 'revoke'; key: string }
  | { kind: 'help' };

export class UsageError extends Error {
  override name = 'UsageError';
}

function count(option: string, raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  if (!/^\d+$/.test(raw) || Number(raw) < 1) throw new UsageError(`--${option}: must be a whole number ≥ 1, got ${JSON.stringify(raw)}`);
  return Number(raw);
}

export function parseCommand(argv: string[]): Command {
  const [command, ...rest] = argv;
  if (!command || command === 'help' || command === '--help' || command === '-h') return { kind: 'help' };
  let parsed;
  try {
    parsed = parseArgs({
      args: rest,
      allowPositionals: true,
      options: {
        name: { type: 'string' },
        scopes: { type: 'string' },
        rate: { type: 'string' },
        concurrent: { type: 'string' },
        'image-steps': { type: 'string' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const { values: v, positionals } = parsed;
  if (v.help) return { kind: 'help' };
  switch (command) {
    case 'create': {
      if (!v.name) throw new UsageError('create: --name NAME is required');
      let scopes: Scope[];
      try {
        scopes = v.scopes === undefined ? [...DEFAULT_SCOPES] : checkScopes(v.scopes.split(',').map((s) => s.trim()).filter(Boolean));
      } catch (e) {
        throw new UsageError(`--${(e as Error).message}`);
      }
      const limits: Partial<KeyLimits> = {};
      const rate = count('rate', v.rate);
      const concurrent = count('concurrent', v.concurrent);
      const steps = count('image-steps', v['image-steps']);
      if (rate !== undefined) limits.requestsPerMinute = rate;
      if (concurrent !== undefined) limits.concurrentJobs = concurrent;
      if (steps !== undefined) limits.imageStepsPerMinute = steps;
      return { kind: 'create', name: v.name, scopes, limits };
    }
    case 'list':
      return { kind: 'list', json: v.json ?? false };
    case 'revoke':
      if (positionals.length !== 1) throw new UsageError('revoke: give one key id or name (see `npm run keys -- list`)');
      return { kind: 'revoke', key: positionals[0]! };
    default:
      throw new UsageError(`unknown command ${JSON.stringify(command)}: create, list or revoke`);
  }
}

function row(r: ApiKeyRecord): string {
  const l = r.limits;
  return [r.id, r.name, r.scopes.join(','), `${l.requestsPerMinute}/min ${l.concurrentJobs} jobs ${l.imageStepsPerMinute} steps/min`, r.createdAt, r.revokedAt ? `revoked ${r.revokedAt}` : 'live'].join('\t');
}

/** Runs a parsed command; every line of output goes to `out`. */
export async function runCommand(cmd: Command, store: KeyStore, out: (line: string) => void): Promise<void> {
  switch (cmd.kind) {
    case 'help':
      out(USAGE);
      return;
    case 'create': {
      const { key, record } = await store.create(cmd.name, cmd.scopes, cmd.limits);
      out(`created key ${record.id} "${record.name}" (scopes ${record.scopes.join(', ')}; ${record.limits.requestsPerMinute} requests/min, ${record.limits.concurrentJobs} concurrent jobs, ${record.limits.imageStepsPerMinute} image-steps/min)`);
      out('store it now: it is not shown again. Send it as `Authorization: Bearer <key>`:');
      out(key);
      return;
    }
    case 'list': {
      const all = await store.list();
      // the hash stays in the store: nothing a person needs, and one less thing to leak
      if (cmd.json) return out(JSON.stringify(all.map((r) => Object.fromEntries(Object.entries(r).filter(([k]) => k !== 'sha256'))), null, 2));
      out(['id', 'name', 'scopes', 'limits', 'created', 'state'].join('\t'));
      for (const r of all) out(row(r));
      return;
    }
    case 'revoke': {
      const r = await store.revoke(cmd.key);
      out(`revoked key ${r.id} "${r.name}" at ${r.revokedAt}`);
      return;
    }
  }
}
