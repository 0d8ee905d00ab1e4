/**
 * npm run bench: on this machine, with one model and one sampler setting, (a) the refiner loop in-process,
 * (b) the same work end to end through the gateway and the services, (c) the PyTorch eager loop; prints the
 * tables and writes docs/benchmarks.md and docs/results/bench.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_MODEL_DIR, readManifest } from '@diffusevae/models';
import { ArgError, parseArgs, USAGE, type BenchOptions } from './args.js';
import { matMulCeiling } from './ceiling.js';
import { startCluster } from './cluster.js';
import { pytorchRun, pytorchUnavailable } from './pytorch.js';
import { rawBench } from './raw.js';
import { markdown, ratios, type BenchResult, type Row } from './report.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const say = (line: string) => console.error(`bench: ${line}`);

const argv = process.argv.slice(2);
if (argv.includes('--help')) {
  console.log(USAGE);
  process.exit(0);
}
let o: BenchOptions;
try {
  o = parseArgs(argv, process.env, { modelDir: DEFAULT_MODEL_DIR, ckptDir: path.join(ROOT, 'tools/train/.checkpoints') });
} catch (e) {
  if (!(e instanceof ArgError)) throw e;
  console.error(`bench: ${e.message}`);
  process.exit(2);
}

const manifest = await readManifest(o.modelDir);
const gflop = manifest.refiner.gflopPerImageStep;
const rows: Row[] = [];
const memoryMb: Record<string, number> = {};
// the raw comparator of the concurrent jobs runs at their count, whether or not it is one of --batches
const rawBatches = [...new Set([...o.batches, o.concurrent])].sort((a, b) => a - b);

say(`matrix-product ceiling (threads ${o.threads})`);
const ceilingGflops = await matMulCeiling(o.threads);

say(`(a) raw refiner loop, batches ${rawBatches.join(', ')}, ${o.steps} steps × ${o.reps}`);
const raw = await rawBench(o.modelDir, o.threads, o.sampler, o.steps);
for (const b of rawBatches) rows.push({ path: 'raw', batch: b, jobs: 1, ...(await raw.run(b, o.reps)) });
await raw.release();
memoryMb['bench process (raw loop)'] = process.resourceUsage().maxRSS / 1024;

say('(b) starting nats-server, the services and the gateway');
const cluster = await startCluster({ modelDir: o.modelDir, threads: o.threads, sampler: o.sampler, steps: o.steps, gflopPerImageStep: gflop });
try {
  for (const b of o.batches) {
    say(`(b) end to end, batch ${b}`);
    rows.push({ path: 'e2e', batch: b, jobs: 1, ...(await cluster.run(b, o.reps)) });
  }
  say(`(b) end to end, ${o.concurrent} concurrent single-image jobs`);
  rows.push({ path: 'e2e-concurrent', batch: 1, jobs: o.concurrent, ...(await cluster.concurrent(o.concurrent, o.reps)) });
  Object.assign(memoryMb, cluster.memory());
} finally {
  await cluster.stop();
}

let pytorchSkipped = pytorchUnavailable(ROOT, o.ckptDir);
const torchThreads = o.threads || os.availableParallelism();
for (const b of pytorchSkipped ? [] : o.batches) {
  say(`(c) PyTorch eager, batch ${b} (torch threads ${torchThreads})`);
  const r = await pytorchRun({ root: ROOT, ckptDir: o.ckptDir!, batch: b, steps: o.steps, sampler: o.sampler, threads: torchThreads, reps: o.reps, gflopPerImageStep: gflop });
  if ('skipped' in r) {
    pytorchSkipped = r.skipped;
    break;
  }
  rows.push({ path: 'pytorch', batch: b, jobs: 1, ...r.measurement });
  memoryMb['pytorch (sample)'] = Math.max(memoryMb['pytorch (sample)'] ?? 0, r.peakRssMb);
}
if (pytorchSkipped) say(`(c) PyTorch eager: ${pytorchSkipped}`);

const result: BenchResult = {
  command: ['npm run bench', ...(argv.length ? ['--', ...argv] : [])].join(' '),
  date: new Date().toISOString(),
  quick: o.quick,
  machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model.trim() ?? 'unknown', node: process.version },
  settings: {
    model: manifest.name,
    refinerSha256: manifest.files.refiner.sha256,
    gflopPerImageStep: gflop,
    sampler: o.sampler,
    steps: o.steps,
    reps: o.reps,
    threads: o.threads,
    concurrent: o.concurrent,
  },
  ceilingGflops,
  rows,
  ...(pytorchSkipped ? { pytorchSkipped } : {}),
  memoryMb,
  ratio: ratios(rows, o.concurrent),
};
const md = markdown(result);
for (const [file, text] of [
  [o.outMarkdown, md],
  [o.outJson, `${JSON.stringify(result, null, 2)}\n`],
] as const) {
  const out = path.resolve(ROOT, file);
  mkdirSync(path.dirname(out), { recursive: true });
  writeFileSync(out, text);
}
console.log(md);
say(`wrote ${o.outMarkdown} and ${o.outJson}`);
process.exit(0); // fetch keeps idle sockets open for a few seconds
