/**
 * npm run bench: on this machine, with one model and one sampler setting, (a) the refiner loop in-process,
 * (b) the same work end to end through the gateway and the services, (c) the PyTorch eager loop; prints the
 * tables and writes docs/benchmarks.md and docs/results/bench.json.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_MODEL_DIR, readManifest, type LoadOptions } from '@diffusevae/models';
import { ConfigError, loadConfig } from '@diffusevae/service-kit';
import { ArgError, parseArgs, USAGE, type BenchOptions } from './args.js';
import { matMulCeiling } from './ceiling.js';
import { startCluster } from './cluster.js';
import { pytorchOnce, pytorchUnavailable } from './pytorch.js';
import { rawBench, type RawBench } from './raw.js';
import { markdown, mergeResults, type BenchResult, type Row, type ScaleOutResult } from './report.js';
import { scaleOutBench } from './scale-out.js';
import { measurement } from './stats.js';

const ORDER: Row['path'][] = ['raw', 'raw-int8', 'e2e', 'e2e-concurrent', 'pytorch'];

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const say = (line: string) => console.error(`bench: ${line}`);

const argv = process.argv.slice(2);
if (argv.includes('--help')) {
  console.log(USAGE);
  process.exit(0);
}
let o: BenchOptions;
try {
  o = parseArgs(argv, process.env, { modelDir: DEFAULT_MODEL_DIR });
} catch (e) {
  if (!(e instanceof ArgError)) throw e;
  console.error(`bench: ${e.message}`);
  process.exit(2);
}

// the services read ORT_SPINNING and REFINER_INSTANCES (and inherit this environment); the in-process paths use the same
let session: LoadOptions;
try {
  const config = loadConfig(process.env);
  session = { intraOpThreads: o.threads, allowSpinning: config.allowSpinning, refinerInstances: config.refiner.instances };
} catch (e) {
  if (!(e instanceof ConfigError)) throw e;
  console.error(`bench: ${e.message}`);
  process.exit(2);
}
const manifest = await readManifest(o.modelDir);
const gflop = manifest.refiner.gflopPerImageStep;
const rows: Row[] = [];
let memoryMb: Record<string, number> = {};
let torchPeakMb = 0;
// the raw comparator of the concurrent jobs runs at their count, whether or not it is one of --batches
const rawBatches = [...new Set([...o.batches, o.concurrent])].sort((a, b) => a - b);

let ceilingGflops = 0;
let pytorchSkipped: string | undefined;
/** CPU time of every cluster process over the end-to-end runs only */
const e2eCpuMs: Record<string, number> = {};
let e2eWallMs = 0;
// (a), (b), (c): every stage but the scale-out one
if (o.scaleOut !== 'only') {
  say(`matrix-product ceiling (threads ${o.threads}, spinning ${session.allowSpinning ? 'on' : 'off'})`);
  // a ceiling is a peak: it is measured again after each batch size, and the best of all counts, so that one busy
  // spell of the machine at the start cannot lower it (and push the paths above 100 % of it)
  ceilingGflops = await matMulCeiling(session);

  pytorchSkipped = pytorchUnavailable(ROOT, o);
  if (pytorchSkipped) say(`(c) PyTorch eager: ${pytorchSkipped}`);
  const torchThreads = o.threads || os.availableParallelism();

  say('starting nats-server, the services and the gateway');
  const cluster = await startCluster({ modelDir: o.modelDir, threads: o.threads, sampler: o.sampler, steps: o.steps });
  const raw = await rawBench(o.modelDir, session, o.sampler, o.steps);
  // the int8 refiner, when the set has one, in the same rounds as fp32 (int8_vs_fp32_raw_b*)
  const rawInt8 = manifest.files.refinerInt8 ? await rawBench(o.modelDir, session, o.sampler, o.steps, 'int8') : undefined;
  if (!rawInt8) say('(a) int8: the model set has no int8 refiner (files.refinerInt8); fp32 only');
  const row = (path: Row['path'], batch: number, jobs: number, runsPerRep: number, repMs: number[], latenciesMs: number[], engineMs?: number): Row => ({
    path,
    batch,
    jobs,
    runsPerRep,
    ...measurement({ images: batch * jobs * runsPerRep * repMs.length, steps: o.steps, wallMs: sum(repMs), latenciesMs, gflopPerImageStep: gflop }),
    repMs,
    ...(engineMs !== undefined ? { engineMs: Math.round(engineMs) } : {}),
  });
  const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
  /** one end-to-end run; `engine` gets the refiner's time in onnxruntime over it */
  async function clusterRun<T>(run: () => Promise<T>, engine: { ms: number }): Promise<T> {
    const [before, busy] = [cluster.cpu(), await cluster.refinerBusyMs()];
    const t0 = performance.now();
    const out = await run();
    e2eWallMs += performance.now() - t0;
    for (const [k, v] of Object.entries(cluster.cpu())) e2eCpuMs[k] = (e2eCpuMs[k] ?? 0) + v - (before[k] ?? 0);
    engine.ms += (await cluster.refinerBusyMs()) - busy;
    return out;
  }
  /** (c) one run, or undefined once PyTorch has failed (the reason is in pytorchSkipped) */
  const torchOnce = async (batch: number, seed: number): Promise<number | undefined> => {
    if (pytorchSkipped) return undefined;
    const r = await pytorchOnce({ root: ROOT, ckptDir: o.ckptDir, modelDir: o.modelDir, batch, steps: o.steps, sampler: o.sampler, threads: torchThreads, seed });
    if ('skipped' in r) {
      pytorchSkipped = r.skipped;
      say(`(c) PyTorch eager: ${r.skipped}`);
      return undefined;
    }
    torchPeakMb = Math.max(torchPeakMb, r.peakRssMb);
    return r.ms;
  };
  try {
    for (const b of rawBatches) {
      const e2e = o.batches.includes(b);
      const concurrent = b === o.concurrent;
      const paths = ['(a) raw', ...(rawInt8 ? ['(a) raw int8'] : []), ...(e2e ? ['(b) end to end', ...(pytorchSkipped ? [] : [`(c) PyTorch (threads ${torchThreads})`])] : [])];
      if (concurrent) paths.push(`${b} concurrent single-image jobs`);
      say(`batch ${b}: ${paths.join(', ')}; ${o.steps} steps × ${o.reps}`);
      await raw.warmUp(b);
      await rawInt8?.warmUp(b);
      await cluster.warmUp(b);
      // enough rounds per repetition to fill --min-rep-ms (at most 50), judged by one timed raw job
      const runs = o.minRepMs > 0 ? Math.min(50, Math.max(1, Math.ceil(o.minRepMs / (await raw.once(b))))) : 1;
      if (runs > 1) say(`batch ${b}: ${runs} rounds per repetition, the paths in turn`);
      // the paths take turns, round by round within a repetition, and odd repetitions run in reverse order, so that
      // neither a busy spell of the machine nor a drift in its speed lands on one path only
      const t = { raw: [] as number[], int8: [] as number[], e2e: [] as number[], torch: [] as number[], conc: [] as number[], concWall: [] as number[] };
      const lat = { raw: [] as number[], int8: [] as number[], e2e: [] as number[] };
      // time in onnxruntime: the raw loop's eps calls, the refiner's runs during the end-to-end jobs
      const engine = { raw: { ms: 0 }, int8: { ms: 0 }, e2e: { ms: 0 }, conc: { ms: 0 } };
      for (let r = 0; r < o.reps; r++) {
        const rep = { raw: 0, int8: 0, e2e: 0, conc: 0 };
        const order: (() => Promise<void>)[] = [];
        for (let j = 0; j < runs; j++) {
          // one in-process job (fp32, or the int8 refiner), its time and its onnxruntime time to its path
          const rawRun = (bench: RawBench, key: 'raw' | 'int8') => async () => {
            const before = bench.engineMs;
            const ms = await bench.once(b);
            engine[key].ms += bench.engineMs - before;
            lat[key].push(ms);
            rep[key] += ms;
          };
          order.push(rawRun(raw, 'raw'));
          if (rawInt8) order.push(rawRun(rawInt8, 'int8'));
          if (e2e) {
            order.push(async () => {
              const ms = await clusterRun(() => cluster.once(b), engine.e2e);
              lat.e2e.push(ms);
              rep.e2e += ms;
            });
          }
          if (concurrent) {
            order.push(async () => {
              const c = await clusterRun(() => cluster.concurrentOnce(b), engine.conc);
              t.conc.push(...c.latenciesMs);
              rep.conc += c.wallMs;
            });
          }
        }
        if (r % 2 === 1) order.reverse();
        for (const run of order) await run();
        t.raw.push(rep.raw);
        if (rawInt8) t.int8.push(rep.int8);
        if (e2e) t.e2e.push(rep.e2e);
        if (concurrent) t.concWall.push(rep.conc);
        const torch = e2e ? await torchOnce(b, r) : undefined;
        if (torch !== undefined) t.torch.push(torch);
      }
      rows.push(row('raw', b, 1, runs, t.raw, lat.raw, engine.raw.ms));
      if (rawInt8) rows.push(row('raw-int8', b, 1, runs, t.int8, lat.int8, engine.int8.ms));
      if (e2e) rows.push(row('e2e', b, 1, runs, t.e2e, lat.e2e, engine.e2e.ms));
      if (t.torch.length === o.reps) rows.push(row('pytorch', b, 1, 1, t.torch, t.torch));
      if (concurrent) rows.push(row('e2e-concurrent', 1, b, runs, t.concWall, t.conc, engine.conc.ms));
      ceilingGflops = Math.max(ceilingGflops, await matMulCeiling(session));
    }
    memoryMb = {
      'bench process (raw loop)': process.resourceUsage().maxRSS / 1024,
      ...cluster.memory(),
      ...(torchPeakMb > 0 ? { 'pytorch (sample)': torchPeakMb } : {}),
    };
  } finally {
    await raw.release();
    await rawInt8?.release();
    await cluster.stop();
  }
  rows.sort((x, y) => ORDER.indexOf(x.path) - ORDER.indexOf(y.path) || x.batch - y.batch);
}

