import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { entriesOf } from '../src/build.js';
import {
  BuildError,
  bundleExternals,
  externalsOf,
  lookupChain,
  packageNameOf,
  pruneLock,
  resolveInLock,
  runtimeManifest,
  workspaceOf,
  type Lockfile,
  type MetafileLike,
} from '../src/runtime.js';

describe('packageNameOf', () => {
  it.each([
    ['graphql', 'graphql'],
    ['graphql-ws/use/ws', 'graphql-ws'],
    ['@apollo/server', '@apollo/server'],
    ['@apollo/server/plugin/disabled', '@apollo/server'],
  ])('%s → %s', (spec, name) => expect(packageNameOf(spec)).toBe(name));

  it.each(['node:fs', 'fs', 'fs/promises', 'worker_threads', './x.js', '../y', '/abs/z', '@broken'])('%s is no package', (spec) => {
    expect(packageNameOf(spec)).toBeUndefined();
  });
});

/** two bundles over a shared lib; built-ins and subpaths mixed in */
const META: MetafileLike = {
  inputs: {
    'services/a/src/main.ts': { imports: [{ path: 'libs/k/src/index.ts' }, { path: 'node:fs', external: true }, { path: 'ws', external: true }] },
    'services/b/src/main.ts': { imports: [{ path: 'libs/k/src/index.ts' }, { path: '@apollo/server/errors', external: true }] },
    'libs/k/src/index.ts': { imports: [{ path: '@nats-io/kv', external: true }, { path: 'path', external: true }] },
  },
  outputs: {
    'dist/a/main.mjs': {
      entryPoint: 'services/a/src/main.ts',
      inputs: { 'services/a/src/main.ts': {}, 'libs/k/src/index.ts': {} },
      imports: [{ path: 'node:fs', external: true }, { path: 'ws', external: true }, { path: '@nats-io/kv', external: true }, { path: 'path', external: true }],
    },
    'dist/a/main.mjs.map': { inputs: {}, imports: [] },
    'dist/b/main.mjs': {
      entryPoint: 'services/b/src/main.ts',
      inputs: { 'services/b/src/main.ts': {}, 'libs/k/src/index.ts': {} },
      imports: [{ path: '@apollo/server/errors', external: true }, { path: '@nats-io/kv', external: true }],
    },
  },
};

describe('externalsOf, bundleExternals', () => {
  it('lists each npm package once, with the bundles that import it and the files that wrote the import', () => {
    expect(externalsOf(META)).toEqual([
      { name: '@apollo/server', bundles: ['dist/b/main.mjs'], importers: ['services/b/src/main.ts'] },
      { name: '@nats-io/kv', bundles: ['dist/a/main.mjs', 'dist/b/main.mjs'], importers: ['libs/k/src/index.ts'] },
      { name: 'ws', bundles: ['dist/a/main.mjs'], importers: ['services/a/src/main.ts'] },
    ]);
  });

  it('gives each bundle (not its source map) its packages', () => {
    expect(bundleExternals(META)).toEqual({ 'dist/a/main.mjs': ['@nats-io/kv', 'ws'], 'dist/b/main.mjs': ['@apollo/server', '@nats-io/kv'] });
  });
});

/**
 * A workspace's lock: libs/k imports kv (which needs nuid, hoisted, and an old `tslib` nested under it) and
 * `native`, whose platform binaries are optional; `peer-user` has a required and an optional peer; `vitest` is dev.
 */
