import { describe, expect, it } from 'vitest';
import {
  DdimScheduler,
  DdpmScheduler,
  SchedulerError,
  alphaBars,
  createScheduler,
  DEFAULT_SAMPLER,
  linearBetas,
  roundHalfEven,
  runReverseProcess,
  spacedTimesteps,
  timestepForNoiseLevel,
  DEFAULT_SCHEDULE,
} from '../src/index.js';

function randn(n: number, seed: number): Float32Array {
  // small LCG + Box-Muller: test data only
  let s = seed >>> 0;
  const u = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) + 0.5) / 2 ** 32;
  return Float32Array.from({ length: n }, () => Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u()));
}

describe('schedule', () => {
  it('is the linear β schedule of Ho et al.', () => {
    const b = linearBetas(DEFAULT_SCHEDULE);
    expect(b[0]).toBe(1e-4);
    expect(b[999]).toBe(0.02);
    const ab = alphaBars(b);
    expect(ab[0]).toBeCloseTo(1 - 1e-4, 12);
    expect(ab[999]).toBeGreaterThan(3e-5);
    expect(ab[999]).toBeLessThan(5e-5);
  });

  it('finds the timestep whose noise level matches σ', () => {
    const ab = alphaBars(linearBetas(DEFAULT_SCHEDULE));
    for (const sigma of [0.2, 0.4, 0.6]) {
      const t = timestepForNoiseLevel(ab, sigma);
      expect(Math.sqrt((1 - ab[t]!) / ab[t]!)).toBeCloseTo(sigma, 2);
    }
    expect(() => timestepForNoiseLevel(ab, -1)).toThrow(/sigma: must be a positive number/);
  });
});

describe('spacing', () => {
  it('rounds half to even like numpy', () => {
    expect([0.5, 1.5, 2.5, -0.5, 812.5, 937.5, 2.4].map(roundHalfEven)).toEqual([0, 2, 2, -0, 812, 938, 2]);
  });

  it.each(['leading', 'trailing', 'linspace', 'quad'] as const)('%s gives distinct descending timesteps in range', (spacing) => {
    for (const n of [1, 5, 10, 50]) {
      const ts = spacedTimesteps(1000, n, spacing);
      expect(ts).toHaveLength(n);
      for (let i = 1; i < n; i++) expect(ts[i]!).toBeLessThan(ts[i - 1]!);
      expect(ts[n - 1]!).toBeGreaterThanOrEqual(0);
      expect(ts[0]!).toBeLessThan(1000);
    }
  });

  it('matches the reference formulas', () => {
    expect(spacedTimesteps(1000, 10, 'leading')).toEqual([900, 800, 700, 600, 500, 400, 300, 200, 100, 0]);
    expect(spacedTimesteps(1000, 10, 'trailing')).toEqual([999, 899, 799, 699, 599, 499, 399, 299, 199, 99]);
    expect(spacedTimesteps(1000, 4, 'linspace')).toEqual([999, 666, 333, 0]);
    expect(spacedTimesteps(1000, 1000, 'leading')[0]).toBe(999);
  });

  it('names the field when steps are out of range', () => {
    expect(() => spacedTimesteps(1000, 1200, 'leading')).toThrow(SchedulerError);
    expect(() => spacedTimesteps(1000, 1200, 'leading')).toThrow(/^steps: must be an integer in \[1, 1000\]/);
    expect(() => spacedTimesteps(1000, 0, 'leading')).toThrow(/^steps:/);
    expect(spacedTimesteps(1000, 1000, 'quad')).toEqual(Array.from({ length: 1000 }, (_, i) => 999 - i));
    expect(() => spacedTimesteps(1000, 10, 'leading', 1000)).toThrow(/^startTimestep:/);
    expect(() => spacedTimesteps(1000, 10, 'bogus' as never)).toThrow(/^timestepSpacing: must be one of/);
  });
});

