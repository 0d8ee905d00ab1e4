import { describe, expect, it } from 'vitest';
import {
  DEFAULT_SAMPLER,
  DEFAULT_SCHEDULE,
  SAMPLER_KINDS,
  alphaBars,
  createScheduler,
  inferenceSigmas,
  linearBetas,
  normalizeInferenceSchedule,
  samplingSchedule,
  scheduleAlphaBars,
  sigmaOf,
  trainingSigmaRange,
  type InferenceSchedule,
  type SamplerSettings,
} from '../src/index.js';

const TRAINING = alphaBars(linearBetas(DEFAULT_SCHEDULE));
const on = (inferenceSchedule: InferenceSchedule, s: Partial<SamplerSettings> = {}): SamplerSettings => ({ ...DEFAULT_SAMPLER, steps: 10, inferenceSchedule, ...s });
const lambda = (ab: number) => 0.5 * Math.log(ab) - 0.5 * Math.log(1 - ab);

describe('inference schedules given by σ: validation', () => {
  const bad = (s: unknown) => () => normalizeInferenceSchedule(s, DEFAULT_SCHEDULE);

  it('names the field and what is allowed', () => {
    expect(bad({ kind: 'COSINE' })).toThrow(/^inferenceSchedule\.kind: must be one of LINEAR, LOG_SNR, KARRAS, got COSINE$/);
    expect(bad({ kind: 'LOG_SNR', sigmaMin: 0 })).toThrow(/^inferenceSchedule\.sigmaMin: must be a number in \(0, 10000\), got 0$/);
    expect(bad({ kind: 'LOG_SNR', sigmaMin: Number.NaN })).toThrow(/^inferenceSchedule\.sigmaMin:/);
    expect(bad({ kind: 'KARRAS', sigmaMin: 2, sigmaMax: 1 })).toThrow(/^inferenceSchedule\.sigmaMax: must be a number in \(sigmaMin, 10000\] = \(2, 10000\], got 1$/);
    expect(bad({ kind: 'KARRAS', sigmaMax: 1e5 })).toThrow(/^inferenceSchedule\.sigmaMax:/);
    expect(bad({ kind: 'KARRAS', rho: 0.5 })).toThrow(/^inferenceSchedule\.rho: must be a number in \[1, 20\], got 0\.5$/);
    expect(bad({ kind: 'KARRAS', rho: '7' })).toThrow(/^inferenceSchedule\.rho:/);
  });

  it("refuses a setting of another kind instead of ignoring it", () => {
    expect(bad({ kind: 'LOG_SNR', betaEnd: 0.5 })).toThrow(/^inferenceSchedule\.betaEnd: is not a setting of a LOG_SNR schedule \(its settings: kind, sigmaMin, sigmaMax\)$/);
    expect(bad({ kind: 'LOG_SNR', rho: 7 })).toThrow(/^inferenceSchedule\.rho: is not a setting of a LOG_SNR schedule/);
    expect(bad({ betaStart: 1e-6, betaEnd: 0.5, sigmaMin: 0.1 })).toThrow(/^inferenceSchedule\.sigmaMin: is not a setting of a LINEAR schedule/);
    // null is "not given" (GraphQL sends nulls for absent optional fields)
    expect(normalizeInferenceSchedule({ kind: 'LOG_SNR', betaStart: null, rho: null }, DEFAULT_SCHEDULE).kind).toBe('LOG_SNR');
  });

  it("fills in the training schedule's ends and ρ = 7, so that a manifest says what was walked", () => {
    const ends = trainingSigmaRange(DEFAULT_SCHEDULE);
    expect(ends.sigmaMin).toBeCloseTo(sigmaOf(0.9999), 12);
    expect(ends.sigmaMax).toBeCloseTo(sigmaOf(TRAINING[999]!), 9);
    expect(normalizeInferenceSchedule({ kind: 'LOG_SNR' }, DEFAULT_SCHEDULE)).toEqual({ kind: 'LOG_SNR', ...ends });
    expect(normalizeInferenceSchedule({ kind: 'KARRAS', sigmaMin: 0.1 }, DEFAULT_SCHEDULE)).toEqual({ kind: 'KARRAS', sigmaMin: 0.1, sigmaMax: ends.sigmaMax, rho: 7 });
    // a LINEAR one without its kind stays as written (older manifests)
    expect(normalizeInferenceSchedule({ betaStart: 1e-6, betaEnd: 0.8 }, DEFAULT_SCHEDULE)).toEqual({ betaStart: 1e-6, betaEnd: 0.8 });
    expect(normalizeInferenceSchedule({ kind: 'LINEAR', betaStart: 1e-6, betaEnd: 0.8 }, DEFAULT_SCHEDULE)).toEqual({ kind: 'LINEAR', betaStart: 1e-6, betaEnd: 0.8 });
  });

  it('names the field through createScheduler too', () => {
    expect(() => createScheduler(on({ kind: 'LOG_SNR', sigmaMin: -1 }))).toThrow(/^inferenceSchedule\.sigmaMin:/);
    expect(() => createScheduler(on({ kind: 'LOG_SNR' }, { steps: 1 }))).toThrow(/^steps: must be an integer in \[2, 1000\] with an inference schedule/);
    expect(() => createScheduler(on({ kind: 'KARRAS' }, { startTimestep: 3 }))).toThrow(/^startTimestep: cannot be used with inferenceSchedule/);
  });
});

