import { describe, expect, it } from 'vitest';
import { buildSubmission, fieldKey, initialForm, scheduleChoices, type FormState } from './form';
import { continuous, full as m } from './fixtures';

const form = (patch: Partial<FormState> = {}, sampler: Partial<FormState['sampler']> = {}): FormState => {
  const f = initialForm(m);
  return { ...f, ...patch, sampler: { ...f.sampler, ...sampler } };
};

describe('initialForm', () => {
  it('starts from the API defaults, seed empty', () => {
    const f = initialForm(m);
    expect(f).toMatchObject({ kind: 'generate', count: '1', seed: '', points: '8', scale: 4, latentTemperature: '1', refine: true });
    expect(f.sampler).toEqual({ kind: 'DDIM', steps: '50', eta: '1', temperature: '1', timestepSpacing: 'LEADING', varianceType: 'FIXEDLARGE', clipSample: true, schedule: '' });
  });
});

describe('buildSubmission', () => {
  it('builds generate with wait: false, DDIM with eta and no varianceType, no seed when empty', () => {
    const s = buildSubmission(form({ count: '16' }), m);
    expect(s).toEqual({
      ok: true,
      kind: 'generate',
      input: {
        model: 'fmnist',
        wait: false,
        count: 16,
        latentTemperature: 1,
        refine: true,
        sampler: { kind: 'DDIM', steps: 50, eta: 1, temperature: 1, timestepSpacing: 'LEADING', clipSample: true },
      },
    });
  });
  it('sends the seed when given', () => {
    const s = buildSubmission(form({ seed: '7' }), m);
    expect(s.ok && s.input.seed).toBe(7);
  });
  it('DDPM: varianceType and no eta', () => {
    const s = buildSubmission(form({}, { kind: 'DDPM', eta: '0.5', varianceType: 'FIXEDSMALL' }), m);
    expect(s.ok && s.input.sampler).toEqual({ kind: 'DDPM', steps: 50, temperature: 1, timestepSpacing: 'LEADING', varianceType: 'FIXEDSMALL', clipSample: true });
  });
  it('DDIM with eta empty leaves it to the API', () => {
    const s = buildSubmission(form({}, { eta: '' }), m);
    expect(s.ok && (s.input.sampler as Record<string, unknown>).eta).toBeUndefined();
  });
  it('reconstruct, super-resolution and denoise need the image', () => {
    for (const kind of ['reconstruct', 'superResolve', 'denoise'] as const) {
      const s = buildSubmission(form({ kind }), m);
      expect(s).toEqual({ ok: false, errors: { 'input.image': 'Choose an image first' } });
    }
    expect(buildSubmission(form({ kind: 'reconstruct', useMean: true }), m, { image: 'AAAA' })).toMatchObject({ ok: true, input: { image: 'AAAA', useMean: true, count: 1 } });
    const sr = buildSubmission(form({ kind: 'superResolve', scale: 2, throughVae: true }), m, { image: 'AAAA' });
    expect(sr).toMatchObject({ ok: true, kind: 'superResolve', input: { image: 'AAAA', scale: 2, throughVae: true } });
    expect(sr.ok && 'latentTemperature' in sr.input).toBe(false);
  });
  it('denoise: σ optional and on [0, 1]', () => {
    expect(buildSubmission(form({ kind: 'denoise' }), m, { image: 'A' })).toMatchObject({ ok: true });
    expect(buildSubmission(form({ kind: 'denoise' }), m, { image: 'A' }).ok && 'sigma' in (buildSubmission(form({ kind: 'denoise' }), m, { image: 'A' }) as { input: object }).input).toBe(false);
    expect(buildSubmission(form({ kind: 'denoise', sigma: '0.2' }), m, { image: 'A' })).toMatchObject({ ok: true, input: { sigma: 0.2 } });
    expect(buildSubmission(form({ kind: 'denoise', sigma: '2' }), m, { image: 'A' })).toMatchObject({ ok: false, errors: { 'input.sigma': expect.any(String) } });
  });
  it('interpolate: endpoints by seed (random when empty), points, no count', () => {
    const s = buildSubmission(form({ kind: 'interpolate', fromSeed: '3', toSeed: '', points: '6' }), m, { randomSeed: () => 99 });
    expect(s).toMatchObject({ ok: true, kind: 'interpolate', input: { from: { seed: 3 }, to: { seed: 99 }, points: 6, latentTemperature: 1 } });
    expect(s.ok && 'count' in s.input).toBe(false);
    expect(buildSubmission(form({ kind: 'interpolate', points: '1' }), m)).toMatchObject({ ok: false, errors: { 'input.points': 'Points must be between 2 and 64' } });
  });
  it('checks ranges from the API limits', () => {
    expect(buildSubmission(form({ count: '65' }), m)).toEqual({ ok: false, errors: { 'input.count': 'Count must be between 1 and 64' } });
    expect(buildSubmission(form({ count: '1.5' }), m)).toEqual({ ok: false, errors: { 'input.count': 'Count must be a whole number' } });
    expect(buildSubmission(form({ seed: '-1' }), m)).toMatchObject({ ok: false, errors: { 'input.seed': expect.any(String) } });
    expect(buildSubmission(form({}, { steps: '1001' }), m)).toMatchObject({ ok: false, errors: { 'input.sampler.steps': 'Steps must be between 1 and 1000' } });
    expect(buildSubmission(form({}, { temperature: '0' }), m)).toMatchObject({ ok: false, errors: { 'input.sampler.temperature': 'Temperature must be in (0, 2]' } });
    expect(buildSubmission(form({}, { eta: '1.5' }), m)).toMatchObject({ ok: false, errors: { 'input.sampler.eta': expect.any(String) } });
  });
  it('checks count × steps against maxImageSteps (not when stage 1 only)', () => {
    const over = form({ count: '64' }, { steps: '1000' });
    expect(buildSubmission(over, m)).toMatchObject({ ok: false, errors: { 'input.sampler.steps': expect.stringContaining('16384') } });
    expect(buildSubmission({ ...over, refine: false }, m)).toMatchObject({ ok: true, input: { refine: false } });
  });
});

