/** The benchmark's results as JSON (docs/results/bench.json) and as the tables of docs/benchmarks.md. */
import type { Measurement } from './stats.js';

export type BenchPath = 'raw' | 'e2e' | 'e2e-concurrent' | 'pytorch';

export interface Row extends Measurement {
  path: BenchPath;
  /** images per job (1 for the concurrent single-image jobs) */
  batch: number;
  /** jobs in flight at once */
  jobs: number;
  /** jobs (or rounds of concurrent jobs) run one after another in each repetition */
  runsPerRep: number;
  /** each timed repetition: the summed time of its jobs, or of its rounds' wall times for concurrent jobs, ms */
  repMs: number[];
  /** time in onnxruntime over all repetitions (raw: the loop's eps calls; end to end: the refiner's runs), ms */
  engineMs?: number;
}

export interface BenchResult {
  command: string;
  date: string;
  quick: boolean;
  machine: { cpus: number; cpuModel: string; node: string };
  settings: { model: string; refinerSha256: string; gflopPerImageStep: number; sampler: string; steps: number; reps: number; minRepMs: number; threads: number; spinning: boolean; concurrent: number };
  ceilingGflops: number;
  rows: Row[];
  /** why the PyTorch loop did not run, when it did not */
  pytorchSkipped?: string;
  memoryMb: Record<string, number>;
  /** CPU time by process over every end-to-end run, and the wall time of those runs (ms) */
  cpu: { e2eMs: Record<string, number>; e2eWallMs: number };
  /** the median over repetitions of each repetition's ratio */
  ratio: Record<string, number | null>;
  /** the lowest and highest of those per-repetition ratios */
  ratioRange: Record<string, [number, number]>;
}

/** What the issue asks the benchmark to be able to show. */
export const TARGETS: Record<string, number> = {
  e2e_vs_raw_b64: 0.95,
  e2e_vs_raw_b1: 0.8,
  concurrent16_vs_raw_b16: 0.9,
  e2e_vs_pytorch_b64: 1.3,
};

/** Median of a non-empty list (the mean of the middle two for an even count). */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new RangeError('median of no values');
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/**
 * The ratios of images/s, each the median over repetitions of that repetition's ratio. The paths of one
 * repetition ran back to back, so a slow spell of a shared machine shifts both sides of a pair: pairing and
 * the median keep it from deciding a ratio, where a ratio of sums would carry it. Null where a side is missing.
 */
export function ratios(rows: readonly Row[], concurrent: number): { ratio: Record<string, number | null>; range: Record<string, [number, number]> } {
  const find = (path: BenchPath, batch: number) => rows.find((r) => r.path === path && r.batch === batch);
  const rates = (r: Row) => r.repMs.map((ms) => (r.batch * r.jobs * r.runsPerRep * 1000) / ms);
  const ratio: Record<string, number | null> = {};
  const range: Record<string, [number, number]> = {};
  const add = (key: string, a: Row | undefined, b: Row | undefined) => {
    if (!a || !b || a.repMs.length === 0 || a.repMs.length !== b.repMs.length) return void (ratio[key] = null);
    const [ra, rb] = [rates(a), rates(b)];
    const per = ra.map((x, i) => x / rb[i]!);
    ratio[key] = round(median(per), 3);
    range[key] = [round(Math.min(...per), 3), round(Math.max(...per), 3)];
  };
  for (const b of [64, 16, 1]) add(`e2e_vs_raw_b${b}`, find('e2e', b), find('raw', b));
  add(`concurrent${concurrent}_vs_raw_b${concurrent}`, find('e2e-concurrent', 1), find('raw', concurrent));
  for (const b of [64, 16, 1]) add(`e2e_vs_pytorch_b${b}`, find('e2e', b), find('pytorch', b));
  add('raw_vs_pytorch_b64', find('raw', 64), find('pytorch', 64));
  return { ratio, range };
}

const round = (x: number, digits: number) => Math.round(x * 10 ** digits) / 10 ** digits;
const fmt = (x: number, digits = 1) => x.toFixed(digits);

const LABEL: Record<BenchPath, string> = {
  raw: 'raw: onnxruntime-node in-process',
  e2e: 'end to end: GraphQL → NATS → services',
  'e2e-concurrent': 'end to end: concurrent single-image jobs',
  pytorch: 'PyTorch eager (trainer’s model)',
};

