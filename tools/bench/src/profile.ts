/**
 * npm run bench:profile [-- --batches 64,1 --runs 10 --precision fp32,int8 --model-dir DIR]
 * Where the raw refiner's time goes: onnxruntime's profiler per operator type and per node, for each precision
 * and batch, beside the run's MatMul ceiling and the refiner's GFLOP/s timed without the profiler (the precisions
 * in turn, run by run). Writes
 * docs/profile.md and docs/results/profile.json.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_MODEL_DIR, OnnxModel, PRECISIONS, modelFileEntry, readManifest, verifyModelFile, type Precision, type SessionOptions } from '@diffusevae/models';
import { matMulCeiling } from './ceiling.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

interface TraceEvent {
  cat: string;
  name: string;
  ts: number;
  dur: number;
  args?: { op_name?: string };
}

export interface OpTime {
  op: string;
  msPerRun: number;
  share: number;
}

/** Per-operator and per-node kernel time of the last `runs` model runs of a trace (warm-up runs left out). */
export function summarizeTrace(events: readonly TraceEvent[], runs: number): { ops: OpTime[]; nodes: (OpTime & { node: string })[]; msPerRun: number } {
  const windows = events
    .filter((e) => e.cat === 'Session' && e.name === 'model_run')
    .sort((a, b) => a.ts - b.ts)
    .slice(-runs);
  const inRun = (e: TraceEvent) => windows.some((w) => e.ts >= w.ts && e.ts <= w.ts + w.dur);
  const kernels = events.filter((e) => e.cat === 'Node' && e.name.endsWith('_kernel_time') && inRun(e));
  const n = Math.max(1, windows.length);
  const total = kernels.reduce((s, e) => s + e.dur, 0);
  const group = (key: (e: TraceEvent) => string) => {
    const m = new Map<string, { us: number; op: string }>();
    for (const e of kernels) {
      const k = key(e);
      const g = m.get(k) ?? { us: 0, op: e.args?.op_name ?? '?' };
      g.us += e.dur;
      m.set(k, g);
    }
    return [...m.entries()].sort((a, b) => b[1].us - a[1].us);
  };
  const ops = group((e) => e.args?.op_name ?? '?').map(([op, g]) => ({ op, msPerRun: g.us / n / 1000, share: g.us / total }));
  const nodes = group((e) => e.name.replace(/_kernel_time$/, ''))
    .slice(0, 12)
    .map(([node, g]) => ({ node, op: g.op, msPerRun: g.us / n / 1000, share: g.us / total }));
  return { ops, nodes, msPerRun: windows.reduce((s, w) => s + w.dur, 0) / n / 1000 };
}

function feeds(model: OnnxModel, batch: number, res: number) {
  const x = { data: Float32Array.from({ length: batch * res * res }, (_, i) => Math.sin(i * 0.37)), shape: [batch, 1, res, res] };
  const second = [...model.inputs.keys()].find((k) => k !== 'x_t' && k !== 'cond')!;
  const t = model.inputs.get(second)!.type === 'float32' ? Array.from({ length: batch }, () => 0.5) : Array.from({ length: batch }, (_, i) => (i * 97) % 1000);
  return { x_t: x, [second]: { data: t, shape: [batch] }, cond: x };
}

