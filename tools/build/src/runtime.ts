/**
 * The pure half of `npm run build`: which npm packages the bundles import (read from esbuild's metafile), and the
 * runtime's package.json and package-lock.json, cut out of the workspace's package-lock.json so that
 * `npm ci --omit=dev` in dist/ installs exactly the versions the tests ran with, and nothing else.
 */
import { isBuiltin } from 'node:module';

/** Our own packages: bundled into every process, never installed. */
export const WORKSPACE_SCOPE = '@diffusevae/';

export class BuildError extends Error {
  override name = 'BuildError';
}

/** The parts of esbuild's Metafile read here. */
export interface MetafileLike {
  inputs: Record<string, { imports: Array<{ path: string; external?: boolean }> }>;
  outputs: Record<string, { imports: Array<{ path: string; external?: boolean }>; inputs: Record<string, unknown>; entryPoint?: string }>;
}

/** One package of a package-lock.json v3 `packages` map (what is read or written here; the rest is carried as is). */
export interface LockEntry {
  name?: string;
  version?: string;
  link?: boolean;
  resolved?: string;
  dev?: boolean;
  optional?: boolean;
  devOptional?: boolean;
  peer?: boolean;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
  devDependencies?: Record<string, string>;
  engines?: Record<string, string>;
  [field: string]: unknown;
}

export interface Lockfile {
  name?: string;
  version?: string;
  lockfileVersion: number;
  requires?: boolean;
  packages: Record<string, LockEntry>;
}

/**
 * The npm package an import specifier names (`@apollo/server/errors` → `@apollo/server`, `graphql` → `graphql`);
 * undefined for Node's built-in modules and for relative or absolute paths.
 */
export function packageNameOf(specifier: string): string | undefined {
  if (specifier.startsWith('.') || specifier.startsWith('/') || specifier.startsWith('node:') || isBuiltin(specifier)) return undefined;
  const parts = specifier.split('/');
  if (specifier.startsWith('@')) return parts.length >= 2 && parts[1] ? `${parts[0]}/${parts[1]}` : undefined;
  return parts[0] || undefined;
}

export interface ExternalPackage {
  /** the package name */
  name: string;
  /** the bundles (their output paths) that import it */
  bundles: string[];
  /** the source files that import it (the inputs of those bundles, relative to the build's working folder) */
  importers: string[];
}

/**
 * Every npm package the bundles import at run time: the external imports that esbuild left in the outputs, with the
 * bundles that keep them and the source files that wrote them. Built-in modules are not packages and are left out.
 */
export function externalsOf(metafile: MetafileLike): ExternalPackage[] {
  const found = new Map<string, { bundles: Set<string>; importers: Set<string> }>();
  for (const [output, out] of Object.entries(metafile.outputs)) {
    const names = new Set(out.imports.filter((i) => i.external).map((i) => packageNameOf(i.path)).filter((n): n is string => n !== undefined));
    for (const name of names) {
      const e = found.get(name) ?? { bundles: new Set<string>(), importers: new Set<string>() };
      found.set(name, e);
      e.bundles.add(output);
      for (const input of Object.keys(out.inputs)) {
        if (metafile.inputs[input]?.imports.some((i) => i.external && packageNameOf(i.path) === name)) e.importers.add(input);
      }
    }
  }
  return [...found.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, e]) => ({ name, bundles: [...e.bundles].sort(), importers: [...e.importers].sort() }));
}

/** The packages a bundle imports, by output path. */
export function bundleExternals(metafile: MetafileLike): Record<string, string[]> {
  return Object.fromEntries(
    Object.entries(metafile.outputs)
      .filter(([, out]) => out.entryPoint !== undefined)
      .map(([output, out]) => [output, [...new Set(out.imports.filter((i) => i.external).map((i) => packageNameOf(i.path)).filter((n): n is string => n !== undefined))].sort()]),
  );
}

/**
 * The lock's keys that Node would look in, nearest first, for a package required from the one at `from`:
 * `node_modules/a/node_modules/b` → itself, `node_modules/a`, the root (''); a workspace (`libs/x`) → itself, the root.
 */
export function lookupChain(from: string): string[] {
  const chain: string[] = [];
  let key = from;
  for (;;) {
    chain.push(key);
    if (key === '') return chain;
    const i = key.lastIndexOf('node_modules/');
    key = i <= 0 ? '' : key.slice(0, i - 1);
  }
}

/** Where `name`, required from the package at lock key `from`, is installed: its lock key, or undefined. */
export function resolveInLock(packages: Lockfile['packages'], name: string, from: string): string | undefined {
  for (const dir of lookupChain(from)) {
    const key = dir === '' ? `node_modules/${name}` : `${dir}/node_modules/${name}`;
    if (packages[key]) return key;
  }
  return undefined;
}

/** The workspace package (its lock key, e.g. `libs/service-kit`) a source file belongs to, or '' for the root. */
export function workspaceOf(packages: Lockfile['packages'], file: string): string {
  let best = '';
  for (const key of Object.keys(packages)) {
    if (key === '' || key.split('/').includes('node_modules') || packages[key]!.link) continue;
    if (file.startsWith(`${key}/`) && key.length > best.length) best = key;
  }
  return best;
}

/**
 * The packages installed with those at `roots` (lock keys): their dependencies, optional dependencies and required
 * peer dependencies, through the whole tree, each at the key it has in the workspace's lock (so that every
 * package finds its dependencies where it found them there). Each entry is copied without the workspace's
 * dev / devOptional / peer / optional flags; `optional: true` marks one reached only through an optional
 * dependency (another platform's binaries: npm skips those that do not fit). A required dependency missing from
 * the lock is an error.
 */
