/** The benchmark's results as JSON (docs/results/bench.json) and as the tables of docs/benchmarks.md. */
import type { Measurement } from './stats.js';

export type BenchPath = 'raw' | 'raw-int8' | 'e2e' | 'e2e-concurrent' | 'pytorch' | 'scale-out';

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
  /** time in onnxruntime over all repetitions (raw: the loop's eps calls; end to end: the refiners' runs, summed), ms */
  engineMs?: number;
  /** scale-out: refiner replicas of the cluster, each pinned to one CPU */
  refiners?: number;
}

/** One cluster of the scale-out stage, over its timed runs. */
export interface ScaleOutCluster {
  label: string;
  refiners: number;
  /** the CPUs its refiners were pinned to, one each */
  cpus: number[];
  /** its timed runs' wall time, ms */
  wallMs: number;
  /** CPU time by process over those runs (nats-server included), ms */
  cpuMs: Record<string, number>;
  /** peak RSS by process, MB */
  memoryMb: Record<string, number>;
  /** its scheduler's ε routing over those runs */
  routing?: { instances: number; routedCalls: number; parts: number; queueCalls: number; fallbacks: number };
  /** for each of its repetitions, the share of the machine that processes outside the bench used meanwhile */
  outsideShare?: number[];
}

/** The scale-out stage: its own run (`--scale-out-only` merges it into the existing results). */
export interface ScaleOutResult {
  command: string;
  date: string;
  quick: boolean;
  machine: { cpus: number; cpuModel: string; node: string };
  settings: { model: string; refinerSha256: string; sampler: string; steps: number; reps: number; minRepMs: number; jobs: number; cpus: [number, number] };
  /** path 'scale-out', one row per cluster (refiners 1 and 2) */
  rows: Row[];
  clusters: ScaleOutCluster[];
  /** CPU time of processes outside the bench over the timed runs, and the machine's capacity over them, ms */
  outside: { cpuMs: number; capacityMs: number };
}

export interface BenchResult {
  command: string;
  date: string;
  quick: boolean;
  machine: { cpus: number; cpuModel: string; node: string };
  settings: { model: string; refinerSha256: string; gflopPerImageStep: number; sampler: string; steps: number; reps: number; minRepMs: number; threads: number; spinning: boolean; instances?: number; concurrent: number };
  ceilingGflops: number;
  rows: Row[];
  /** why the PyTorch loop did not run, when it did not */
  pytorchSkipped?: string;
  memoryMb: Record<string, number>;
  /** CPU time by process over every end-to-end run, and the wall time of those runs (ms) */
  cpu: { e2eMs: Record<string, number>; e2eWallMs: number };
  /** the scale-out stage, when it ran (now or in an earlier run whose results were kept) */
  scaleOut?: ScaleOutResult;
  /** the median over repetitions of each repetition's ratio (the scale-out one included) */
  ratio: Record<string, number | null>;
  /** the lowest and highest of those per-repetition ratios */
  ratioRange: Record<string, [number, number]>;
  /** how many paired repetitions each ratio is the median of */
  ratioReps?: Record<string, number>;
}