describe('inference schedules given by σ: the walk', () => {
  it('LOG_SNR: σ geometric from sigmaMax to sigmaMin, ends exact; so DPM-Solver steps are equal in λ (r = 1)', () => {
    const s = { kind: 'LOG_SNR', sigmaMin: 0.1, sigmaMax: 80 } as const;
    const sigmas = inferenceSigmas(s, 10);
    expect(sigmas[0]).toBe(80);
    expect(sigmas[9]).toBe(0.1);
    const ratio = sigmas[1]! / sigmas[0]!;
    for (let i = 1; i < 10; i++) expect(sigmas[i]! / sigmas[i - 1]!).toBeCloseTo(ratio, 12);
    const sc = createScheduler(on(s));
    const lams = Array.from(sc.alphaBar, lambda);
    const h = lams[1]! - lams[0]!;
    expect(h).toBeGreaterThan(0);
    for (let i = 1; i < 10; i++) expect(lams[i]! - lams[i - 1]!).toBeCloseTo(h, 10);
    expect(sc.timesteps).toEqual([9, 8, 7, 6, 5, 4, 3, 2, 1, 0]);
  });

  it('KARRAS: ρ = 1 is σ linear; ρ = 7 spends more steps at low noise than LOG_SNR does', () => {
    const linear = inferenceSigmas({ kind: 'KARRAS', sigmaMin: 1, sigmaMax: 10, rho: 1 }, 10);
    linear.forEach((v, i) => expect(v).toBeCloseTo(10 - i, 12));
    const k = inferenceSigmas({ kind: 'KARRAS', sigmaMin: 0.01, sigmaMax: 100, rho: 7 }, 10);
    const g = inferenceSigmas({ kind: 'LOG_SNR', sigmaMin: 0.01, sigmaMax: 100 }, 10);
    for (let i = 1; i < 9; i++) expect(k[i]).toBeGreaterThan(g[i]!);
    for (let i = 1; i < 10; i++) expect(k[i]).toBeLessThan(k[i - 1]!);
  });

  it('ᾱ = 1/(1 + σ²), listed cleanest first as a training schedule is; its first and last β say so', () => {
    const s = normalizeInferenceSchedule({ kind: 'KARRAS' }, DEFAULT_SCHEDULE);
    const walked = samplingSchedule(on(s, { steps: 12 }));
    const ab = scheduleAlphaBars(walked);
    const sig = inferenceSigmas(s, 12);
    expect(ab.length).toBe(12);
    for (let t = 0; t < 12; t++) expect(ab[t]).toBeCloseTo(1 / (1 + sig[11 - t]! ** 2), 15);
    // the training schedule's own ends come back: the noisiest level is what training saw at t = T − 1
    expect(ab[11]).toBeCloseTo(TRAINING[999]!, 15);
    expect(ab[0]).toBeCloseTo(TRAINING[0]!, 15);
    expect(walked.betaStart).toBeCloseTo(1 - ab[0]!, 15);
    expect(walked.betaEnd).toBeCloseTo(1 - ab[11]! / ab[10]!, 15);
  });

  it.each(SAMPLER_KINDS)('%s walks it: every step, noise levels √ᾱ rising, the last step landing on ᾱ = 1', (kind) => {
    const sc = createScheduler(on({ kind: 'LOG_SNR', sigmaMin: 0.2 }, { kind }));
    expect(sc.timesteps).toHaveLength(10);
    const ab = Array.from(sc.alphaBar);
    for (let i = 1; i < ab.length; i++) expect(ab[i]).toBeGreaterThan(ab[i - 1]!);
    expect(sigmaOf(ab[9]!)).toBeCloseTo(0.2, 12);
  });

  it('refuses a ᾱ list whose length is not T', () => {
    expect(() => scheduleAlphaBars({ numTrainTimesteps: 3, betaStart: 0.1, betaEnd: 0.2, alphaBar: [0.9, 0.5] })).toThrow(/^alphaBar: must have numTrainTimesteps = 3 values, got 2$/);
  });
});
