import { describe, expect, it } from 'vitest';
import { pngParameters, quoteValue } from '../src/infotext.js';

const model = {
  name: 'fmnist',
  dataset: 'fashion-mnist',
  createdAt: '2026-01-01T00:00:00Z',
  files: { encoder: { path: 'encoder.onnx', sha256: 'aa11' }, decoder: { path: 'decoder.onnx', sha256: 'bb22' }, refiner: { path: 'refiner.onnx', sha256: '649dce50' } },
};
const ddim = { kind: 'DDIM', steps: 25, eta: 0, temperature: 1, varianceType: 'fixedlarge', timestepSpacing: 'leading', clipSample: true, formulation: 1 };
const generate = { kind: 'generate', seed: 42, count: 4, sampler: ddim, model, platformVersion: '0.1.0', latentTemperature: 1, refine: true };

describe('pngParameters', () => {
  it('is one A1111-style line from the manifest: model, kind, seed, image i of n, sampler, entries, sha256s', () => {
    expect(pngParameters(generate, { index: 2, of: 4, output: 'final' })).toBe(
      'DiffuseVAE fmnist, kind: generate, output: final, seed: 42, image: 3 of 4, sampler: DDIM, steps: 25, eta: 0, temperature: 1, ' +
        'spacing: leading, clip sample: true, formulation: 1, latent temperature: 1, refine: true, platform: 0.1.0, dataset: fashion-mnist, ' +
        'encoder sha256: aa11, decoder sha256: bb22, refiner sha256: 649dce50',
    );
  });

  it('leaves out the job id and duration, so that equal requests give equal text', () => {
    const a = pngParameters({ ...generate, jobId: 'job-a', durationMs: 120 }, { index: 0, of: 4, output: 'stage 1' });
    const b = pngParameters({ ...generate, jobId: 'job-b', durationMs: 345 }, { index: 0, of: 4, output: 'stage 1' });
    expect(a).toBe(b);
    expect(a).not.toMatch(/job|duration/);
    expect(a).toContain('output: stage 1, seed: 42, image: 1 of 4');
  });

  it('says DDPM variance instead of eta, and flattens the kinds own entries (denoise σ, interpolate ends)', () => {
    const ddpm = { ...ddim, kind: 'DDPM', startTimestep: 300 };
    const denoise = pngParameters(
      { ...generate, kind: 'denoise', sampler: ddpm, latentTemperature: undefined, refine: undefined, inputSha256: 'cc33', sigma: 0.1, sigmaModelRange: 0.2, sigmaEstimated: true, stepsRun: 25 },
      { index: 0, of: 1, output: 'final' },
    );
    expect(denoise).toContain('sampler: DDPM, steps: 25, temperature: 1, variance: fixedlarge, spacing: leading, clip sample: true, formulation: 1, start timestep: 300,');
    expect(denoise).not.toContain('eta');
    expect(denoise).toContain('input sha256: cc33, sigma: 0.1, sigma estimated: true, steps run: 25, platform');
    expect(denoise).not.toContain('model range');
    const interp = pngParameters({ ...generate, kind: 'interpolate', points: 4, from: { seed: 3 }, to: { inputSha256: 'dd44' } }, { index: 1, of: 4, output: 'final' });
    expect(interp).toContain('points: 4, from seed: 3, to input sha256: dd44');
  });

  it('quotes values with commas, colons or newlines as JSON, as A1111 does', () => {
    expect(quoteValue('leading')).toBe('leading');
    expect(quoteValue('a, b')).toBe('"a, b"');
    expect(quoteValue('x: 1\ny')).toBe('"x: 1\\ny"');
    expect(pngParameters({ ...generate, note: 'a, b' }, { index: 0, of: 1, output: 'final' })).toContain('note: "a, b"');
  });
});
