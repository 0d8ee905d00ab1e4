import { OnnxModel } from '@diffusevae/models';
import { describe, expect, it } from 'vitest';
import { ArgError, parseArgs } from '../src/args.js';
import { matMulModel } from '../src/ceiling.js';
import { anatomy, markdown, median, mergeResults, ratios, type BenchResult, type Row, type ScaleOutResult } from '../src/report.js';
import { measurement, percentile } from '../src/stats.js';

const defaults = { modelDir: 'models/fmnist' };

describe('parseArgs', () => {
  it('has a full default and a quick run', () => {
    expect(parseArgs([], {}, defaults)).toMatchObject({ steps: 50, reps: 7, minRepMs: 6000, batches: [1, 16, 64], concurrent: 16, sampler: 'DDIM', pytorch: true, ckptDir: undefined, quick: false });
    expect(parseArgs(['--quick', '--reps', '2'], { DIFFUSEVAE_CKPT_DIR: '/c' }, defaults)).toMatchObject({ steps: 5, reps: 2, ckptDir: '/c', quick: true });
    expect(parseArgs(['--batches', '4,8', '--sampler', 'ddpm', '--no-pytorch'], {}, defaults)).toMatchObject({ batches: [4, 8], sampler: 'DDPM', pytorch: false });
  });

  it('runs the scale-out stage with the others, alone, or not', () => {
    expect(parseArgs([], {}, defaults)).toMatchObject({ scaleOut: 'with', scaleOutJobs: 32, scaleOutCpus: [0, 1] });
    expect(parseArgs(['--scale-out-only', '--scale-out-jobs', '24', '--scale-out-cpus', '2,3'], {}, defaults)).toMatchObject({ scaleOut: 'only', scaleOutJobs: 24, scaleOutCpus: [2, 3] });
    expect(parseArgs(['--no-scale-out'], {}, defaults)).toMatchObject({ scaleOut: 'skip' });
  });

  it.each([
    [['--scale-out-only', '--no-scale-out'], /^--no-scale-out: not with --scale-out-only$/],
    [['--scale-out-cpus', '0'], /^--scale-out-cpus: must be two different CPUs/],
    [['--scale-out-cpus', '1,1'], /^--scale-out-cpus: must be two different CPUs/],
    [['--scale-out-jobs', '0'], /^--scale-out-jobs: must be an integer in \[1, 64\]/],
    [['--steps', '0'], /^--steps: must be an integer in \[1, 1000\], got "0"$/],
    [['--batches', '1,x'], /^--batches: must be an integer/],
    [['--sampler', 'pndm'], /^--sampler: must be ddim or ddpm/],
    [['--reps'], /^--reps: needs a value$/],
    [['--min-rep-ms', '-1'], /^--min-rep-ms: must be an integer in \[0, 600000\]/],
    [['--fast'], /^unknown flag "--fast"/],
  ])('rejects %j naming the flag', (argv, message) => {
    expect(() => parseArgs(argv, {}, defaults)).toThrow(ArgError);
    expect(() => parseArgs(argv, {}, defaults)).toThrow(message);
  });
});

