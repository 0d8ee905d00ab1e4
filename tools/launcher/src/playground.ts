/**
 * The playground's build (services/playground/dist), made when it is missing or older than its sources, so that
 * `npm start` serves the page without a separate step. A digest of the sources is kept in the build
 * (`.source-digest`); a build goes to a folder of its own and then takes dist's place, so two starts at once (or a
 * test run beside `npm start`) never serve half a build.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** What the build reads, relative to the playground's folder. */
const SOURCES = ['index.html', 'graphql.html', 'vite.config.ts', 'package.json', 'src'];
export const DIGEST_FILE = '.source-digest';

function files(dir: string, rel: string): string[] {
  const full = path.join(dir, rel);
  if (!existsSync(full)) return [];
  if (!statSync(full).isDirectory()) return [rel];
  return readdirSync(full)
    .sort()
    .filter((n) => !n.endsWith('.test.ts'))
    .flatMap((n) => files(dir, path.join(rel, n)));
}

/** sha256 over the sources' names and bytes (and the lockfile: a new dependency version is a new build). */
export function sourceDigest(playgroundDir: string, lockfile?: string): string {
  const h = createHash('sha256');
  for (const f of SOURCES.flatMap((s) => files(playgroundDir, s))) h.update(f).update('\0').update(readFileSync(path.join(playgroundDir, f))).update('\0');
  if (lockfile && existsSync(lockfile)) h.update(readFileSync(lockfile));
  return h.digest('hex');
}

export function isBuilt(playgroundDir: string, digest: string): boolean {
  const stamp = path.join(playgroundDir, 'dist', DIGEST_FILE);
  return existsSync(path.join(playgroundDir, 'dist', 'index.html')) && existsSync(stamp) && readFileSync(stamp, 'utf8').trim() === digest;
}

/** Builds the pages unless the build is current; says what it did. */
export async function ensurePlayground(root: string, say: (line: string) => void = () => {}): Promise<'current' | 'built'> {
  const dir = path.join(root, 'services/playground');
  const digest = sourceDigest(dir, path.join(root, 'package-lock.json'));
  if (isBuilt(dir, digest)) return 'current';
  say('building the playground (services/playground → dist, once per change of its sources)');
  const started = Date.now();
  const out = path.join(dir, `dist.build-${process.pid}`);
  try {
    await run(path.join(root, 'node_modules/.bin/vite'), ['build', dir, '--outDir', out, '--emptyOutDir', '--logLevel', 'warn'], { cwd: root, maxBuffer: 16 << 20 });
    writeFileSync(path.join(out, DIGEST_FILE), `${digest}\n`);
    const dist = path.join(dir, 'dist');
    const old = path.join(dir, `dist.old-${process.pid}`);
    try {
      if (existsSync(dist)) renameSync(dist, old);
      renameSync(out, dist);
    } catch (e) {
      // another start built the same sources at the same moment: its build is as good as ours
      if (!isBuilt(dir, digest)) throw e;
    }
    rmSync(old, { recursive: true, force: true });
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
  say(`built the playground in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return 'built';
}
