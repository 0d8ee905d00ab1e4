import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_SAMPLER,
  DEFAULT_SCHEDULE,
  ReverseProcess,
  SAMPLER_KINDS,
  alphaBars,
  createScheduler,
  linearBetas,
  runReverseProcess,
  samplingSchedule,
  type EpsConditioning,
  type EpsModel,
  type NoiseScheduleConfig,
  type ReverseProcessSpec,
  type SamplerSettings,
  type StepResult,
} from '../src/index.js';

const PAPER = { betaStart: 1e-6, betaEnd: 0.8 }; // DiffuseVAE Table 3: Linear(1e-6, 0.8) over 10 steps
const paper = (s: Partial<SamplerSettings> = {}): SamplerSettings => ({ ...DEFAULT_SAMPLER, steps: 10, inferenceSchedule: PAPER, ...s });
const bytes = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

describe('inference schedule: validation', () => {
  it('names the field of a bad inferenceSchedule', () => {
    const bad = (inferenceSchedule: unknown) => () => createScheduler(paper({ inferenceSchedule: inferenceSchedule as never }));
    expect(bad({ betaStart: 0, betaEnd: 0.8 })).toThrow(/^inferenceSchedule\.betaStart: must be a number in \(0, 1\), got 0$/);
    expect(bad({ betaStart: -1e-6, betaEnd: 0.8 })).toThrow(/^inferenceSchedule\.betaStart:/);
    expect(bad({ betaStart: Number.NaN, betaEnd: 0.8 })).toThrow(/^inferenceSchedule\.betaStart:/);
    expect(bad({ betaStart: '1e-6', betaEnd: 0.8 })).toThrow(/^inferenceSchedule\.betaStart:/);
    expect(bad({ betaEnd: 0.8 })).toThrow(/^inferenceSchedule\.betaStart:/);
    expect(bad({ betaStart: 1e-6, betaEnd: 1 })).toThrow(/^inferenceSchedule\.betaEnd: must be a number in \[betaStart, 1\)/);
    expect(bad({ betaStart: 1e-6, betaEnd: Number.POSITIVE_INFINITY })).toThrow(/^inferenceSchedule\.betaEnd:/);
    expect(bad({ betaStart: 0.5, betaEnd: 0.4 })).toThrow(/^inferenceSchedule\.betaEnd: .*got 0\.4$/);
    expect(bad({ betaStart: 1e-6 })).toThrow(/^inferenceSchedule\.betaEnd:/);
    expect(bad(5)).toThrow(/^inferenceSchedule: must be an object/);
    // betaStart = betaEnd is a constant β: allowed
    expect(() => createScheduler(paper({ inferenceSchedule: { betaStart: 0.3, betaEnd: 0.3 } }))).not.toThrow();
  });

  it('needs at least 2 steps, and at most numTrainTimesteps', () => {
    expect(() => createScheduler(paper({ steps: 1 }))).toThrow(/^steps: must be an integer in \[2, 1000\] with an inference schedule, got 1$/);
    expect(() => createScheduler(paper({ steps: 2.5 }))).toThrow(/^steps: .*with an inference schedule/);
    expect(() => createScheduler(paper({ steps: 1001 }))).toThrow(/^steps: must be an integer in \[2, 1000\]/);
    expect(createScheduler(paper({ steps: 2 })).timesteps).toEqual([1, 0]);
  });

  it('refuses startTimestep with it, saying why', () => {
    expect(() => createScheduler(paper({ startTimestep: 5 }))).toThrow(/^startTimestep: cannot be used with inferenceSchedule/);
    expect(() => createScheduler(paper({ startTimestep: 0 }))).toThrow(/^startTimestep: cannot be used with inferenceSchedule/);
  });

  it('leaves the training-schedule path as it was (no inference schedule, or null)', () => {
    expect(samplingSchedule(DEFAULT_SAMPLER)).toBe(DEFAULT_SCHEDULE);
    expect(samplingSchedule({ ...DEFAULT_SAMPLER, inferenceSchedule: null as never })).toBe(DEFAULT_SCHEDULE);
    expect(samplingSchedule(paper())).toEqual({ numTrainTimesteps: 10, betaStart: 1e-6, betaEnd: 0.8 });
    expect(() => createScheduler({ ...DEFAULT_SAMPLER, steps: 1 })).not.toThrow();
  });
});