const command = ['npm run bench', ...(argv.length ? ['--', ...argv] : [])].join(' ');
const machine = { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model.trim() ?? 'unknown', node: process.version };

// the scale-out stage: one refiner pinned to one CPU against two pinned to two
let scaleOut: ScaleOutResult | undefined;
if (o.scaleOut !== 'skip') {
  const m = await scaleOutBench({
    modelDir: o.modelDir,
    sampler: o.sampler,
    steps: o.steps,
    reps: o.reps,
    minRepMs: o.minRepMs,
    jobs: o.scaleOutJobs,
    cpus: o.scaleOutCpus,
    gflopPerImageStep: gflop,
    say,
  });
  scaleOut = {
    command,
    date: new Date().toISOString(),
    quick: o.quick,
    machine,
    settings: {
      model: manifest.name,
      refinerSha256: manifest.files.refiner.sha256,
      sampler: o.sampler,
      steps: o.steps,
      reps: o.reps,
      minRepMs: o.minRepMs,
      jobs: o.scaleOutJobs,
      cpus: o.scaleOutCpus,
    },
    ...m,
  };
}

const current: BenchResult = {
  command,
  date: new Date().toISOString(),
  quick: o.quick,
  machine,
  settings: {
    model: manifest.name,
    refinerSha256: manifest.files.refiner.sha256,
    gflopPerImageStep: gflop,
    sampler: o.sampler,
    steps: o.steps,
    reps: o.reps,
    minRepMs: o.minRepMs,
    threads: o.threads,
    spinning: session.allowSpinning === true,
    instances: session.refinerInstances ?? 1,
    concurrent: o.concurrent,
  },
  ceilingGflops,
  rows,
  ...(pytorchSkipped ? { pytorchSkipped } : {}),
  memoryMb,
  cpu: { e2eMs: Object.fromEntries(Object.entries(e2eCpuMs).map(([k, v]) => [k, Math.round(v)])), e2eWallMs: Math.round(e2eWallMs) },
  ...(scaleOut ? { scaleOut } : {}),
  ratio: {},
  ratioRange: {},
};
// a stage that did not run keeps its results from the outputs of an earlier run
const measured = { main: o.scaleOut !== 'only', scaleOut: o.scaleOut !== 'skip' };
const previous = measured.main && measured.scaleOut ? undefined : readPrevious(path.resolve(ROOT, o.outJson));
if (previous?.settings.refinerSha256 && previous.settings.refinerSha256 !== manifest.files.refiner.sha256) {
  say(`note: ${o.outJson} was measured with another refiner (sha256 ${previous.settings.refinerSha256.slice(0, 12)}…); its other rows are kept as they are`);
}
const result = mergeResults(previous, current, measured);
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

/** The results an earlier run wrote, if there are any that parse. */
function readPrevious(file: string): BenchResult | undefined {
  if (!existsSync(file)) return undefined;
  try {
    const r = JSON.parse(readFileSync(file, 'utf8')) as BenchResult;
    return Array.isArray(r.rows) && r.settings ? r : undefined;
  } catch (e) {
    say(`note: ${file} does not parse (${(e as Error).message}); writing this run's results alone`);
    return undefined;
  }
}