export function markdown(r: BenchResult): string {
  const s = r.settings;
  const lines = [
    '# Benchmarks',
    '',
    `Measured by \`${r.command}\` on ${r.date}${r.quick ? ' — a **quick** run (few steps, one repetition): indicative only' : ''}.`,
    `Machine: ${r.machine.cpus} × ${r.machine.cpuModel}, Node ${r.machine.node}. Model \`${s.model}\` (refiner sha256 \`${s.refinerSha256.slice(0, 12)}…\`, ${s.gflopPerImageStep} GFLOP per image-step).`,
    `Every path runs ${s.sampler}${s.sampler === 'DDIM' ? ' (η = 0, as the PyTorch loop)' : ''} with ${s.steps} steps, ${s.reps} timed repetition(s) after a warm-up, onnxruntime intra-op threads ${s.threads === 0 ? '0 (every core)' : s.threads}, idle threads ${s.spinning ? 'spinning' : 'sleeping'} (\`ORT_SPINNING=${s.spinning ? 1 : 0}\`).`,
    `Matrix-product ceiling (a 1024³ float32 MatMul in onnxruntime, same threads; the best of five products at the start and after each batch size): **${fmt(r.ceilingGflops)} GFLOP/s**.`,
    '',
    '| path | batch | jobs at once | rounds per rep | images/s | image-steps/s | p50 ms | p95 ms | GFLOP/s | % of ceiling |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...r.rows.map(
      (x) =>
        `| ${LABEL[x.path]} | ${x.batch} | ${x.jobs} | ${x.runsPerRep} | ${fmt(x.imagesPerSec, 2)} | ${fmt(x.imageStepsPerSec)} | ${fmt(x.p50Ms, 0)} | ${fmt(x.p95Ms, 0)} | ${fmt(x.gflops)} | ${fmt((100 * x.gflops) / r.ceilingGflops, 0)}% |`,
    ),
    '',
    ...(r.pytorchSkipped ? [`PyTorch eager: ${r.pytorchSkipped}.`, ''] : []),
    `| ratio (images/s) | median of ${s.reps} paired reps | lowest – highest | target |`,
    '|---|---:|---:|---|',
    ...Object.entries(r.ratio).map(([k, v]) => {
      const t = TARGETS[k];
      const verdict = t === undefined || v === null ? '' : `≥ ${t} ${v >= t ? '(met)' : '(**not met**)'}`;
      const span = r.ratioRange[k];
      return `| ${k} | ${v === null ? 'n/a' : v.toFixed(3)} | ${span ? `${span[0].toFixed(3)} – ${span[1].toFixed(3)}` : ''} | ${verdict} |`;
    }),
    '',
    '| process | peak RSS (MB) |',
    '|---|---:|',
    ...Object.entries(r.memoryMb).map(([k, v]) => `| ${k} | ${fmt(v, 0)} |`),
    '',
    ...anatomyTable(r),
    ...cpuTable(r),
    '## What is measured',
    '',
    '- **raw**: `runReverseProcess` over `ModelSet.eps` in the bench process: the refiner loop alone, its stage-1 images',
    '  decoded before the clock starts. Latency is one job of `batch` images.',
    '- **end to end**: `generate` mutations over HTTP to the gateway, which calls the vae-decoder and the scheduler; the',
    '  scheduler advances every job in flight with one batched refiner call per step (continuous batching). It includes',
    '  stage 1, every NATS hop, progress events, the PNG encoding and the JSON reply. The processes are started by the',
    '  bench as the launcher starts them; their memory is the peak RSS (VmHWM) of each.',
    `- **concurrent**: ${s.concurrent} single-image jobs submitted at once; throughput over all of them, against raw at batch ${s.concurrent}.`,
    '- **PyTorch eager**: `tools/train/train.sh sample` (the reference loop with the trainer’s EMA U-Net), one process per',
    '  repetition, with torch threads set to the cores; its time is the loop time it prints (model loading excluded,',
    '  no warm-up: every run is a fresh process, as a user runs it).',
    '- The paths take turns at each batch size, repetition by repetition, after one warm-up each, so that a busy',
    '  spell of the machine does not land on one of them only. A repetition runs several rounds (`rounds per rep`:',
    `  as many as fill about ${s.minRepMs} ms of the raw path, \`--min-rep-ms\`); a round is one job of each onnxruntime`,
    '  path (the concurrent jobs count as one; PyTorch runs once per repetition), and the paths take turns round by',
    '  round. Odd repetitions run their rounds in reverse order, so that a drift of the machine’s speed does not favour',
    '  whichever path goes first. Throughput is images over the summed round times; each ratio is the median of the',
    '  per-repetition ratios (the two sides of one repetition ran interleaved), with their range.',
    '- GFLOP/s is image-steps/s × the manifest’s `refiner.gflopPerImageStep`.',
    '',
  ];
  return lines.join('\n');
}

