import { describe, expect, it } from 'vitest';
import { DEFAULT_SCHEDULE, trainingSigmaRange } from '@diffusevae/schedulers';
import { PlatformError } from '@diffusevae/contracts';
import {
  expectImageSize,
  validateDenoise,
  validateGenerate,
  validateInterpolate,
  validateSuperResolve,
  type ModelLimits,
  type SamplerInput,
} from '../src/validate.js';

const model: ModelLimits = { resolution: 28, channels: 1, numTrainTimesteps: 1000, schedule: DEFAULT_SCHEDULE, formulation: 1, noiseConditioning: 'discrete' };
const seed = () => 1234;

function rejection(fn: () => unknown): PlatformError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(PlatformError);
    expect((e as PlatformError).code).toBe('BAD_USER_INPUT');
    return e as PlatformError;
  }
  throw new Error('expected a rejection');
}

describe('validateGenerate', () => {
  it('fills the documented defaults: DPM-Solver++(2M) SDE 10 steps trailing, λ 1, one image, a random seed', () => {
    expect(validateGenerate({}, model, seed)).toEqual({
      kind: 'generate',
      count: 1,
      seed: 1234,
      sample: 0,
      wait: true,
      latentTemperature: 1,
      refine: true,
      sampler: { kind: 'DPMPP_2M_SDE', steps: 10, eta: 1, temperature: 1, varianceType: 'fixedlarge', timestepSpacing: 'trailing', clipSample: true, formulation: 1 },
    });
  });

  it('treats an explicit null as the default', () => {
    expect(validateGenerate({ count: null, seed: null, sampler: { steps: null } }, model, seed)).toMatchObject({ count: 1, seed: 1234, sampler: { steps: 10 } });
  });

  it('takes the model formulation, not the caller', () => {
    expect(validateGenerate({}, { ...model, formulation: 2 }, seed).sampler.formulation).toBe(2);
  });

  it.each([
    ['count 0', { count: 0 }, 'input.count: must be an integer in [1, 64], got 0'],
    ['count 65', { count: 65 }, 'input.count: must be an integer in [1, 64], got 65'],
    ['steps 1200', { sampler: { steps: 1200 } }, 'input.sampler.steps: must be an integer in [1, 1000], got 1200'],
    ['steps 0', { sampler: { steps: 0 } }, 'input.sampler.steps: must be an integer in [1, 1000], got 0'],
    ['steps 2.5', { sampler: { steps: 2.5 } }, 'input.sampler.steps: must be an integer in [1, 1000], got 2.5'],
    ['eta 1.5', { sampler: { kind: 'DDIM' as const, eta: 1.5 } }, 'input.sampler.eta: must be a finite number in [0, 1], got 1.5'],
    ['eta NaN', { sampler: { kind: 'DDIM' as const, eta: NaN } }, 'input.sampler.eta: must be a finite number in [0, 1], got NaN'],
    ['temperature 0', { sampler: { temperature: 0 } }, 'input.sampler.temperature: must be a finite number in (0, 2], got 0'],
    ['temperature Infinity', { sampler: { temperature: Infinity } }, 'input.sampler.temperature: must be a finite number in (0, 2], got Infinity'],
    ['latentTemperature 3', { latentTemperature: 3 }, 'input.latentTemperature: must be a finite number in (0, 2], got 3'],
    ['negative seed', { seed: -1 }, 'input.seed: must be an integer in [0, 2147483647], got -1'],
    ['unknown kind', { sampler: { kind: 'PNDM' as 'DDIM' } }, 'input.sampler.kind: must be one of DDPM, DDIM, DPMPP_2M, DPMPP_2M_SDE, got PNDM'],
  ])('rejects %s, naming the field', (_name, input, message) => {
    expect(rejection(() => validateGenerate(input, model, seed)).message).toBe(message);
  });

  it('refuses eta with DDPM (it would do nothing), takes it with DDIM, and leaves DDPM without one at the default', () => {
    for (const eta of [0, 0.5, 1]) {
      const e = rejection(() => validateGenerate({ sampler: { kind: 'DDPM', eta } }, model, seed));
      expect(e.field).toBe('input.sampler.eta');
      expect(e.message).toBe(`input.sampler.eta: is for DDIM only (DDPM's variance is set by varianceType): leave it out, got ${eta} with kind DDPM`);
    }
    expect(validateGenerate({ sampler: { kind: 'DDIM', eta: 0.5 } }, model, seed).sampler.eta).toBe(0.5);
    expect(validateGenerate({ sampler: { kind: 'DDPM', eta: null } }, model, seed).sampler).toMatchObject({ kind: 'DDPM', eta: 1 });
    expect(rejection(() => validateInterpolate({ from: { seed: 1 }, to: { seed: 2 }, sampler: { kind: 'DDPM', eta: 0 } }, model, seed)).field).toBe('input.sampler.eta');
  });

  it('refuses eta with the DPM-Solver++ kinds too, saying why; takes them without', () => {
    expect(rejection(() => validateGenerate({ sampler: { kind: 'DPMPP_2M_SDE', eta: 0.5 } }, model, seed)).message).toBe(
      'input.sampler.eta: is for DDIM only (the SDE solver always adds its own noise): leave it out, got 0.5 with kind DPMPP_2M_SDE',
    );
    expect(rejection(() => validateGenerate({ sampler: { kind: 'DPMPP_2M', eta: 0 } }, model, seed)).message).toMatch(/the ODE solver adds none/);
    expect(validateGenerate({ sampler: { kind: 'DPMPP_2M_SDE', steps: 10, timestepSpacing: 'trailing' } }, model, seed).sampler).toMatchObject({ kind: 'DPMPP_2M_SDE', steps: 10 });
  });

  it('refuses more steps than the model has timesteps', () => {
    const e = rejection(() => validateGenerate({ sampler: { kind: 'DDIM', steps: 200 } }, { ...model, numTrainTimesteps: 100 }, seed));
    expect(e.message).toBe("input.sampler.steps: 200 cannot be larger than the model's numTrainTimesteps (T = 100)");
    expect(e.field).toBe('input.sampler.steps');
  });
});

