import { describe, expect, it } from 'vitest';
import { pngParameters, quoteValue } from '../src/infotext.js';

const model = {
  name: 'fmnist',
  dataset: 'fashion-mnist',
  formulation: 1,
  createdAt: '2026-01-01T00:00:00Z',
  files: { encoder: { path: 'encoder.onnx', sha256: 'aa11' }, decoder: { path: 'decoder.onnx', sha256: 'bb22' }, refiner: { path: 'refiner.onnx', sha256: '649dce50' } },
};
// as a manifest spells the sampler: a SamplerInput
const ddim = { kind: 'DDIM', steps: 25, eta: 0, temperature: 1, varianceType: 'FIXEDLARGE', timestepSpacing: 'LEADING', clipSample: true };
const images = [0, 1, 2, 3].map((i) => ({ seed: 42, sample: i }));
const generate = { kind: 'generate', seed: 42, sample: 0, count: 4, images, sampler: ddim, model, platformVersion: '0.1.0', latentTemperature: 1, refine: true };

describe('pngParameters', () => {
  it('is one A1111-style line from the manifest: model, kind, the image’s seed and sample, sampler, entries, sha256s', () => {
    expect(pngParameters(generate, { index: 2, of: 4, output: 'final' })).toBe(
      'DiffuseVAE fmnist, kind: generate, output: final, seed: 42, sample: 2, sampler: DDIM, steps: 25, eta: 0, temperature: 1, ' +
        'spacing: leading, clip sample: true, formulation: 1, latent temperature: 1, refine: true, platform: 0.1.0, dataset: fashion-mnist, ' +
        'encoder sha256: aa11, decoder sha256: bb22, refiner sha256: 649dce50',
    );
  });

  it('leaves out the job id and duration, so that equal requests give equal text', () => {
    const a = pngParameters({ ...generate, jobId: 'job-a', durationMs: 120 }, { index: 0, of: 4, output: 'stage 1' });
    const b = pngParameters({ ...generate, jobId: 'job-b', durationMs: 345 }, { index: 0, of: 4, output: 'stage 1' });
    expect(a).toBe(b);
    expect(a).not.toMatch(/job|duration/);
    expect(a).toContain('output: stage 1, seed: 42, sample: 0, sampler');
  });

  it('image i of a job and the same image made alone (count 1 from sample i) carry the same text; the input image itself is left out', () => {
    const job = { ...generate, kind: 'superResolve', input: 'iVBORw0KGgo…', inputSha256: 'ee55', scale: 4 };
    const alone = { ...job, sample: 3, count: 1, images: [{ seed: 42, sample: 3 }] };
    expect(pngParameters(alone, { index: 0, of: 1, output: 'final' })).toBe(pngParameters(job, { index: 3, of: 4, output: 'final' }));
    expect(pngParameters(job, { index: 3, of: 4, output: 'final' })).not.toContain('iVBOR');
  });

  it('says DDPM variance instead of eta, and flattens the kinds own entries (denoise σ, interpolate ends)', () => {
    const ddpm = { ...ddim, eta: undefined, kind: 'DDPM', startTimestep: 300 };
    const denoise = pngParameters(
      { ...generate, kind: 'denoise', sampler: ddpm, latentTemperature: undefined, refine: undefined, inputSha256: 'cc33', sigma: 0.1, sigmaModelRange: 0.2, sigmaEstimated: true, stepsRun: 25 },
      { index: 0, of: 1, output: 'final' },
    );
    expect(denoise).toContain('sampler: DDPM, steps: 25, temperature: 1, variance: fixedlarge, spacing: leading, clip sample: true, formulation: 1, start timestep: 300,');
    expect(denoise).not.toContain('eta');
    expect(denoise).toContain('input sha256: cc33, sigma: 0.1, sigma estimated: true, steps run: 25, platform');
    expect(denoise).not.toContain('model range');
    const interp = pngParameters({ ...generate, kind: 'interpolate', points: 4, from: { seed: 3 }, to: { image: 'iVBOR', inputSha256: 'dd44' } }, { index: 1, of: 4, output: 'final' });
    expect(interp).toContain('seed: 42, sample: 0, point: 2 of 4, sampler');
    expect(interp).toContain('points: 4, from seed: 3, to input sha256: dd44');
    expect(interp).not.toContain('iVBOR');
  });

  it('quotes values with commas, colons or newlines as JSON, as A1111 does', () => {
    expect(quoteValue('leading')).toBe('leading');
    expect(quoteValue('a, b')).toBe('"a, b"');
    expect(quoteValue('x: 1\ny')).toBe('"x: 1\\ny"');
    expect(pngParameters({ ...generate, note: 'a, b' }, { index: 0, of: 1, output: 'final' })).toContain('note: "a, b"');
  });
});