export interface Anatomy {
  path: BenchPath;
  batch: number;
  /** share of the raw loop's time spent in onnxruntime */
  rawBusy: number;
  /** share of the end-to-end time the refiner spent in onnxruntime runs */
  refinerBusy: number;
  /** onnxruntime time per image-step end to end over the same in the raw loop */
  runSlowdown: number;
}

/**
 * The end-to-end ÷ raw throughput, taken apart: end to end ÷ raw = (refinerBusy ÷ rawBusy) ÷ runSlowdown. The first
 * factor is time the refiner waits between its runs (NATS hops, the scheduler, the gateway); the second is
 * onnxruntime running slower in the service, beside the other processes, than alone in the bench process.
 */
export function anatomy(rows: readonly Row[], concurrent: number): Anatomy[] {
  const out: Anatomy[] = [];
  const images = (r: Row) => r.batch * r.jobs * r.runsPerRep * r.repMs.length;
  const wall = (r: Row) => r.repMs.reduce((a, b) => a + b, 0);
  for (const e of rows) {
    if (e.path !== 'e2e' && e.path !== 'e2e-concurrent') continue;
    const raw = rows.find((r) => r.path === 'raw' && r.batch === (e.path === 'e2e' ? e.batch : concurrent));
    if (!raw || raw.engineMs === undefined || e.engineMs === undefined || e.engineMs === 0 || raw.engineMs === 0) continue;
    out.push({
      path: e.path,
      batch: e.path === 'e2e' ? e.batch : concurrent,
      rawBusy: round(raw.engineMs / wall(raw), 3),
      refinerBusy: round(e.engineMs / wall(e), 3),
      // every path runs the same steps: time per image is proportional to time per image-step
      runSlowdown: round(e.engineMs / images(e) / (raw.engineMs / images(raw)), 3),
    });
  }
  return out;
}

function anatomyTable(r: BenchResult): string[] {
  const a = anatomy(r.rows, r.settings.concurrent);
  if (a.length === 0) return [];
  return [
    'Where the end-to-end time goes: end to end ÷ raw = (refiner busy ÷ raw busy) ÷ (onnxruntime time per image-step,',
    'end to end ÷ raw). Busy is the share of the wall time spent inside onnxruntime runs (the refiner’s `busyMs` in',
    '`$SRV.STATS`); what is not busy, the refiner waited for its next request.',
    '',
    '| end to end | batch | raw: onnxruntime busy | refiner busy | onnxruntime per image-step, e2e ÷ raw |',
    '|---|---:|---:|---:|---:|',
    ...a.map((x) => `| ${x.path === 'e2e' ? 'one job' : `${r.settings.concurrent} concurrent jobs`} | ${x.batch} | ${fmt(100 * x.rawBusy)}% | ${fmt(100 * x.refinerBusy)}% | ${x.runSlowdown.toFixed(3)} |`),
    '',
  ];
}

/** Where the end-to-end CPU time went: what is not the refiner is the microservices' tax on two shared cores. */
function cpuTable(r: BenchResult): string[] {
  const total = Object.values(r.cpu.e2eMs).reduce((a, b) => a + b, 0);
  if (total === 0) return [];
  const capacity = r.cpu.e2eWallMs * r.machine.cpus;
  return [
    `CPU time by process over every end-to-end run (${fmt(r.cpu.e2eWallMs / 1000)} s of wall time, ${r.machine.cpus} cores: ${fmt(capacity / 1000)} core-seconds):`,
    '',
    '| process | CPU s | share of the cores |',
    '|---|---:|---:|',
    ...Object.entries(r.cpu.e2eMs)
      .sort((a, b) => b[1] - a[1])
      .map(([k, v]) => `| ${k} | ${fmt(v / 1000, 2)} | ${fmt((100 * v) / capacity)}% |`),
    `| (idle) | ${fmt(Math.max(0, capacity - total) / 1000, 2)} | ${fmt((100 * Math.max(0, capacity - total)) / capacity)}% |`,
    '',
  ];
}