function lock(): Lockfile {
  return {
    lockfileVersion: 3,
    requires: true,
    packages: {
      '': { name: 'ws-root', version: '1.2.3', engines: { node: '>=20.19' }, dependencies: { ws: '^8' }, devDependencies: { vitest: '^4' } },
      'libs/k': { name: '@x/k', version: '0.1.0', dependencies: { kv: '^3', native: '^1', 'peer-user': '^1' }, devDependencies: { vitest: '^4' } },
      'services/a': { name: '@x/a', version: '0.1.0', dependencies: { '@x/k': '*' } },
      'node_modules/@x/k': { resolved: 'libs/k', link: true },
      'node_modules/@x/a': { resolved: 'services/a', link: true },
      'node_modules/ws': { version: '8.23.0', integrity: 'sha512-ws' },
      'node_modules/kv': { version: '3.4.0', integrity: 'sha512-kv', dependencies: { nuid: '^3', tslib: '^1' } },
      'node_modules/kv/node_modules/tslib': { version: '1.14.1', integrity: 'sha512-tslib1' },
      'node_modules/tslib': { version: '2.8.1', integrity: 'sha512-tslib2', dev: true },
      'node_modules/nuid': { version: '3.0.0', integrity: 'sha512-nuid' },
      'node_modules/native': { version: '1.0.0', hasInstallScript: true, optionalDependencies: { 'native-linux-x64': '1.0.0', 'native-darwin-arm64': '1.0.0', 'native-gone': '1' } },
      'node_modules/native-linux-x64': { version: '1.0.0', optional: true, os: ['linux'], cpu: ['x64'] },
      'node_modules/native-darwin-arm64': { version: '1.0.0', optional: true, os: ['darwin'], cpu: ['arm64'], dependencies: { helper: '1' } },
      'node_modules/helper': { version: '1.0.0', optional: true },
      'node_modules/peer-user': { version: '1.0.0', peerDependencies: { graphql: '^16', crossws: '*' }, peerDependenciesMeta: { crossws: { optional: true } } },
      'node_modules/graphql': { version: '16.15.0', peer: true },
      'node_modules/crossws': { version: '0.4.0', dev: true },
      'node_modules/vitest': { version: '4.1.11', dev: true },
    },
  };
}

describe('the lock: lookupChain, resolveInLock, workspaceOf', () => {
  it('looks where Node would: nearest node_modules first, up to the root', () => {
    expect(lookupChain('node_modules/a/node_modules/@s/b')).toEqual(['node_modules/a/node_modules/@s/b', 'node_modules/a', '']);
    expect(lookupChain('libs/k')).toEqual(['libs/k', '']);
    expect(lookupChain('')).toEqual(['']);
    const p = lock().packages;
    expect(resolveInLock(p, 'tslib', 'node_modules/kv')).toBe('node_modules/kv/node_modules/tslib');
    expect(resolveInLock(p, 'tslib', 'libs/k')).toBe('node_modules/tslib');
    expect(resolveInLock(p, 'nope', 'libs/k')).toBeUndefined();
  });

  it('finds the workspace package of a source file', () => {
    const p = lock().packages;
    expect(workspaceOf(p, 'libs/k/src/index.ts')).toBe('libs/k');
    expect(workspaceOf(p, 'libs/kk/src/index.ts')).toBe('');
    expect(workspaceOf(p, 'services/a/src/main.ts')).toBe('services/a');
  });
});

describe('pruneLock', () => {
  it('keeps what the roots need, where they find it, optional ones marked, dev flags gone', () => {
    const pruned = pruneLock(lock().packages, ['node_modules/kv', 'node_modules/native', 'node_modules/peer-user']);
    expect(Object.keys(pruned)).toEqual([
      'node_modules/graphql',
      'node_modules/helper',
      'node_modules/kv',
      'node_modules/kv/node_modules/tslib',
      'node_modules/native',
      'node_modules/native-darwin-arm64',
      'node_modules/native-linux-x64',
      'node_modules/nuid',
      'node_modules/peer-user',
    ]);
    expect(pruned['node_modules/graphql']).toEqual({ version: '16.15.0' });
    expect(pruned['node_modules/native-linux-x64']).toMatchObject({ optional: true, os: ['linux'] });
    expect(pruned['node_modules/helper']).toEqual({ version: '1.0.0', optional: true });
    expect(pruned['node_modules/native']).toEqual(lock().packages['node_modules/native']);
  });

  it('a package reached both ways is required', () => {
    const l = lock();
    l.packages['node_modules/kv']!.optionalDependencies = { 'native-linux-x64': '1.0.0' };
    l.packages['node_modules/nuid']!.dependencies = { 'native-linux-x64': '1.0.0' };
    const pruned = pruneLock(l.packages, ['node_modules/kv']);
    expect(pruned['node_modules/native-linux-x64']!.optional).toBeUndefined();
  });

  it('refuses a required dependency the lock lacks, and a workspace package', () => {
    const l = lock();
    l.packages['node_modules/nuid']!.dependencies = { missing: '1' };
    expect(() => pruneLock(l.packages, ['node_modules/kv'])).toThrow(/node_modules\/nuid needs missing/);
    expect(() => pruneLock(lock().packages, ['node_modules/@x/k'])).toThrow(BuildError);
  });
});