export function pruneLock(packages: Lockfile['packages'], roots: string[]): Record<string, LockEntry> {
  const required = new Set<string>();
  const reached = new Set<string>();
  const queue: Array<[string, boolean]> = roots.map((k) => [k, true]);
  while (queue.length > 0) {
    const [key, isRequired] = queue.shift()!;
    if (reached.has(key) && (!isRequired || required.has(key))) continue;
    const entry = packages[key];
    if (!entry) throw new BuildError(`${key}: not in package-lock.json`);
    if (entry.link || !key.startsWith('node_modules/')) throw new BuildError(`${key}: a workspace package, which the bundles should contain, is needed at run time`);
    reached.add(key);
    if (isRequired) required.add(key);
    const optionalPeers = new Set(Object.entries(entry.peerDependenciesMeta ?? {}).filter(([, m]) => m.optional).map(([n]) => n));
    const edges: Array<[string, boolean]> = [
      ...Object.keys(entry.dependencies ?? {}).map((n): [string, boolean] => [n, true]),
      ...Object.keys(entry.optionalDependencies ?? {}).map((n): [string, boolean] => [n, false]),
      // npm installs required peers itself; optional ones only when something else asks for them
      ...Object.keys(entry.peerDependencies ?? {})
        .filter((n) => !optionalPeers.has(n))
        .map((n): [string, boolean] => [n, true]),
    ];
    for (const [name, edgeRequired] of edges) {
      const target = resolveInLock(packages, name, key);
      if (!target) {
        if (edgeRequired) throw new BuildError(`${key} needs ${name}, which package-lock.json does not have`);
        continue;
      }
      queue.push([target, isRequired && edgeRequired]);
    }
  }
  const out: Record<string, LockEntry> = {};
  for (const key of [...reached].sort()) {
    // eslint-disable-next-line @typescript-eslint/no-unused-vars
    const { dev, devOptional, optional, peer, ...rest } = packages[key]!;
    out[key] = required.has(key) ? rest : { ...rest, optional: true };
  }
  return out;
}

export interface RuntimeManifest {
  /** dist/package.json: the packages the bundles import, at the exact versions of the workspace's lock */
  packageJson: { name: string; version: string; private: true; type: 'module'; engines?: Record<string, string>; dependencies: Record<string, string> };
  /** dist/package-lock.json: those and everything they need, cut out of the workspace's lock */
  packageLock: Lockfile;
  /** an imported package that its importer's package.json does not list in `dependencies` (it works through another's) */
  warnings: string[];
}

/**
 * dist/package.json and dist/package-lock.json for the packages the bundles import. Each package is looked up in
 * the workspace's lock from the workspace package that imports it, as Node would; it must be one version across
 * importers, installed at the top of node_modules (where dist/ will have it), and a production package there (a
 * package only devDependencies bring is not in an `npm ci --omit=dev`).
 */
export function runtimeManifest(opts: { lock: Lockfile; externals: ExternalPackage[]; name?: string }): RuntimeManifest {
  const { lock, externals } = opts;
  const packages = lock.packages;
  const root = packages[''] ?? {};
  const name = opts.name ?? 'diffusevae-runtime';
  const dependencies: Record<string, string> = {};
  const warnings: string[] = [];
  const problems: string[] = [];
  for (const ext of externals) {
    if (ext.name.startsWith(WORKSPACE_SCOPE)) {
      problems.push(`${ext.name}: a workspace package left external (imported by ${ext.importers.join(', ')})`);
      continue;
    }
    const keys = new Set<string>();
    for (const file of ext.importers.length > 0 ? ext.importers : ['']) {
      const ws = workspaceOf(packages, file);
      const key = resolveInLock(packages, ext.name, ws);
      if (!key) {
        problems.push(`${ext.name}: imported by ${file} but not in package-lock.json (add it to ${ws || 'the root'} package.json dependencies)`);
        continue;
      }
      keys.add(key);
      const declared = packages[ws]?.dependencies?.[ext.name] !== undefined;
      if (!declared && file !== '') {
        const dev = packages[ws]?.devDependencies?.[ext.name] !== undefined;
        warnings.push(`${ext.name}: imported by ${file}, but ${ws || 'the root'}/package.json ${dev ? 'has it only in devDependencies' : 'does not list it'}`);
      }
    }
    if (keys.size === 0) continue;
    const versions = new Set([...keys].map((k) => packages[k]!.version));
    if (keys.size > 1 || versions.size > 1) {
      problems.push(`${ext.name}: the importers find different copies (${[...keys].map((k) => `${k}@${packages[k]!.version}`).join(', ')}); dist/ can hold one`);
      continue;
    }
    const [key] = keys;
    const entry = packages[key!]!;
    if (key !== `node_modules/${ext.name}`) problems.push(`${ext.name}: installed at ${key}, not at the top of node_modules (where dist/ will have it)`);
    if (entry.dev) problems.push(`${ext.name}: only development dependencies bring it (${key} is "dev" in package-lock.json); list it in the importer's dependencies`);
    if (!entry.version) problems.push(`${ext.name}: ${key} has no version in package-lock.json`);
    else dependencies[ext.name] = entry.version;
  }
  if (problems.length > 0) throw new BuildError(`the bundles' npm packages:\n  ${problems.join('\n  ')}`);
  const version = root.version ?? '0.0.0';
  const engines = root.engines;
  const lockPackages = pruneLock(packages, Object.keys(dependencies).map((n) => `node_modules/${n}`));
  return {
    packageJson: { name, version, private: true, type: 'module', ...(engines ? { engines } : {}), dependencies },
    packageLock: {
      name,
      version,
      lockfileVersion: 3,
      requires: true,
      packages: { '': { name, version, ...(engines ? { engines } : {}), dependencies }, ...lockPackages },
    },
    warnings,
  };
}