describe('DDPM and DDIM steps', () => {
  const n = 64;
  const x = randn(n, 1);
  const eps = randn(n, 2);
  const z = randn(n, 3);

  it('DDIM with η = 1 is the DDPM step with the posterior variance (fixedsmall)', () => {
    const ddpm = new DdpmScheduler({ varianceType: 'fixedsmall', clipSample: false }).setTimesteps(20);
    const ddim = new DdimScheduler({ clipSample: false }).setTimesteps(20, { eta: 1 });
    for (const i of [0, 5, 18]) {
      const a = ddpm.step(eps, i, x, z).prevSample;
      const b = ddim.step(eps, i, x, z).prevSample;
      for (let j = 0; j < n; j++) expect(b[j]!).toBeCloseTo(a[j]!, 5);
    }
  });

  it('DDIM with η = 0 is deterministic and needs no noise', () => {
    const ddim = new DdimScheduler().setTimesteps(10);
    expect(ddim.step(eps, 3, x).prevSample).toEqual(ddim.step(eps, 3, x).prevSample);
    expect(ddim.addsNoise(3)).toBe(false);
  });

  it('the last DDPM step returns the posterior mean without noise', () => {
    const ddpm = new DdpmScheduler().setTimesteps(10);
    expect(ddpm.addsNoise(9)).toBe(false);
    expect(ddpm.step(eps, 9, x).prevSample).toEqual(ddpm.step(eps, 9, x, z).prevSample);
    expect(() => ddpm.step(eps, 3, x)).toThrow(/^noise: is required/);
  });

  it('recovers x_0 exactly from a consistent ε at the last step', () => {
    const x0 = Float32Array.from(randn(n, 4), (v) => Math.max(-1, Math.min(1, v / 3)));
    const ddim = new DdimScheduler().setTimesteps(10);
    const t = ddim.timesteps[9]!;
    const ab = alphaBars(linearBetas(DEFAULT_SCHEDULE))[t]!;
    const xt = Float32Array.from(x0, (v, j) => Math.sqrt(ab) * v + Math.sqrt(1 - ab) * eps[j]!);
    const out = ddim.step(eps, 9, xt).prevSample;
    for (let j = 0; j < n; j++) expect(out[j]!).toBeCloseTo(x0[j]!, 5);
  });

  it('clips the predicted x_0', () => {
    const big = Float32Array.from(x, (v) => v * 50);
    const { predOriginalSample } = new DdpmScheduler().setTimesteps(10).step(eps, 0, big, z);
    for (const v of predOriginalSample) expect(Math.abs(v)).toBeLessThanOrEqual(1);
  });

  it('rejects a step index outside the timesteps and mismatched lengths', () => {
    const ddim = new DdimScheduler().setTimesteps(10);
    expect(() => ddim.step(eps, 10, x)).toThrow(/^stepIndex: must be an integer in \[0, 9\]/);
    expect(() => ddim.step(eps.subarray(1), 0, x)).toThrow(/^modelOutput:/);
    expect(() => new DdimScheduler().setTimesteps(10, { eta: 2 })).toThrow(/^eta: must be a number in \[0, 1\]/);
  });
});

describe('createScheduler and runReverseProcess', () => {
  it('names the bad field', () => {
    expect(() => createScheduler({ ...DEFAULT_SAMPLER, steps: 1200 })).toThrow(/^steps: must be an integer in \[1, 1000\] \(numTrainTimesteps\), got 1200/);
    expect(() => createScheduler({ ...DEFAULT_SAMPLER, kind: 'EULER' as never })).toThrow(/^kind: must be one of DDPM, DDIM, DPMPP_2M, DPMPP_2M_SDE/);
    expect(() => createScheduler({ ...DEFAULT_SAMPLER, temperature: Number.NaN })).toThrow(/^temperature:/);
    expect(() => createScheduler({ ...DEFAULT_SAMPLER, formulation: 3 as never })).toThrow(/^formulation:/);
  });

  const itemSize = 16;
  // ε that pulls every pixel toward the conditioning image: enough to see the loop's plumbing
  const epsModel = async (xt: Float32Array, t: readonly number[], cond: Float32Array) => {
    const ab = alphaBars(linearBetas(DEFAULT_SCHEDULE));
    return Float32Array.from(xt, (v, j) => {
      const a = ab[t[Math.floor(j / itemSize)]!]!;
      return (v - Math.sqrt(a) * cond[j]!) / Math.sqrt(1 - a);
    });
  };

  it('is reproducible from a seed and gives each sample its own noise', async () => {
    const cond = Float32Array.from({ length: 3 * itemSize }, (_, j) => Math.sin(j) * 0.5);
    const run = (seed: number, count = 3, first = 0, c = cond) =>
      runReverseProcess({ settings: { ...DEFAULT_SAMPLER, kind: 'DDPM', steps: 20 }, seed, count, firstSample: first, itemSize, cond: c, epsModel });
    const a = await run(5);
    expect(await run(5)).toEqual(a);
    expect(await run(6)).not.toEqual(a);
    // sample 1 alone gives the same values as inside the batch of 3
    expect(await run(5, 1, 1, cond.subarray(itemSize, 2 * itemSize))).toEqual(a.subarray(itemSize, 2 * itemSize));
    // with an ε that is exact for x_0 = cond, the result is cond
    for (let j = 0; j < a.length; j++) expect(a[j]!).toBeCloseTo(cond[j]!, 3);
  });

  it('reports every step in order', async () => {
    const seen: number[] = [];
    await runReverseProcess({
      settings: { ...DEFAULT_SAMPLER, steps: 7 },
      seed: 1,
      count: 1,
      itemSize,
      cond: new Float32Array(itemSize),
      epsModel,
      onStep: ({ stepIndex }) => void seen.push(stepIndex),
    });
    expect(seen).toEqual([0, 1, 2, 3, 4, 5, 6]);
  });
});
