/**
 * The local platform's state, in `.diffusevae/` under the repository root (or DIFFUSEVAE_STATE_DIR), for `npm start`
 * and the operator tools on the same machine: `nats.json`, the NATS server the launcher runs and its admin identity
 * (removed on its way out); `dev-key`, the development API key it made; `jetstream/`, that server's store (jobs,
 * keys, checkpoints: they outlive a restart of `npm start`). The files are their owner's only.
 */
import { chmodSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/** The state folder's name under the repository root (git-ignored). */
export const STATE_DIR = '.diffusevae';

/** DIFFUSEVAE_STATE_DIR (resolved), else `.diffusevae` under `root`. */
export function stateDir(root: string, env: NodeJS.ProcessEnv = process.env): string {
  const dir = env.DIFFUSEVAE_STATE_DIR?.trim();
  return dir ? path.resolve(dir) : path.join(root, STATE_DIR);
}

/** Writes a file only its owner can read (created 0600, and chmod'ed in case it already existed). */
export function writePrivateFile(file: string, text: string): void {
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  writeFileSync(file, text, { mode: 0o600 });
  chmodSync(file, 0o600);
}

export interface LocalNats {
  url: string;
  user: string;
  pass: string;
}

/** `nats.json` in the state folder: the running launcher's NATS server and its admin identity. */
export function localNatsFile(dir: string): string {
  return path.join(dir, 'nats.json');
}

export function writeLocalNats(dir: string, nats: LocalNats): void {
  writePrivateFile(localNatsFile(dir), `${JSON.stringify(nats, null, 2)}\n`);
}

/**
 * The NATS server a launcher started with this state folder (`npm start`), with the admin identity's credentials;
 * undefined when none runs (no state file, or not a readable one).
 */
export function readLocalNats(dir: string): LocalNats | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(localNatsFile(dir), 'utf8'));
  } catch {
    return undefined;
  }
  const r = raw as Partial<Record<keyof LocalNats, unknown>> | null;
  if (!r || typeof r.url !== 'string' || typeof r.user !== 'string' || typeof r.pass !== 'string') return undefined;
  return { url: r.url, user: r.user, pass: r.pass };
}

/** Removes the state file if it is still this launcher's (another launcher started since may have replaced it). */
export function removeLocalNats(dir: string, mine: LocalNats): void {
  const now = readLocalNats(dir);
  if (now && now.url === mine.url && now.pass === mine.pass) rmSync(localNatsFile(dir), { force: true });
}

/** `dev-key` in the state folder: the development API key `npm start` created (see ensureDevKey in @diffusevae/auth). */
export function devKeyFile(dir: string): string {
  return path.join(dir, 'dev-key');
}

/** The development key saved here, or undefined (no file, or an empty one). */
export function readDevKey(dir: string): string | undefined {
  try {
    return readFileSync(devKeyFile(dir), 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

export function writeDevKey(dir: string, key: string): void {
  writePrivateFile(devKeyFile(dir), `${key}\n`);
}
