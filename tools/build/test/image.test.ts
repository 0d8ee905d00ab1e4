/**
 * The production image, as far as it can be checked without Docker: `npm run build` into a temporary app folder
 * laid out as the image's /app (dist/ with the bundles, dist/package.json, dist/package-lock.json), a
 * dist/node_modules holding exactly what `npm ci --omit=dev` installs from that lock (hard links into the
 * workspace's node_modules, nothing else: a package the lock forgot is missing there, and Node cannot find the
 * workspace's own node_modules from the temporary folder), then the five processes started by
 * deploy/entrypoint.sh with NODE_ENV=production and a clean environment, probed by deploy/healthcheck.mjs, and a
 * real job through the gateway.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, linkSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, realpathSync, rmSync, symlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNatsServer, type NatsServer } from '@diffusevae/testing';
import { buildRuntime, type BuildResult } from '../src/build.js';
import type { Lockfile } from '../src/runtime.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const ENTRYPOINT = path.join(ROOT, 'deploy', 'entrypoint.sh');
const HEALTHCHECK = path.join(ROOT, 'deploy', 'healthcheck.mjs');
const MODEL_DIR = process.env.MODEL_DIR || path.join(ROOT, 'models', 'fmnist');
// the processes (services/playground is pages, built by Vite into dist/playground by main.ts, not a bundle)
const SERVICES = readdirSync(path.join(ROOT, 'services'), { withFileTypes: true })
  .filter((d) => d.isDirectory() && existsSync(path.join(ROOT, 'services', d.name, 'src', 'main.ts')))
  .map((d) => d.name)
  .sort();
const readJson = <T>(file: string) => JSON.parse(readFileSync(file, 'utf8')) as T;

/** Copies a folder as hard links (a copy where links cannot cross file systems), leaving out `skip` at its top. */
function linkTree(from: string, to: string, skip?: string): void {
  mkdirSync(to, { recursive: true });
  for (const d of readdirSync(from, { withFileTypes: true })) {
    if (d.name === skip) continue;
    const src = path.join(from, d.name);
    const dst = path.join(to, d.name);
    if (d.isSymbolicLink()) symlinkSync(readlinkSync(src), dst);
    else if (d.isDirectory()) linkTree(src, dst);
    else {
      try {
        linkSync(src, dst);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EXDEV') throw e;
        copyFileSync(src, dst);
      }
    }
  }
}

/**
 * dist/node_modules as `npm ci --omit=dev` lays it out from dist/package-lock.json, from the packages the workspace
 * has installed: each package of the lock at its path, without what else the workspace put under it. Optional
 * packages the workspace lacks are another platform's. Returns the number of packages.
 */
function installFromWorkspace(dist: string): number {
  const lock = readJson<Lockfile>(path.join(dist, 'package-lock.json'));
  let n = 0;
  for (const [key, entry] of Object.entries(lock.packages)) {
    if (key === '') continue;
    const src = path.join(ROOT, key);
    if (!existsSync(src)) {
      if (entry.optional) continue;
      throw new Error(`${key}: in dist/package-lock.json, not installed in the workspace`);
    }
    linkTree(realpathSync(src), path.join(dist, key), 'node_modules');
    n++;
  }
  return n;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return port;
}