describe('measurements', () => {
  it('takes nearest-rank percentiles and derives throughput and GFLOP/s', () => {
    expect(percentile([5, 1, 4, 2, 3], 50)).toBe(3);
    expect(percentile([5, 1, 4, 2, 3], 95)).toBe(5);
    expect(measurement({ images: 4, steps: 10, wallMs: 2000, latenciesMs: [500], gflopPerImageStep: 0.5 })).toEqual({
      imagesPerSec: 2,
      imageStepsPerSec: 20,
      p50Ms: 500,
      p95Ms: 500,
      gflops: 10,
    });
  });

  it('forms each ratio of images/s as the median of the per-repetition ratios, null where a side is missing', () => {
    const row = (path: Row['path'], batch: number, repMs: number[], jobs = 1, runsPerRep = 1): Row => ({ path, batch, jobs, runsPerRep, repMs, imagesPerSec: 0, imageStepsPerSec: 0, p50Ms: 0, p95Ms: 0, gflops: 0 });
    const { ratio, range } = ratios(
      [
        // rep 2 is a slow spell for both paths: the pair keeps its ratio
        row('raw', 64, [1000, 2000, 1000]),
        row('e2e', 64, [1000 / 0.96, 2000 / 0.96, 1000 / 0.9]),
        row('raw', 16, [100, 100, 100]),
        row('e2e-concurrent', 1, [100 / 0.95, 100 / 0.9, 100 / 0.97], 16),
        row('pytorch', 64, [1600 / 0.96, 3200 / 0.96, 1600 / 0.9]),
        // 4 jobs per repetition at batch 1 (10 ms a raw job, 12.5 an end-to-end one) against one PyTorch job a repetition
        row('raw', 1, [40, 40], 1, 4),
        row('e2e', 1, [50, 50], 1, 4),
        row('pytorch', 1, [100, 100]),
        row('e2e', 16, [12]),
      ],
      16,
    );
    expect(ratio).toMatchObject({ e2e_vs_raw_b64: 0.96, concurrent16_vs_raw_b16: 0.95, e2e_vs_pytorch_b64: 1.6, e2e_vs_raw_b1: 0.8, e2e_vs_pytorch_b1: 8, e2e_vs_raw_b16: null });
    expect(range.e2e_vs_raw_b64).toEqual([0.9, 0.96]);
    expect(range.e2e_vs_raw_b16).toBeUndefined();
    expect(ratio.raw_b64_vs_ceiling).toBeNull(); // no ceiling given
    const raw64 = { ...row('raw', 64, [1000]), gflops: 45 };
    expect(ratios([raw64], 16, 60).ratio.raw_b64_vs_ceiling).toBe(0.75);
  });

  it('forms refiners2_vs_1 from the scale-out rows, paired by repetition', () => {
    const row = (refiners: number, repMs: number[]): Row => ({ path: 'scale-out', batch: 1, jobs: 32, runsPerRep: 1, refiners, repMs, imagesPerSec: 0, imageStepsPerSec: 0, p50Ms: 0, p95Ms: 0, gflops: 0 });
    // rep 2 is a slow spell for both clusters
    const { ratio, range, reps } = ratios([row(1, [10_000, 20_000, 10_000]), row(2, [10_000 / 1.8, 20_000 / 1.8, 10_000 / 1.6])], 16);
    expect(ratio).toEqual({ refiners2_vs_1: 1.8 });
    expect(range.refiners2_vs_1).toEqual([1.6, 1.8]);
    expect(reps.refiners2_vs_1).toBe(3);
  });

  it('takes the end-to-end ratio apart into time between refiner runs and slower runs', () => {
    const base = { jobs: 1, runsPerRep: 1, imagesPerSec: 0, imageStepsPerSec: 0, p50Ms: 0, p95Ms: 0, gflops: 0 };
    // raw: 2 reps of 1000 ms, 900 ms of each in onnxruntime; end to end: 2 reps of 1250 ms, 990 ms of each in the refiner
    const rows: Row[] = [
      { ...base, path: 'raw', batch: 4, repMs: [1000, 1000], engineMs: 1800 },
      { ...base, path: 'e2e', batch: 4, repMs: [1250, 1250], engineMs: 1980 },
      { ...base, path: 'e2e-concurrent', batch: 1, jobs: 4, repMs: [1000, 1000], engineMs: 1900 },
      { ...base, path: 'e2e', batch: 8, repMs: [1000], engineMs: 900 }, // no raw row at 8
    ];
    const a = anatomy(rows, 4);
    expect(a).toEqual([
      { path: 'e2e', batch: 4, rawBusy: 0.9, refinerBusy: 0.792, runSlowdown: 1.1 },
      { path: 'e2e-concurrent', batch: 4, rawBusy: 0.9, refinerBusy: 0.95, runSlowdown: 1.056 },
    ]);
    // the factors give back the throughput ratio: (0.792 / 0.9) / 1.1 = 0.8 = 1000 / 1250
    expect(a[0]!.refinerBusy / a[0]!.rawBusy / a[0]!.runSlowdown).toBeCloseTo(1000 / 1250, 2);
  });

  it('takes the median of odd and even counts', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(() => median([])).toThrow(RangeError);
  });
});

describe('matMulModel', () => {
  it('is an ONNX MatMul that onnxruntime loads and runs', async () => {
    const m = await OnnxModel.create('matmul', matMulModel(3), { intraOpThreads: 1 });
    const a = Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const eye = Float32Array.from([1, 0, 0, 0, 1, 0, 0, 0, 1]);
    const out = await m.run({ A: { data: a, shape: [3, 3] }, B: { data: eye, shape: [3, 3] } });
    expect(Array.from(out.C!.data)).toEqual(Array.from(a));
    await m.release();
  });
});