async function main() {
  const argv = process.argv.slice(2);
  const get = (flag: string, dflt: string) => {
    const i = argv.indexOf(flag);
    return i >= 0 && argv[i + 1] ? argv[i + 1]! : dflt;
  };
  const batches = get('--batches', '64,1').split(',').map(Number);
  const runs = Number(get('--runs', '10'));
  const modelDir = get('--model-dir', process.env.MODEL_DIR || DEFAULT_MODEL_DIR);
  const manifest = await readManifest(modelDir);
  const precisions = get('--precision', 'fp32,int8')
    .split(',')
    .filter((p): p is Precision => (PRECISIONS as readonly string[]).includes(p))
    .filter((p) => p === 'fp32' || manifest.files.refinerInt8);
  const session: SessionOptions = { intraOpThreads: 0, allowSpinning: process.env.ORT_SPINNING !== '0' };
  const res = manifest.image.resolution;
  const gflop = manifest.refiner.gflopPerImageStep;
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'diffusevae-profile-'));
  const say = (m: string) => console.log(`[profile] ${m}`);
  let ceiling = await matMulCeiling(session);
  const results: Record<string, unknown>[] = [];
  try {
    const bytesOf = Object.fromEntries(await Promise.all(precisions.map(async (p) => [p, await verifyModelFile(modelDir, manifest, 'refiner', p)] as const)));
    for (const batch of batches) {
      // timed without the profiler, the precisions in turn run by run (a busy spell hits both): median of `runs`
      const plain = await Promise.all(precisions.map((p) => OnnxModel.create('refiner', bytesOf[p]!, session)));
      const f = feeds(plain[0]!, batch, res);
      for (const m of plain) for (let i = 0; i < 3; i++) await m.run(f);
      const timesOf: number[][] = plain.map(() => []);
      for (let i = 0; i < runs; i++) {
        for (const [k, m] of plain.entries()) {
          const t0 = performance.now();
          await m.run(f);
          timesOf[k]!.push(performance.now() - t0);
        }
      }
      await Promise.all(plain.map((m) => m.release()));
      for (const [k, precision] of precisions.entries()) {
        const bytes = bytesOf[precision]!;
        const times = timesOf[k]!.sort((a, b) => a - b);
        const median = times[times.length >> 1]!;
        // then with it, for the breakdown
        const prefix = path.join(tmp, `${precision}-b${batch}`);
        const prof = await OnnxModel.create('refiner', bytes, { ...session, profileFilePrefix: prefix });
        for (let i = 0; i < 3 + runs; i++) await prof.run(f);
        prof.endProfiling();
        await prof.release();
        const file = readdirSync(tmp).filter((n) => n.startsWith(`${precision}-b${batch}_`)).sort().pop()!;
        const s = summarizeTrace(JSON.parse(readFileSync(path.join(tmp, file), 'utf8')) as TraceEvent[], runs);
        ceiling = Math.max(ceiling, await matMulCeiling(session));
        const r = { precision, batch, file: modelFileEntry(manifest, 'refiner', precision).path, medianMs: median, bestMs: times[0]!, imageStepsPerSec: (batch * 1000) / median, gflops: (gflop * batch * 1000) / median, ...s };
        results.push(r);
        say(`${precision} batch ${batch}: ${median.toFixed(1)} ms/run (median of ${runs}), ${r.gflops.toFixed(1)} GFLOP/s; top: ${s.ops.slice(0, 4).map((o) => `${o.op} ${(o.share * 100).toFixed(0)}%`).join(', ')}`);
      }
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  const machine = { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model.trim() ?? 'unknown', node: process.version };
  const command = ['npm run bench:profile', ...(argv.length ? ['--', ...argv] : [])].join(' ');
  const out = { command, date: new Date().toISOString(), machine, ceilingGflops: ceiling, gflopPerImageStep: gflop, results };
  mkdirSync(path.join(ROOT, 'docs/results'), { recursive: true });
  writeFileSync(path.join(ROOT, 'docs/results/profile.json'), `${JSON.stringify(out, null, 2)}\n`);
  const md: string[] = [
    '# Where the refiner’s time goes',
    '',
    `\`${command}\` on ${machine.cpuModel} (${machine.cpus} CPUs), ${out.date.slice(0, 10)}: onnxruntime's profiler, kernel time per`,
    `operator type and per node over ${runs} runs after 3 warm-up runs; ms/run and GFLOP/s are timed without the profiler.`,
    `Matrix-product ceiling of the same run (1024³ float32 MatMul): **${ceiling.toFixed(1)} GFLOP/s**.`,
    '',
    '| precision | batch | ms/run | image-steps/s | GFLOP/s | of the ceiling |',
    '|---|---:|---:|---:|---:|---:|',
    ...results.map((r) => {
      const x = r as { precision: string; batch: number; medianMs: number; imageStepsPerSec: number; gflops: number };
      return `| ${x.precision} | ${x.batch} | ${x.medianMs.toFixed(1)} | ${x.imageStepsPerSec.toFixed(0)} | ${x.gflops.toFixed(1)} | ${((100 * x.gflops) / ceiling).toFixed(0)} % |`;
    }),
    '',
  ];
  for (const r of results as (ReturnType<typeof summarizeTrace> & { precision: string; batch: number })[]) {
    md.push(`## ${r.precision}, batch ${r.batch}`, '', '| operator | ms/run | share |', '|---|---:|---:|');
    for (const o of r.ops.filter((o) => o.share >= 0.005)) md.push(`| ${o.op} | ${o.msPerRun.toFixed(2)} | ${(o.share * 100).toFixed(1)} % |`);
    md.push('', 'The costliest nodes:', '', '| node | operator | ms/run | share |', '|---|---|---:|---:|');
    for (const n of r.nodes.slice(0, 8)) md.push(`| \`${n.node}\` | ${n.op} | ${n.msPerRun.toFixed(2)} | ${(n.share * 100).toFixed(1)} % |`);
    md.push('');
  }
  writeFileSync(path.join(ROOT, 'docs/profile.md'), `${md.join('\n')}\n`);
  say('wrote docs/profile.md and docs/results/profile.json');
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((e: unknown) => {
    console.error(`bench:profile: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  });
}