interface Proc {
  name: string;
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

/** `sh deploy/entrypoint.sh [args]`, as the image's ENTRYPOINT runs, in the app folder with only `env`. */
function entrypoint(name: string, args: string[], env: Record<string, string>): Proc {
  const child = spawn('sh', [ENTRYPOINT, ...args], { cwd: env.APP_DIR, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (out += b.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return { name, child, output: () => out, exited };
}

async function waitFor(p: Proc, pattern: RegExp, timeoutMs = 120_000): Promise<RegExpMatchArray> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const m = p.output().match(pattern);
    if (m) return m;
    if (p.child.exitCode !== null || p.child.signalCode !== null) throw new Error(`${p.name} exited (${p.child.exitCode ?? p.child.signalCode}) before ${pattern}:\n${p.output()}`);
    if (Date.now() > deadline) throw new Error(`${p.name}: no ${pattern} within ${timeoutMs} ms:\n${p.output()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** SIGTERM, SIGKILL after `graceMs`; the exit code (null when killed). */
async function stop(p: Proc, graceMs = 20_000): Promise<number | null> {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return p.child.exitCode;
  const kill = setTimeout(() => p.child.kill('SIGKILL'), graceMs);
  p.child.kill('SIGTERM');
  const code = await p.exited;
  clearTimeout(kill);
  return code;
}

/** deploy/healthcheck.mjs with a container's environment: its exit code and what it printed. */
async function healthcheck(env: Record<string, string>, probe?: string): Promise<{ code: number | null; out: string }> {
  const child = spawn(process.execPath, [HEALTHCHECK, ...(probe ? [probe] : [])], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr.on('data', (b: Buffer) => (out += b.toString()));
  const code = await new Promise<number | null>((r) => child.once('exit', r));
  return { code, out };
}

/** width and height from a PNG's IHDR, after checking its signature */
function pngSize(png: Buffer): [number, number] {
  expect(png.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
  expect(png.subarray(12, 16).toString('latin1')).toBe('IHDR');
  return [png.readUInt32BE(16), png.readUInt32BE(20)];
}

let app: string;
let dist: string;
let built: BuildResult;
let installed: number;
const rootLock = readJson<Lockfile>(path.join(ROOT, 'package-lock.json'));

beforeAll(async () => {
  app = mkdtempSync(path.join(tmpdir(), 'diffusevae-image-'));
  dist = path.join(app, 'dist');
  built = await buildRuntime({ root: ROOT, outDir: dist });
  installed = installFromWorkspace(dist);
  console.log(
    `build: ${(built.ms / 1000).toFixed(1)} s; ${built.bundles.map((b) => `${b.name} ${(b.bytes / 1024).toFixed(0)} KiB`).join(', ')}; ` +
      `${Object.keys(built.dependencies).length} packages imported, ${installed} installed of ${built.lockedPackages} locked`,
  );
});

afterAll(() => {
  if (app) rmSync(app, { recursive: true, force: true });
});

describe('npm run build', () => {
  it('bundles every folder of services/ and the keys CLI into dist/<name>/main.mjs with a source map', () => {
    expect(built.bundles.map((b) => b.name)).toEqual([...SERVICES, 'keys']);
    for (const b of built.bundles) {
      expect(b.file).toBe(path.join(dist, b.name, 'main.mjs'));
      expect(existsSync(`${b.file}.map`), `${b.name}/main.mjs.map`).toBe(true);
      // our own packages are inside: no import of @diffusevae/* is left, and no TypeScript file is loaded
      expect(readFileSync(b.file, 'utf8')).not.toMatch(/from\s*["']@diffusevae\//);
      expect(b.packages.filter((p) => p.startsWith('@diffusevae/'))).toEqual([]);
    }
    expect(built.bundles.find((b) => b.name === 'refiner')!.packages).toContain('onnxruntime-node');
    expect(built.bundles.find((b) => b.name === 'gateway')!.packages).toEqual(expect.arrayContaining(['@apollo/server', 'graphql', 'sharp']));
  });

  it("pins every package a bundle imports in dist/package.json, at the version of the workspace's lock", () => {
    const pkg = readJson<{ type: string; dependencies: Record<string, string>; devDependencies?: unknown }>(path.join(dist, 'package.json'));
    expect(pkg.type).toBe('module');
    expect(pkg.devDependencies).toBeUndefined();
    const imported = [...new Set(built.bundles.flatMap((b) => b.packages))].sort();
    expect(Object.keys(pkg.dependencies).sort()).toEqual(imported);
    for (const [name, version] of Object.entries(pkg.dependencies)) expect(version, name).toBe(rootLock.packages[`node_modules/${name}`]?.version);
    // the lock for npm ci: the same root, and every package as the workspace's lock has it
    const lock = readJson<Lockfile>(path.join(dist, 'package-lock.json'));
    expect(lock.packages['']!.dependencies).toEqual(pkg.dependencies);
    for (const [key, entry] of Object.entries(lock.packages)) {
      if (key === '') continue;
      expect(entry.version, key).toBe(rootLock.packages[key]?.version);
      expect(entry.integrity, key).toBe(rootLock.packages[key]?.integrity);
      expect(entry.dev, key).toBeUndefined();
    }
  });

  it('imports no package that only development dependencies bring', () => {
    const manifests = [path.join(ROOT, 'package.json'), ...['libs', 'services', 'tools'].flatMap((dir) =>
      readdirSync(path.join(ROOT, dir), { withFileTypes: true })
        .filter((d) => d.isDirectory() && existsSync(path.join(ROOT, dir, d.name, 'package.json')))
        .map((d) => path.join(ROOT, dir, d.name, 'package.json')),
    )].map((f) => readJson<{ dependencies?: Record<string, string>; devDependencies?: Record<string, string> }>(f));
    const prod = new Set(manifests.flatMap((m) => Object.keys(m.dependencies ?? {})));
    const devOnly = new Set(manifests.flatMap((m) => Object.keys(m.devDependencies ?? {})).filter((n) => !prod.has(n)));
    for (const name of Object.keys(built.dependencies)) {
      expect(devOnly.has(name), `${name} is only a devDependency in the workspace`).toBe(false);
      expect(rootLock.packages[`node_modules/${name}`]?.dev, `${name} is "dev" in package-lock.json`).toBeUndefined();
    }
  });

  it('installs only production packages: tsx, esbuild, vitest and typescript are out of reach of the bundles', () => {
    const req = createRequire(path.join(dist, 'gateway', 'main.mjs'));
    for (const dev of ['tsx', 'esbuild', 'vitest', 'typescript']) expect(() => req.resolve(dev), dev).toThrow();
    // onnxruntime-node (native) resolves inside dist/node_modules, not the workspace's
    expect(realpathSync(req.resolve('onnxruntime-node'))).toContain(path.join(dist, 'node_modules', 'onnxruntime-node'));
  });
});

describe('the bundles, run as the image runs them', () => {
  let nats: NatsServer;
  const procs: Record<string, Proc> = {};
  const ports: Record<string, number> = {};
  let key: string;
  let url: string;
  /** a container's environment: nothing from this process but PATH and HOME */
  const envOf = (service?: string): Record<string, string> => ({
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? app,
    APP_DIR: app,
    NODE_ENV: 'production',
    NATS_URL: nats.url,
    MODEL_DIR,
    ORT_THREADS: '1',
    ...(service === 'gateway' ? { PORT: String(ports.gateway), HOST: '127.0.0.1' } : {}),
    ...(service && service !== 'gateway' ? { METRICS_PORT: String(ports[service]), METRICS_HOST: '127.0.0.1' } : {}),
    ...(service ? { SERVICE: service } : {}),
  });

  beforeAll(async () => {
    nats = await startNatsServer({ jetstream: true });
    for (const s of SERVICES) ports[s] = await freePort();
    // the first API key, made with the image's CLI (`docker compose run --rm gateway keys create --name …`)
    const keys = entrypoint('keys', ['keys', 'create', '--name', 'image-test'], envOf());
    const code = await keys.exited;
    expect(code, keys.output()).toBe(0);
    key = keys.output().match(/^(dvae_\S+)$/m)![1]!;
    const backends = SERVICES.filter((s) => s !== 'gateway');
    for (const s of backends) procs[s] = entrypoint(s, [], envOf(s));
    await Promise.all(backends.map((s) => waitFor(procs[s]!, /ready on \S+/)));
    procs.gateway = entrypoint('gateway', [], envOf('gateway'));
    url = (await waitFor(procs.gateway, /ready on (http\S+)/))[1]!;
  });

  afterAll(async () => {
    await Promise.all(Object.values(procs).map((p) => stop(p)));
    await nats?.stop();
  });

  it('every process answers the image HEALTHCHECK (/livez) and /readyz on its port', async () => {
    for (const s of SERVICES) {
      const live = await healthcheck(envOf(s));
      expect(live, s).toEqual({ code: 0, out: '' });
      const ready = await healthcheck(envOf(s), '/readyz');
      expect(ready, s).toEqual({ code: 0, out: '' });
    }
    const res = await fetch(new URL('/readyz', url));
    expect(res.status).toBe(200);
    // a probe of the wrong port fails, and says so
    const wrong = await healthcheck({ ...envOf('refiner'), METRICS_PORT: String(await freePort()) });
    expect(wrong.code).toBe(1);
    expect(wrong.out).toMatch(/healthcheck: http:\/\/127\.0\.0\.1:\d+\/livez: /);
  });

  it('a generate job (1 image, DDIM 5 steps) through the gateway returns a PNG', async () => {
    const res = await fetch(new URL('/graphql', url), {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
      body: JSON.stringify({
        query: 'mutation($input: GenerateInput!) { generate(input: $input) { status images { width height png } } }',
        variables: { input: { count: 1, seed: 7, sampler: { kind: 'DDIM', steps: 5 } } },
      }),
    });
    const body = (await res.json()) as { data?: { generate: { status: string; images: Array<{ width: number; height: number; png: string }> } }; errors?: unknown };
    expect(body.errors, JSON.stringify(body.errors)).toBeUndefined();
    expect(body.data!.generate.status).toBe('SUCCEEDED');
    const [image] = body.data!.generate.images;
    expect(pngSize(Buffer.from(image!.png, 'base64'))).toEqual([image!.width, image!.height]);
  });

  it('runs in production mode: no introspection, and no request without a key', async () => {
    const post = (headers: Record<string, string>) =>
      fetch(new URL('/graphql', url), { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ query: '{ __schema { queryType { name } } }' }) });
    expect((await post({})).status).toBe(401);
    const introspection = (await (await post({ authorization: `Bearer ${key}` })).json()) as { errors?: unknown[] };
    expect(introspection.errors?.length).toBeGreaterThan(0);
  });

  it('SIGTERM: every process drains and exits 0', async () => {
    const gateway = await stop(procs.gateway!);
    const others = await Promise.all(SERVICES.filter((s) => s !== 'gateway').map((s) => stop(procs[s]!)));
    expect([gateway, ...others], Object.values(procs).map((p) => `${p.name}:\n${p.output().slice(-2000)}`).join('\n')).toEqual(SERVICES.map(() => 0));
  });
});