describe('inference schedule: the walk', () => {
  const ab = alphaBars(linearBetas({ numTrainTimesteps: 10, ...PAPER }));

  it.each(SAMPLER_KINDS)('%s walks every one of its steps, whatever the spacing', (kind) => {
    for (const timestepSpacing of ['leading', 'trailing', 'linspace', 'quad'] as const) {
      const s = createScheduler(paper({ kind, timestepSpacing }));
      expect(s.timesteps).toEqual([9, 8, 7, 6, 5, 4, 3, 2, 1, 0]);
      expect(Array.from(s.alphaBar)).toEqual(Array.from(ab).reverse());
    }
  });

  it.each(['DDPM', 'DDIM'] as const)('%s on Linear(1e-6, 0.8) × 10: 10 steps, noise levels strictly increasing toward 1', async (kind) => {
    const itemSize = 4;
    const seen: StepResult[] = [];
    const fed: number[][] = [];
    const epsModel: EpsModel = async (x, c) => {
      fed.push([...c]);
      return Float32Array.from(x, (v) => v * 0.5);
    };
    await runReverseProcess({
      settings: paper({ kind, eta: 1 }),
      seed: 3,
      count: 2,
      itemSize,
      cond: new Float32Array(2 * itemSize),
      epsModel,
      conditioning: 'noiseLevel',
      onStep: (s) => void seen.push(s),
    });
    expect(seen.map((s) => s.stepIndex)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(seen.map((s) => s.timestep)).toEqual([9, 8, 7, 6, 5, 4, 3, 2, 1, 0]);
    const levels = seen.map((s) => s.noiseLevel);
    for (let i = 1; i < levels.length; i++) expect(levels[i]!).toBeGreaterThan(levels[i - 1]!);
    expect(levels[0]!).toBeGreaterThan(0);
    expect(levels[9]!).toBeLessThan(1);
    expect(levels[9]!).toBeCloseTo(Math.sqrt(1 - 1e-6), 12);
    for (let i = 0; i < 10; i++) expect(levels[i]).toBe(Math.sqrt(ab[9 - i]!));
    // the ε model got each step's noise level, for every sample
    expect(fed).toEqual(levels.map((l) => [l, l]));
  });

  it('a continuous-noise ε that is exact for x_0 = cond lands on cond, with every kind', async () => {
    const itemSize = 8;
    const cond = Float32Array.from({ length: 2 * itemSize }, (_, j) => Math.sin(j) * 0.7);
    // ε = (x_t − γ x_0) / √(1 − γ²) with γ = √ᾱ, the value fed
    const epsModel: EpsModel = async (x, g, cd) =>
      Float32Array.from(x, (v, j) => {
        const gamma = g[Math.floor(j / itemSize)]!;
        return (v - gamma * cd[j]!) / Math.sqrt(1 - gamma * gamma);
      });
    for (const kind of SAMPLER_KINDS) {
      const out = await runReverseProcess({ settings: paper({ kind }), seed: 9, count: 2, itemSize, cond, epsModel, conditioning: 'noiseLevel' });
      for (let j = 0; j < out.length; j++) expect(out[j]!, kind).toBeCloseTo(cond[j]!, 4);
    }
  });
});

describe('noise level on the training schedule', () => {
  it('is √ᾱ_t of the training schedule at each step, beside the timestep', () => {
    const ab = alphaBars(linearBetas(DEFAULT_SCHEDULE));
    for (const kind of SAMPLER_KINDS) {
      const p = new ReverseProcess({ settings: { ...DEFAULT_SAMPLER, kind, steps: 7 }, seed: 1, count: 1, itemSize: 2, cond: new Float32Array(2) });
      while (!p.done) {
        const t = p.timestep;
        expect(p.noiseLevel).toBe(Math.sqrt(ab[t]!));
        expect(p.conditioningValue('noiseLevel')).toBe(p.noiseLevel);
        expect(p.conditioningValue('timestep')).toBe(t);
        expect(p.conditioningValue()).toBe(t);
        const step = p.advance(new Float32Array(2));
        expect(step.timestep).toBe(t);
        expect(step.noiseLevel).toBe(Math.sqrt(ab[t]!));
      }
      expect(() => p.noiseLevel).toThrow(/all 7 steps are done/);
    }
  });

  it('of a custom training schedule too, and with a start part-way down', () => {
    const schedule: NoiseScheduleConfig = { numTrainTimesteps: 200, betaStart: 1e-3, betaEnd: 0.05 };
    const ab = alphaBars(linearBetas(schedule));
    const p = new ReverseProcess({
      settings: { ...DEFAULT_SAMPLER, kind: 'DDIM', steps: 5, startTimestep: 120 },
      schedule,
      seed: 1,
      count: 1,
      itemSize: 1,
      cond: new Float32Array(1),
    });
    expect(p.timestep).toBe(120);
    expect(p.noiseLevel).toBe(Math.sqrt(ab[120]!));
  });

  it('runReverseProcess feeds timesteps by default and refuses an unknown conditioning', async () => {
    const fed: number[] = [];
    const spec = { settings: { ...DEFAULT_SAMPLER, steps: 3 }, seed: 1, count: 1, itemSize: 1, cond: new Float32Array(1) };
    await runReverseProcess({ ...spec, epsModel: async (x, t) => (fed.push(t[0]!), new Float32Array(x.length)) });
    expect(fed).toEqual([999, 666, 332]);
    await expect(runReverseProcess({ ...spec, conditioning: 'sigma' as never, epsModel: async (x) => new Float32Array(x.length) })).rejects.toThrow(
      /^conditioning: must be one of timestep, noiseLevel, got sigma$/,
    );
  });
});

describe('inference schedule: checkpoint and resume', () => {
  const itemSize = 6;
  const cond = Float32Array.from({ length: 3 * itemSize }, (_, j) => Math.cos(j * 0.37) * 0.8);
  // nonlinear in (x_t, γ, cond), per sample
  const eps = (x: Float32Array, g: number, cd: Float32Array) => Float32Array.from(x, (v, j) => Math.tanh(v * 0.7 + cd[j]! * g) - 0.1 * Math.sin(j % itemSize));

  it.each([
    ['DDPM', paper({ kind: 'DDPM' })],
    ['DDIM η = 1, Formulation 2', paper({ kind: 'DDIM', eta: 1, formulation: 2 })],
    ['DPM-Solver++(2M)', paper({ kind: 'DPMPP_2M' })],
    ['DPM-Solver++(2M) SDE, Linear(1e-4, 0.05) × 20', paper({ kind: 'DPMPP_2M_SDE', steps: 20, inferenceSchedule: { betaStart: 1e-4, betaEnd: 0.05 } })],
  ] as const)('%s: resumed at every step, the bytes of an uninterrupted run', async (_, settings) => {
    const spec: ReverseProcessSpec = { settings, seed: 41, count: 3, itemSize, cond };
    const whole = new ReverseProcess(spec);
    while (!whole.done) whole.advance(eps(whole.modelInput(), whole.noiseLevel, whole.cond));
    const expected = bytes(whole.result);
    expect(
      bytes(await runReverseProcess({ ...spec, conditioning: 'noiseLevel', epsModel: async (x, g, cd) => eps(x, g[0]!, cd) })).equals(expected),
    ).toBe(true);
    for (let k = 0; k <= whole.steps; k++) {
      const first = new ReverseProcess(spec);
      for (let i = 0; i < k; i++) first.advance(eps(first.modelInput(), first.noiseLevel, first.cond));
      // through JSON-able copies, as a durable store would keep it
      const c = first.checkpoint();
      const second = new ReverseProcess(spec);
      second.resume({ stepIndex: c.stepIndex, sample: Float32Array.from(c.sample), ...(c.history ? { history: Float32Array.from(c.history) } : {}) });
      while (!second.done) second.advance(eps(second.modelInput(), second.noiseLevel, second.cond));
      expect(bytes(second.result).equals(expected), `resumed after ${k}`).toBe(true);
    }
  });
});

// Golden parity with the Python reference loop (tools/train/diffusevae/sampling.py reverse_process), written by
// `npm run train -- golden-sampling` (golden.py write_sampling_golden) with a synthetic ε and no model.
interface GoldenTensor {
  dtype: 'float32';
  shape: number[];
  b64: string;
}
interface SamplingCase {
  name: string;
  seed: number;
  settings: SamplerSettings;
  conditioning: EpsConditioning;
  schedule: NoiseScheduleConfig;
  fed: number[];
  cond: GoldenTensor;
  output: GoldenTensor;
}
const relErr = (a: number, b: number) => (a === b ? 0 : Math.abs(a - b) / Math.max(Math.abs(a), Math.abs(b)));
const GOLDEN = path.resolve(import.meta.dirname, '../../../tools/train/golden/sampling.json');
const golden = JSON.parse(readFileSync(GOLDEN, 'utf8')) as { cases: SamplingCase[] };
const decode = (g: GoldenTensor) => {
  const buf = Buffer.from(g.b64, 'base64');
  return new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
};
/** golden.py synthetic_eps: (x_t − c·0.9·cond) / √(1 + c²), c rounded to float32, in float64 (IEEE-exact steps only) */
const syntheticEps =
  (itemSize: number, fed: number[]): EpsModel =>
  async (x, c, cond) => {
    fed.push(Math.fround(c[0]!));
    return Float32Array.from(x, (v, j) => {
      const g = Math.fround(c[Math.floor(j / itemSize)]!);
      return (v - g * 0.9 * cond[j]!) / Math.sqrt(1 + g * g);
    });
  };

describe('golden parity with the Python reference loop (tools/train/golden/sampling.json)', () => {
  it('covers inference schedules on DDPM, DDIM and DPM-Solver++ (ODE and SDE) and noise-level conditioning', () => {
    const kinds = new Set(golden.cases.filter((c) => c.settings.inferenceSchedule).map((c) => c.settings.kind));
    expect([...kinds].sort()).toEqual([...SAMPLER_KINDS].sort());
    expect(golden.cases.some((c) => !c.settings.inferenceSchedule && c.conditioning === 'noiseLevel')).toBe(true);
  });

  it.each(golden.cases.map((c) => [c.name, c] as const))('%s', async (_, c) => {
    // a σ schedule goes through exp/pow, whose last bit V8 and the C library may round apart: ≤ 1e-14 relative
    const walked = samplingSchedule(c.settings);
    expect(Object.keys(walked).sort()).toEqual(Object.keys(c.schedule).sort());
    for (const key of ['numTrainTimesteps', 'betaStart', 'betaEnd'] as const) expect(relErr(walked[key], c.schedule[key]), key).toBeLessThanOrEqual(1e-14);
    (walked.alphaBar ?? []).forEach((v, i) => expect(relErr(v, c.schedule.alphaBar![i]!), `alphaBar[${i}]`).toBeLessThanOrEqual(1e-14));
    const cond = decode(c.cond);
    const [count, ...item] = c.cond.shape;
    const itemSize = item.reduce((a, b) => a * b, 1);
    const fed: number[] = [];
    const out = await runReverseProcess({
      settings: c.settings,
      seed: c.seed,
      count: count!,
      itemSize,
      cond,
      conditioning: c.conditioning,
      epsModel: syntheticEps(itemSize, fed),
    });
    // the float32 noise levels fed: the same bits, or one float32 step apart where ᾱ differed in its last float64 bit
    expect(fed.length).toBe(c.fed.length);
    fed.forEach((v, i) => expect(relErr(v, c.fed[i]!), `fed[${i}]`).toBeLessThanOrEqual(c.schedule.alphaBar ? 2 ** -23 : 0));
    const expected = decode(c.output);
    let diff = 0;
    for (let j = 0; j < out.length; j++) diff = Math.max(diff, Math.abs(out[j]! - expected[j]!));
    expect(diff).toBeLessThanOrEqual(1e-6);
  });
});