describe('inference schedules (continuous-noise sets)', () => {
  const cont: ModelLimits = { ...model, noiseConditioning: 'continuous' };
  const linear = { betaStart: 1e-6, betaEnd: 0.8 };

  it('takes Linear(betaStart, betaEnd) over the steps for a set conditioned on the noise level', () => {
    const r = validateGenerate({ sampler: { kind: 'DDPM', steps: 10, inferenceSchedule: linear } }, cont, seed);
    expect(r.sampler).toMatchObject({ kind: 'DDPM', steps: 10, inferenceSchedule: linear });
    expect(validateGenerate({}, cont, seed).sampler.inferenceSchedule).toBeUndefined();
  });

  it("takes LOG_SNR and KARRAS given by σ, filling in the training schedule's ends (GraphQL's nulls are absent fields)", () => {
    const ends = trainingSigmaRange(DEFAULT_SCHEDULE);
    const logSnr = validateGenerate({ sampler: { steps: 10, inferenceSchedule: { kind: 'LOG_SNR', betaStart: null, rho: null } } }, cont, seed);
    expect(logSnr.sampler.inferenceSchedule).toEqual({ kind: 'LOG_SNR', ...ends });
    const karras = validateGenerate({ sampler: { steps: 12, inferenceSchedule: { kind: 'KARRAS', sigmaMin: 0.1 } } }, cont, seed);
    expect(karras.sampler.inferenceSchedule).toEqual({ kind: 'KARRAS', sigmaMin: 0.1, sigmaMax: ends.sigmaMax, rho: 7 });
  });

  it.each([
    ['a discrete set', model, { steps: 10, inferenceSchedule: linear }, 'input.sampler.inferenceSchedule', /conditioned on the integer timestep: a free inference schedule needs a set conditioned on the noise level/],
    ['betaStart 0', cont, { inferenceSchedule: { betaStart: 0, betaEnd: 0.8 } }, 'input.sampler.inferenceSchedule.betaStart', /must be a number in \(0, 1\), got 0/],
    ['betaEnd below betaStart', cont, { inferenceSchedule: { betaStart: 0.1, betaEnd: 0.01 } }, 'input.sampler.inferenceSchedule.betaEnd', /must be a number in \[betaStart, 1\) = \[0.1, 1\), got 0.01/],
    ['betaEnd 1', cont, { inferenceSchedule: { betaStart: 1e-6, betaEnd: 1 } }, 'input.sampler.inferenceSchedule.betaEnd', /got 1$/],
    ['one step', cont, { steps: 1, inferenceSchedule: linear }, 'input.sampler.steps', /must be at least 2 with an inference schedule, got 1/],
    ['LINEAR without betaEnd', cont, { inferenceSchedule: { betaStart: 1e-6 } }, 'input.sampler.inferenceSchedule.betaEnd', /must be a number in \[betaStart, 1\)/],
    ['sigmaMax under sigmaMin', cont, { inferenceSchedule: { kind: 'LOG_SNR', sigmaMin: 1, sigmaMax: 0.5 } }, 'input.sampler.inferenceSchedule.sigmaMax', /must be a number in \(sigmaMin, 10000\] = \(1, 10000\], got 0.5$/],
    ['rho out of range', cont, { inferenceSchedule: { kind: 'KARRAS', rho: 50 } }, 'input.sampler.inferenceSchedule.rho', /must be a number in \[1, 20\], got 50$/],
    ['a setting of another kind', cont, { inferenceSchedule: { kind: 'LOG_SNR', betaEnd: 0.5 } }, 'input.sampler.inferenceSchedule.betaEnd', /is not a setting of a LOG_SNR schedule \(its settings: kind, sigmaMin, sigmaMax\)$/],
  ])('refuses it on %s, naming the field', (_, limits, sampler, field, message) => {
    const err = (() => {
      try {
        validateGenerate({ sampler: sampler as SamplerInput }, limits, seed);
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(PlatformError);
    expect(err).toMatchObject({ code: 'BAD_USER_INPUT', field });
    expect((err as Error).message).toMatch(message);
  });

  it('refuses it with denoising, which starts at the input’s noise level', () => {
    expect(() => validateDenoise({ image: 'x', sampler: { inferenceSchedule: linear } }, cont, seed)).toThrow(/input.sampler.inferenceSchedule: denoising starts part-way down the training schedule/);
  });
});

describe('restoration inputs', () => {
  it('superResolve takes scale 2 or 4 and names the allowed sizes', () => {
    expect(validateSuperResolve({ image: 'x' }, model, seed)).toMatchObject({ scale: 4, count: 1, throughVae: false });
    expect(rejection(() => validateSuperResolve({ image: 'x', scale: 3 }, model, seed)).message).toBe('input.scale: must be one of 2, 4 for a 28x28 model, got 3');
    expect(rejection(() => validateSuperResolve({ image: '  ' }, model, seed)).message).toMatch(/^input\.image: must be a base64 PNG/);
  });

  it('checks image sizes against the model (and the scale)', () => {
    expect(() => expectImageSize('input.image', { width: 7, height: 7 }, model, 4)).not.toThrow();
    expect(() => expectImageSize('input.image', { width: 14, height: 14 }, model, 2)).not.toThrow();
    expect(rejection(() => expectImageSize('input.image', { width: 10, height: 10 }, model, 4)).message).toBe(
      'input.image: must be 7x7 for scale 4 (the model is 28x28; allowed: 14x14 for scale 2, 7x7 for scale 4), got 10x10',
    );
    expect(rejection(() => expectImageSize('input.image', { width: 28, height: 27 }, model)).message).toBe("input.image: must be 28x28 (the model's size), got 28x27");
  });

  it('denoise σ is optional and on [0, 1] pixels', () => {
    expect(validateDenoise({ image: 'x' }, model, seed).sigma).toBeUndefined();
    expect(validateDenoise({ image: 'x', sigma: 0.1 }, model, seed).sigma).toBe(0.1);
    expect(rejection(() => validateDenoise({ image: 'x', sigma: 1.5 }, model, seed)).message).toBe('input.sigma: must be a finite number in (0, 1], got 1.5');
  });

  it('interpolate needs exactly one of seed or image per end, and 2..64 points', () => {
    const ok = validateInterpolate({ from: { seed: 1 }, to: { image: 'abc' }, points: 5 }, model, seed);
    expect(ok).toMatchObject({ count: 5, from: { seed: 1 }, to: { image: 'abc' } });
    expect(rejection(() => validateInterpolate({ from: {}, to: { seed: 2 } }, model, seed)).message).toBe('input.from: give exactly one of seed or image, got neither');
    expect(rejection(() => validateInterpolate({ from: { seed: 1 }, to: { seed: 2, image: 'a' } }, model, seed)).message).toBe(
      'input.to: give exactly one of seed or image, got both',
    );
    expect(rejection(() => validateInterpolate({ from: { seed: 1 }, to: { seed: 2 }, points: 1 }, model, seed)).message).toBe(
      'input.points: must be an integer in [2, 64], got 1',
    );
  });
});