/** What the issue asks the benchmark to be able to show. */
export const TARGETS: Record<string, number> = {
  e2e_vs_raw_b64: 0.95,
  e2e_vs_raw_b1: 0.8,
  concurrent16_vs_raw_b16: 0.9,
  e2e_vs_pytorch_b64: 1.3,
  refiners2_vs_1: 1.7,
  int8_vs_fp32_raw_b64: 1.5,
  raw_b64_vs_ceiling: 0.8,
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
export function ratios(
  rows: readonly Row[],
  concurrent: number,
  ceilingGflops?: number,
): { ratio: Record<string, number | null>; range: Record<string, [number, number]>; reps: Record<string, number> } {
  const find = (path: BenchPath, batch: number) => rows.find((r) => r.path === path && r.batch === batch);
  const rates = (r: Row) => r.repMs.map((ms) => (r.batch * r.jobs * r.runsPerRep * 1000) / ms);
  const ratio: Record<string, number | null> = {};
  const range: Record<string, [number, number]> = {};
  const reps: Record<string, number> = {};
  const add = (key: string, a: Row | undefined, b: Row | undefined) => {
    if (!a || !b || a.repMs.length === 0 || a.repMs.length !== b.repMs.length) return void (ratio[key] = null);
    const [ra, rb] = [rates(a), rates(b)];
    const per = ra.map((x, i) => x / rb[i]!);
    ratio[key] = round(median(per), 3);
    range[key] = [round(Math.min(...per), 3), round(Math.max(...per), 3)];
    reps[key] = per.length;
  };
  if (rows.some((r) => r.path !== 'scale-out')) {
    for (const b of [64, 16, 1]) add(`e2e_vs_raw_b${b}`, find('e2e', b), find('raw', b));
    add(`concurrent${concurrent}_vs_raw_b${concurrent}`, find('e2e-concurrent', 1), find('raw', concurrent));
    for (const b of [64, 16, 1]) add(`e2e_vs_pytorch_b${b}`, find('e2e', b), find('pytorch', b));
    add('raw_vs_pytorch_b64', find('raw', 64), find('pytorch', 64));
    for (const b of [64, 16, 1]) add(`int8_vs_fp32_raw_b${b}`, find('raw-int8', b), find('raw', b));
    // the raw refiner's arithmetic rate against the best MatMul of the same run (one number: the ceiling is a peak)
    const raw64 = find('raw', 64);
    ratio.raw_b64_vs_ceiling = raw64 && ceilingGflops ? round(raw64.gflops / ceilingGflops, 3) : null;
  }
  const scaleOut = (n: number) => rows.find((r) => r.path === 'scale-out' && r.refiners === n);
  if (scaleOut(1) || scaleOut(2)) add('refiners2_vs_1', scaleOut(2), scaleOut(1));
  return { ratio, range, reps };
}

/** Which stages a run measured: the others' results come from the outputs of an earlier run. */
export interface Measured {
  main: boolean;
  scaleOut: boolean;
}

/**
 * The results to write: what this run measured, and for the stages it did not run, what the earlier outputs had
 * (`previous`, when there were any): a `--scale-out-only` run keeps the other rows, a `--no-scale-out` run the
 * scale-out ones. The ratios are formed again from the rows kept.
 */
export function mergeResults(previous: BenchResult | undefined, current: BenchResult, measured: Measured): BenchResult {
  const main = measured.main || !previous ? current : previous;
  const scaleOut = measured.scaleOut ? current.scaleOut : previous?.scaleOut;
  const { ratio, range, reps } = ratios([...main.rows, ...(scaleOut?.rows ?? [])], main.settings.concurrent, main.ceilingGflops);
  const merged: BenchResult = { ...main, ratio, ratioRange: range, ratioReps: reps };
  if (scaleOut) merged.scaleOut = scaleOut;
  else delete merged.scaleOut;
  return merged;
}

const round = (x: number, digits: number) => Math.round(x * 10 ** digits) / 10 ** digits;
const fmt = (x: number, digits = 1) => x.toFixed(digits);

const LABEL: Record<BenchPath, string> = {
  raw: 'raw: onnxruntime-node in-process',
  'raw-int8': 'raw, the int8 refiner (REFINER_PRECISION=int8)',
  e2e: 'end to end: GraphQL → NATS → services',
  'e2e-concurrent': 'end to end: concurrent single-image jobs',
  pytorch: 'PyTorch eager (trainer’s model)',
  'scale-out': 'end to end: refiner replicas pinned to one core each',
};

export function markdown(r: BenchResult): string {
  const s = r.settings;
  const main = r.rows.length > 0;
  const lines = [
    '# Benchmarks',
    '',
    ...(main
      ? [
          `Measured by \`${r.command}\` on ${r.date}${r.quick ? ' — a **quick** run (few steps, one repetition): indicative only' : ''}.`,
          `Machine: ${r.machine.cpus} × ${r.machine.cpuModel}, Node ${r.machine.node}. Model \`${s.model}\` (refiner sha256 \`${s.refinerSha256.slice(0, 12)}…\`, ${s.gflopPerImageStep} GFLOP per image-step).`,
          `Every path runs ${s.sampler}${s.sampler === 'DDIM' ? ' (η = 0, as the PyTorch loop)' : ''} with ${s.steps} steps, ${s.reps} timed repetition(s) after a warm-up, onnxruntime intra-op threads ${s.threads === 0 ? '0 (every core)' : s.threads}, idle threads ${s.spinning ? 'spinning' : 'sleeping'} (\`ORT_SPINNING=${s.spinning ? 1 : 0}\`), refiner instances ${s.instances ?? 1} (\`REFINER_INSTANCES\`, the in-process paths too).`,
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
        ]
      : ['The raw, end-to-end and PyTorch paths have not been measured into this file: `npm run bench` runs them (and the scale-out stage).', '']),
    ...ratioTable(r),
    ...(main
      ? [
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
          '- **PyTorch eager**: `tools/train/train.sh sample` (the reference loop with the trainer’s EMA U-Net; its weights are the model set’s ONNX files read back into PyTorch, or `--ckpt-dir`’s checkpoints), one process per',
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
        ]
      : []),
    ...scaleOutSection(r),
  ];
  return lines.join('\n');
}

/** Every ratio, the scale-out one included, with the repetitions it pairs and its target. */
function ratioTable(r: BenchResult): string[] {
  const entries = Object.entries(r.ratio);
  if (entries.length === 0) return [];
  return [
    '| ratio (images/s) | paired reps | median | lowest – highest | target |',
    '|---|---:|---:|---:|---|',
    ...entries.map(([k, v]) => {
      const t = TARGETS[k];
      const verdict = t === undefined || v === null ? '' : `≥ ${t} ${v >= t ? '(met)' : '(**not met**)'}`;
      const span = r.ratioRange[k];
      return `| ${k} | ${r.ratioReps?.[k] ?? ''} | ${v === null ? 'n/a' : v.toFixed(3)} | ${span ? `${span[0].toFixed(3)} – ${span[1].toFixed(3)}` : ''} | ${verdict} |`;
    }),
    '',
  ];
}

/** Each repetition's throughput on both clusters, their ratio, and how much of the machine other processes took meanwhile. */
function perRepTable(so: ScaleOutResult): string[] {
  const [one, two] = [so.rows.find((x) => x.refiners === 1), so.rows.find((x) => x.refiners === 2)];
  const [c1, c2] = [so.clusters.find((c) => c.refiners === 1), so.clusters.find((c) => c.refiners === 2)];
  if (!one || !two || one.repMs.length !== two.repMs.length) return [];
  const rate = (x: Row, i: number) => (x.jobs * x.runsPerRep * 1000) / x.repMs[i]!;
  const other = (c: ScaleOutCluster | undefined, i: number) => (c?.outsideShare?.[i] === undefined ? '' : `${fmt(100 * c.outsideShare[i]!, 0)}%`);
  return [
    '| repetition | 1 refiner: images/s | other load | 2 refiners: images/s | other load | ratio |',
    '|---:|---:|---:|---:|---:|---:|',
    ...one.repMs.map((_, i) => `| ${i + 1} | ${fmt(rate(one, i), 2)} | ${other(c1, i)} | ${fmt(rate(two, i), 2)} | ${other(c2, i)} | ${(rate(two, i) / rate(one, i)).toFixed(3)} |`),
    '',
  ];
}

/** CPU time of a cluster's refiner processes, ms */
const refinerCpuMs = (c: ScaleOutCluster) => Object.entries(c.cpuMs).reduce((a, [k, v]) => a + (k === 'refiner' || k.startsWith('refiner ') ? v : 0), 0);

/** The scale-out stage: its own run, settings, table, ratio, CPU and memory by cluster. */
function scaleOutSection(r: BenchResult): string[] {
  const so = r.scaleOut;
  if (!so) return [];
  const s = so.settings;
  const ratio = r.ratio.refiners2_vs_1;
  const span = r.ratioRange.refiners2_vs_1;
  const target = TARGETS.refiners2_vs_1!;
  const cluster = (n: number) => so.clusters.find((c) => c.refiners === n);
  const row = (n: number) => so.rows.find((x) => x.refiners === n);
  const outsideShare = so.outside.capacityMs > 0 ? so.outside.cpuMs / so.outside.capacityMs : 0;
  const processes = [...new Set(so.clusters.flatMap((c) => Object.keys(c.cpuMs)))].sort(
    (a, b) => Math.max(...so.clusters.map((c) => c.cpuMs[b] ?? 0)) - Math.max(...so.clusters.map((c) => c.cpuMs[a] ?? 0)),
  );
  const share = (c: ScaleOutCluster, ms: number | undefined) => (ms === undefined ? '' : `${fmt(ms / 1000, 1)} s (${fmt((100 * ms) / (c.wallMs * so.machine.cpus))}%)`);
  const routed = cluster(2)?.routing;
  return [
    '## Scale-out: two refiner replicas against one',
    '',
    `Measured by \`${so.command}\` on ${so.date}${so.quick ? ' — a **quick** run: indicative only' : ''}. Machine: ${so.machine.cpus} × ${so.machine.cpuModel}, Node ${so.machine.node}; model \`${s.model}\` (refiner sha256 \`${s.refinerSha256.slice(0, 12)}…\`).`,
    '',
    `Two clusters as \`npm start\` runs them (nats-server, gateway, encoder, vae-decoder, scheduler and refiners), one with one refiner`,
    `pinned to CPU ${s.cpus[0]}, one with two pinned to CPUs ${s.cpus[0]} and ${s.cpus[1]} (\`taskset -c\` from their start, \`ORT_THREADS=1\`: one core each; the`,
    'other processes are not pinned). The scheduler splits each tick over the refiners it found (`EPS_ROUTING=least-outstanding`,',
    'parts of at least `EPS_MIN_PART`, each to the replica with the least outstanding items, on its own subject). Each',
    `repetition runs the same load on each cluster in turn, one cluster busy at a time: ${row(1)?.runsPerRep ?? 1} round(s) of ${s.jobs} single-image`,
    `\`generate\` jobs submitted at once, ${s.sampler}${s.sampler === 'DDIM' ? ' (η = 0)' : ''} with ${s.steps} steps; odd repetitions start with the other cluster.`,
    `\`refiners2_vs_1\` is the median over the ${s.reps} repetition(s) of the two clusters’ throughput ratio within one.`,
    '',
    '| cluster | refiners (CPUs) | jobs at once | rounds per rep | images/s | image-steps/s | p50 ms | p95 ms | refiner busy | refiners’ CPU (cores) | images per refiner CPU-second |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...so.rows.map((x) => {
      const c = cluster(x.refiners ?? 1);
      const busy = c && x.engineMs !== undefined && c.wallMs > 0 ? `${fmt((100 * x.engineMs) / (c.wallMs * c.refiners))}%` : '';
      const cpu = c ? refinerCpuMs(c) : 0;
      const images = x.jobs * x.runsPerRep * x.repMs.length;
      const used = c && c.wallMs > 0 && cpu > 0 ? fmt(cpu / c.wallMs, 2) : '';
      const perCpu = cpu > 0 ? fmt(images / (cpu / 1000), 3) : '';
      return `| ${c?.label ?? ''} | ${x.refiners} (${c?.cpus.join(', ') ?? ''}) | ${x.jobs} | ${x.runsPerRep} | ${fmt(x.imagesPerSec, 2)} | ${fmt(x.imageStepsPerSec)} | ${fmt(x.p50Ms, 0)} | ${fmt(x.p95Ms, 0)} | ${busy} | ${used} | ${perCpu} |`;
    }),
    '',
    'Refiner busy: the share of the wall time each refiner spent in onnxruntime runs (its `busyMs`). The refiners’ CPU is the',
    'CPU time their processes got over the wall time: what the machine let them have. Images per refiner CPU-second alike',
    'in both clusters mean that splitting the ticks costs no work; the throughput ratio then follows the cores the refiners got.',
    '',
    `**refiners2_vs_1 = ${ratio === null || ratio === undefined ? 'n/a' : ratio.toFixed(3)}**${span ? ` (per repetition ${span[0].toFixed(3)} – ${span[1].toFixed(3)})` : ''}; target ≥ ${target}${ratio === null || ratio === undefined ? '' : ratio >= target ? ' (met)' : ' (**not met**)'}.`,
    '',
    ...(routed
      ? [
          `Routing in the two-refiner cluster over the timed runs: ${routed.routedCalls} ε calls split into ${routed.parts} parts on the replicas’ own subjects, ${routed.queueCalls} sent whole to the queue group, ${routed.fallbacks} part(s) sent again through it after a replica failed.`,
          '',
        ]
      : []),
    ...perRepTable(so),
    `Other load: processes outside the bench used ${fmt(so.outside.cpuMs / 1000, 1)} core-seconds of the ${fmt(so.outside.capacityMs / 1000, 1)} the machine had over the timed runs (${fmt(100 * outsideShare)}%)${outsideShare > 0.05 ? ': the machine was shared while this was measured, and the numbers are noisy; measure again on a quiet machine' : ''}.`,
    '',
    `CPU time by process over each cluster’s timed runs (and its share of the ${so.machine.cpus} cores):`,
    '',
    `| process | ${so.clusters.map((c) => c.label).join(' | ')} |`,
    `|---|${so.clusters.map(() => '---:').join('|')}|`,
    ...processes.map((p) => `| ${p} | ${so.clusters.map((c) => share(c, c.cpuMs[p])).join(' | ')} |`),
    '',
    `| process | ${so.clusters.map((c) => `peak RSS (MB), ${c.label}`).join(' | ')} |`,
    `|---|${so.clusters.map(() => '---:').join('|')}|`,
    ...[...new Set(so.clusters.flatMap((c) => Object.keys(c.memoryMb)))].map((p) => `| ${p} | ${so.clusters.map((c) => (c.memoryMb[p] === undefined ? '' : fmt(c.memoryMb[p]!, 0))).join(' | ')} |`),
    '',
  ];
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
