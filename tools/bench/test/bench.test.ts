import { OnnxModel } from '@diffusevae/models';
import { describe, expect, it } from 'vitest';
import { ArgError, parseArgs } from '../src/args.js';
import { matMulModel } from '../src/ceiling.js';
import { anatomy, median, ratios, type Row } from '../src/report.js';
import { measurement, percentile } from '../src/stats.js';

const defaults = { modelDir: 'models/fmnist', ckptDir: 'ckpt' };

describe('parseArgs', () => {
  it('has a full default and a quick run', () => {
    expect(parseArgs([], {}, defaults)).toMatchObject({ steps: 50, reps: 7, minRepMs: 6000, batches: [1, 16, 64], concurrent: 16, sampler: 'DDIM', ckptDir: 'ckpt', quick: false });
    expect(parseArgs(['--quick', '--reps', '2'], { DIFFUSEVAE_CKPT_DIR: '/c' }, defaults)).toMatchObject({ steps: 5, reps: 2, ckptDir: '/c', quick: true });
    expect(parseArgs(['--batches', '4,8', '--sampler', 'ddpm', '--no-pytorch'], {}, defaults)).toMatchObject({ batches: [4, 8], sampler: 'DDPM', ckptDir: undefined });
  });

  it.each([
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
