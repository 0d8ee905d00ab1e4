/**
 * `npm run build`, the wiring: esbuild bundles every process into <out>/<name>/main.mjs (ESM for Node 20, with a
 * source map; our @diffusevae/* packages inside, every npm package left as an import), then <out>/package.json and
 * <out>/package-lock.json list the npm packages those imports need (runtime.ts). `npm ci --omit=dev` in <out> gives
 * the bundles everything they need, and nothing else: the production image is <out>, that install and the models.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { build, type Plugin } from 'esbuild';
import { BuildError, bundleExternals, externalsOf, runtimeManifest, WORKSPACE_SCOPE, type Lockfile } from './runtime.js';

export interface Entry {
  /** the bundle's folder: <out>/<name>/main.mjs */
  name: string;
  /** the entry's source, relative to the repository root */
  source: string;
}

/** Run from the image as well: the API-keys CLI (an operator's first key, `keys create`). */
export const TOOL_ENTRIES: readonly Entry[] = [{ name: 'keys', source: 'tools/keys/src/main.ts' }];

/** Every process: each folder of services/ that has src/main.ts (by its folder's name), then TOOL_ENTRIES. */
export function entriesOf(root: string): Entry[] {
  const services = readdirSync(path.join(root, 'services'), { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(path.join(root, 'services', d.name, 'src', 'main.ts')))
    .map((d) => ({ name: d.name, source: `services/${d.name}/src/main.ts` }))
    .sort((a, b) => (a.name < b.name ? -1 : 1));
  const entries = [...services, ...TOOL_ENTRIES];
  const names = entries.map((e) => e.name);
  const twice = names.find((n, i) => names.indexOf(n) !== i);
  if (twice) throw new BuildError(`two entries named ${twice}: each bundle needs its own folder`);
  return entries;
}

/**
 * Bare imports (npm packages, Node's built-ins) stay imports, resolved at run time from <out>/node_modules;
 * @diffusevae/* resolve through the workspace's links to their TypeScript sources and are bundled.
 */
export function externalPackages(scope = WORKSPACE_SCOPE): Plugin {
  return {
    name: 'external-npm-packages',
    setup(b) {
      b.onResolve({ filter: /^[^./]/ }, (args) => {
        if (args.kind === 'entry-point' || args.path.startsWith(scope) || path.isAbsolute(args.path)) return undefined;
        return { path: args.path, external: true };
      });
    },
  };
}

export interface BuiltBundle {
  name: string;
  /** the bundle's absolute path */
  file: string;
  bytes: number;
  /** the npm packages it imports */
  packages: string[];
}

export interface BuildResult {
  outDir: string;
  bundles: BuiltBundle[];
  /** <out>/package.json's dependencies: name → exact version */
  dependencies: Record<string, string>;
  /** packages in <out>/package-lock.json (what `npm ci` there installs, other platforms' optional ones included) */
  lockedPackages: number;
  /** imports that work only through another workspace package's dependencies (see runtimeManifest) */
  warnings: string[];
  ms: number;
}

export async function buildRuntime(opts: { root: string; outDir: string }): Promise<BuildResult> {
  const started = performance.now();
  const root = path.resolve(opts.root);
  const outDir = path.resolve(opts.outDir);
  const entries = entriesOf(root);
  mkdirSync(outDir, { recursive: true });
  // an earlier build's bundles (a service since removed must not linger); anything else there (node_modules) stays
  for (const d of readdirSync(outDir, { withFileTypes: true })) {
    if (d.isDirectory() && existsSync(path.join(outDir, d.name, 'main.mjs'))) rmSync(path.join(outDir, d.name), { recursive: true, force: true });
  }
  const result = await build({
    absWorkingDir: root,
    entryPoints: Object.fromEntries(entries.map((e) => [`${e.name}/main`, path.join(root, e.source)])),
    outdir: outDir,
    outExtension: { '.js': '.mjs' },
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    sourcemap: 'linked',
    sourcesContent: false,
    // class and function names as written (error names, logs), whatever bundling renames
    keepNames: true,
    metafile: true,
    logLevel: 'warning',
    plugins: [externalPackages()],
  }).catch((e: unknown) => {
    // esbuild has printed its messages (logLevel)
    throw new BuildError(`esbuild failed: ${(e as Error).message.split('\n')[0]}`);
  });
  const lock = JSON.parse(readFileSync(path.join(root, 'package-lock.json'), 'utf8')) as Lockfile;
  const manifest = runtimeManifest({ lock, externals: externalsOf(result.metafile) });
  writeFileSync(path.join(outDir, 'package.json'), `${JSON.stringify(manifest.packageJson, null, 2)}\n`);
  writeFileSync(path.join(outDir, 'package-lock.json'), `${JSON.stringify(manifest.packageLock, null, 2)}\n`);
  const perOutput = bundleExternals(result.metafile);
  const bundles = entries.map((e) => {
    const file = path.join(outDir, e.name, 'main.mjs');
    const output = Object.keys(perOutput).find((o) => path.resolve(root, o) === file);
    if (!output) throw new BuildError(`esbuild wrote no ${file}`);
    return { name: e.name, file, bytes: statSync(file).size, packages: perOutput[output]! };
  });
  return {
    outDir,
    bundles,
    dependencies: manifest.packageJson.dependencies,
    lockedPackages: Object.keys(manifest.packageLock.packages).length - 1,
    warnings: manifest.warnings,
    ms: performance.now() - started,
  };
}
