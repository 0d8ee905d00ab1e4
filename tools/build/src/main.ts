/**
 * npm run build [-- --out DIR]: every process bundled into DIR (default dist/) as <name>/main.mjs, with
 * DIR/package.json and DIR/package-lock.json for `npm ci --omit=dev` there (build.ts), and the browser pages
 * (services/playground, built by Vite) in DIR/playground, which the gateway serves (PLAYGROUND_DIR). Exit 1 when a
 * bundle imports a package the production install would not have.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execFile } from 'node:child_process';
import { parseArgs, promisify } from 'node:util';
import { buildRuntime } from './build.js';
import { BuildError } from './runtime.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

const { values } = parseArgs({ options: { out: { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
if (values.help) {
  console.log('usage: npm run build [-- --out DIR]   (default: dist/ at the repository root)');
  process.exit(0);
}
const outDir = path.resolve(values.out ?? path.join(ROOT, 'dist'));
try {
  const r = await buildRuntime({ root: ROOT, outDir });
  const rel = path.relative(process.cwd(), outDir) || '.';
  console.log(`build: ${r.bundles.length} bundles in ${(r.ms / 1000).toFixed(1)} s → ${rel}/`);
  const width = Math.max(...r.bundles.map((b) => b.name.length)) + 9;
  for (const b of r.bundles) console.log(`  ${`${b.name}/main.mjs`.padEnd(width)} ${(b.bytes / 1024).toFixed(0).padStart(6)} KiB  imports ${b.packages.join(', ')}`);
  console.log(`  package.json: ${Object.keys(r.dependencies).length} packages at exact versions; package-lock.json: ${r.lockedPackages} packages (npm ci --omit=dev there)`);
  for (const w of r.warnings) console.warn(`build: warning: ${w}`);
  const pages = path.join(outDir, 'playground');
  await promisify(execFile)(path.join(ROOT, 'node_modules/.bin/vite'), ['build', path.join(ROOT, 'services/playground'), '--outDir', pages, '--emptyOutDir', '--logLevel', 'warn'], { cwd: ROOT });
  console.log(`  playground/: the pages (PLAYGROUND_DIR=${path.relative(process.cwd(), pages) || '.'} for the gateway)`);
} catch (e) {
  if (!(e instanceof BuildError)) throw e;
  console.error(`build: ${e.message}`);
  process.exit(1);
}