const ext = (name: string, importers: string[]) => ({ name, bundles: ['dist/a/main.mjs'], importers });

describe('runtimeManifest', () => {
  it('pins each imported package to the version the workspace has, with a lock for npm ci', () => {
    const m = runtimeManifest({ lock: lock(), externals: [ext('kv', ['libs/k/src/index.ts']), ext('native', ['libs/k/src/index.ts'])] });
    expect(m.packageJson).toEqual({
      name: 'diffusevae-runtime',
      version: '1.2.3',
      private: true,
      type: 'module',
      engines: { node: '>=20.19' },
      dependencies: { kv: '3.4.0', native: '1.0.0' },
    });
    expect(m.packageLock.lockfileVersion).toBe(3);
    expect(m.packageLock.packages['']).toEqual({ name: 'diffusevae-runtime', version: '1.2.3', engines: { node: '>=20.19' }, dependencies: { kv: '3.4.0', native: '1.0.0' } });
    expect(Object.keys(m.packageLock.packages)).toContain('node_modules/kv/node_modules/tslib');
    expect(Object.keys(m.packageLock.packages)).not.toContain('node_modules/tslib');
    expect(m.warnings).toEqual([]);
  });

  it('warns when the importer lists the package only in devDependencies, or not at all', () => {
    const m = runtimeManifest({ lock: lock(), externals: [ext('ws', ['libs/k/src/index.ts']), ext('nuid', ['services/a/src/main.ts'])] });
    expect(m.packageJson.dependencies).toEqual({ nuid: '3.0.0', ws: '8.23.0' });
    expect(m.warnings).toEqual([
      'ws: imported by libs/k/src/index.ts, but libs/k/package.json does not list it',
      'nuid: imported by services/a/src/main.ts, but services/a/package.json does not list it',
    ]);
  });

  it('refuses a package only development dependencies bring', () => {
    expect(() => runtimeManifest({ lock: lock(), externals: [ext('vitest', ['libs/k/src/index.ts'])] })).toThrow(/vitest: only development dependencies bring it/);
  });

  it('refuses a package missing from the lock, one not at the top of node_modules, two copies, and a workspace package', () => {
    expect(() => runtimeManifest({ lock: lock(), externals: [ext('left-pad', ['libs/k/src/index.ts'])] })).toThrow(/left-pad: imported by libs\/k\/src\/index.ts but not in package-lock.json/);
    const nested = lock();
    nested.packages['libs/k/node_modules/ws'] = { version: '7.5.10' };
    expect(() => runtimeManifest({ lock: nested, externals: [ext('ws', ['libs/k/src/index.ts'])] })).toThrow(/ws: installed at libs\/k\/node_modules\/ws/);
    expect(() => runtimeManifest({ lock: nested, externals: [ext('ws', ['libs/k/src/index.ts', 'services/a/src/main.ts'])] })).toThrow(/different copies \(libs\/k\/node_modules\/ws@7.5.10, node_modules\/ws@8.23.0\)/);
    expect(() => runtimeManifest({ lock: lock(), externals: [ext('@diffusevae/tensor', ['libs/k/src/index.ts'])] })).toThrow(/a workspace package left external/);
  });
});

describe('entriesOf', () => {
  it('finds every folder of services/ with src/main.ts, then the keys CLI', () => {
    const root = mkdtempSync(path.join(tmpdir(), 'diffusevae-entries-'));
    try {
      for (const s of ['b-svc', 'a-svc']) {
        mkdirSync(path.join(root, 'services', s, 'src'), { recursive: true });
        writeFileSync(path.join(root, 'services', s, 'src', 'main.ts'), '');
      }
      mkdirSync(path.join(root, 'services', 'no-main'));
      expect(entriesOf(root)).toEqual([
        { name: 'a-svc', source: 'services/a-svc/src/main.ts' },
        { name: 'b-svc', source: 'services/b-svc/src/main.ts' },
        { name: 'keys', source: 'tools/keys/src/main.ts' },
      ]);
      mkdirSync(path.join(root, 'services', 'keys', 'src'), { recursive: true });
      writeFileSync(path.join(root, 'services', 'keys', 'src', 'main.ts'), '');
      expect(() => entriesOf(root)).toThrow(/two entries named keys/);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