describe('fieldKey', () => {
  it('maps API fields onto the form keys', () => {
    expect(fieldKey('input.sampler.steps')).toBe('input.sampler.steps');
    expect(fieldKey('count')).toBe('input.count');
    expect(fieldKey(undefined)).toBeUndefined();
  });
});

describe('inference schedules', () => {
  it('a set conditioned on the noise level offers the training schedule and those given by σ; a discrete one none', () => {
    expect(scheduleChoices(continuous)).toEqual(['', 'LOG_SNR', 'KARRAS']);
    expect(scheduleChoices(m)).toEqual(['']);
  });

  it('sends inferenceSchedule { kind } when one is chosen, not with the training schedule, not on a discrete set, not for denoise', () => {
    const f = (patch: Partial<FormState>, schedule: FormState['sampler']['schedule'], model = continuous) => {
      const base = initialForm(model);
      return buildSubmission({ ...base, ...patch, sampler: { ...base.sampler, schedule } }, model, { image: 'AAAA' });
    };
    const logSnr = f({}, 'LOG_SNR');
    expect(logSnr.ok && logSnr.input).toMatchObject({ model: 'fmnist-cont', sampler: { inferenceSchedule: { kind: 'LOG_SNR' } } });
    const training = f({}, '');
    expect(training.ok && (training.input.sampler as Record<string, unknown>).inferenceSchedule).toBeUndefined();
    const discrete = f({}, 'KARRAS', m);
    expect(discrete.ok && (discrete.input.sampler as Record<string, unknown>).inferenceSchedule).toBeUndefined();
    const denoise = f({ kind: 'denoise' }, 'LOG_SNR');
    expect(denoise.ok && (denoise.input.sampler as Record<string, unknown>).inferenceSchedule).toBeUndefined();
    const sr = f({ kind: 'superResolve' }, 'KARRAS');
    expect(sr.ok && sr.input.sampler).toMatchObject({ inferenceSchedule: { kind: 'KARRAS' } });
  });
});