describe('merging a partial run into the outputs', () => {
  const base = { batch: 1, jobs: 1, runsPerRep: 1, imagesPerSec: 1, imageStepsPerSec: 50, p50Ms: 1000, p95Ms: 1000, gflops: 1 };
  const settings = { model: 'fmnist', refinerSha256: 'a'.repeat(64), gflopPerImageStep: 0.55, sampler: 'DDIM', steps: 50, reps: 2, minRepMs: 0, threads: 0, spinning: false, concurrent: 16 };
  const mainRun = (date: string, rawMs: number): BenchResult => ({
    command: 'npm run bench',
    date,
    quick: false,
    machine: { cpus: 2, cpuModel: 'cpu', node: 'v20' },
    settings,
    ceilingGflops: 100,
    rows: [
      { ...base, path: 'raw', batch: 64, repMs: [rawMs, rawMs] },
      { ...base, path: 'e2e', batch: 64, repMs: [rawMs / 0.96, rawMs / 0.96] },
    ],
    memoryMb: { refiner: 300 },
    cpu: { e2eMs: {}, e2eWallMs: 0 },
    ratio: {},
    ratioRange: {},
  });
  const scaleOut = (date: string, ratio: number): ScaleOutResult => ({
    command: 'npm run bench -- --scale-out-only',
    date,
    quick: false,
    machine: { cpus: 2, cpuModel: 'cpu', node: 'v20' },
    settings: { model: 'fmnist', refinerSha256: 'a'.repeat(64), sampler: 'DDIM', steps: 50, reps: 2, minRepMs: 0, jobs: 32, cpus: [0, 1] },
    rows: [
      { ...base, path: 'scale-out', jobs: 32, refiners: 1, repMs: [10_000, 12_000], engineMs: 21_000 },
      { ...base, path: 'scale-out', jobs: 32, refiners: 2, repMs: [10_000 / ratio, 12_000 / ratio], engineMs: 20_000 },
    ],
    clusters: [
      { label: '1 refiner', refiners: 1, cpus: [0], wallMs: 22_000, cpuMs: { refiner: 21_500, scheduler: 300 }, memoryMb: { refiner: 300 }, outsideShare: [0.02, 0.3] },
      { label: '2 refiners', refiners: 2, cpus: [0, 1], wallMs: 12_000, cpuMs: { 'refiner 1': 11_000, 'refiner 2': 11_000, scheduler: 400 }, memoryMb: { 'refiner 1': 300 }, routing: { instances: 2, routedCalls: 100, parts: 200, queueCalls: 0, fallbacks: 0 } },
    ],
    outside: { cpuMs: 4000, capacityMs: 68_000 },
  });

  it('a scale-out-only run keeps the other rows and ratios, and replaces the scale-out results', () => {
    const before = mergeResults(undefined, { ...mainRun('d1', 1000), scaleOut: scaleOut('d1', 1.5) }, { main: true, scaleOut: true });
    expect(before.ratio).toMatchObject({ e2e_vs_raw_b64: 0.96, refiners2_vs_1: 1.5 });
    const only = { ...mainRun('d2', 0), rows: [], scaleOut: scaleOut('d2', 1.8) };
    const after = mergeResults(before, only, { main: false, scaleOut: true });
    expect(after.rows).toEqual(before.rows);
    expect(after.date).toBe('d1');
    expect(after.scaleOut!.date).toBe('d2');
    expect(after.ratio).toMatchObject({ e2e_vs_raw_b64: 0.96, refiners2_vs_1: 1.8 });
    expect(after.ratioReps).toMatchObject({ e2e_vs_raw_b64: 2, refiners2_vs_1: 2 });
    const md = markdown(after);
    expect(md).toContain('| e2e_vs_raw_b64 | 2 | 0.960 | 0.960 – 0.960 | ≥ 0.95 (met) |');
    expect(md).toContain('| refiners2_vs_1 | 2 | 1.800 | 1.800 – 1.800 | ≥ 1.7 (met) |');
    expect(md).toContain('## Scale-out: two refiner replicas against one');
    expect(md).toContain('Measured by `npm run bench -- --scale-out-only` on d2');
    expect(md).toContain('| raw: onnxruntime-node in-process | 64 |');
    expect(md).toContain('200 parts');
    expect(md).toContain('| 1 | 3.20 | 2% | 5.76 |  | 1.800 |');
    // 1 refiner: 21.5 s of CPU over 22 s for 64 images; 2 refiners: 22 s over 12 s for 64
    expect(md).toMatch(/\| 1 refiner \| 1 \(0\) \| 32 \| 1 \| .* \| 0\.98 \| 2\.977 \|/);
    expect(md).toMatch(/\| 2 refiners \| 2 \(0, 1\) \| 32 \| 1 \| .* \| 1\.83 \| 2\.909 \|/);
    // 4 of 68 core-seconds: over 5 %, said
    expect(md).toMatch(/Other load: processes outside the bench used 4\.0 core-seconds of the 68\.0 .* \(5\.9%\): the machine was shared/);
  });

  it('a run without the scale-out stage keeps the earlier scale-out results; with no earlier outputs, a partial run stands alone', () => {
    const first = mergeResults(undefined, { ...mainRun('d1', 1000), scaleOut: scaleOut('d1', 1.75) }, { main: true, scaleOut: true });
    const next = mergeResults(first, mainRun('d3', 2000), { main: true, scaleOut: false });
    expect(next.date).toBe('d3');
    expect(next.scaleOut!.date).toBe('d1');
    expect(next.ratio.refiners2_vs_1).toBe(1.75);
    const alone = mergeResults(undefined, { ...mainRun('d4', 0), rows: [], scaleOut: scaleOut('d4', 1.2) }, { main: false, scaleOut: true });
    expect(alone.rows).toEqual([]);
    expect(alone.ratio).toEqual({ refiners2_vs_1: 1.2 });
    const md = markdown(alone);
    expect(md).toContain('have not been measured into this file');
    expect(md).toContain('≥ 1.7 (**not met**)');
    expect(md).not.toContain('## What is measured');
  });
});
