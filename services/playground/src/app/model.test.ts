import { describe, expect, it } from 'vitest';
import { maxSteps, pickInputSize, resizeNote, withFallbacks } from './model';
import { full, minimal } from './fixtures';

describe('pickInputSize', () => {
  it('takes the size from models.limits.inputSizes', () => {
    expect(pickInputSize(full, 'RECONSTRUCT')).toEqual({ width: 28, height: 28 });
    expect(pickInputSize(full, 'DENOISE')).toEqual({ width: 28, height: 28 });
    expect(pickInputSize(full, 'SUPER_RESOLVE', 4)).toEqual({ width: 7, height: 7 });
    expect(pickInputSize(full, 'SUPER_RESOLVE', 2)).toEqual({ width: 14, height: 14 });
  });
  it('is null for kinds without an image', () => {
    expect(pickInputSize(full, 'GENERATE')).toBeNull();
    expect(pickInputSize(full, 'INTERPOLATE')).toBeNull();
  });
  it('falls back to the resolution when a size is not listed', () => {
    const m = { ...full, resolution: 32, limits: { ...full.limits, inputSizes: [] } };
    expect(pickInputSize(m, 'SUPER_RESOLVE', 4)).toEqual({ width: 8, height: 8 });
    expect(pickInputSize(m, 'SUPER_RESOLVE', 3)).toBeNull();
    expect(pickInputSize(m, 'DENOISE')).toEqual({ width: 32, height: 32 });
  });
});

describe('resizeNote', () => {
  it('says what was resized and why', () => {
    expect(resizeNote({ width: 300, height: 200 }, { width: 7, height: 7 }, 'SUPER_RESOLVE', 4)).toBe('Resized from 300×200 to 7×7 for super-resolution ×4');
    expect(resizeNote({ width: 20, height: 20 }, { width: 28, height: 28 }, 'RECONSTRUCT')).toBe('Resized from 20×20 to 28×28 for reconstruction');
    expect(resizeNote({ width: 64, height: 64 }, { width: 28, height: 28 }, 'DENOISE')).toBe('Resized from 64×64 to 28×28 for denoising');
  });
  it('is null when the size already fits', () => {
    expect(resizeNote({ width: 7, height: 7 }, { width: 7, height: 7 }, 'SUPER_RESOLVE', 4)).toBeNull();
  });
});

describe('withFallbacks', () => {
  it('keeps a complete model as the API reported it', () => {
    const m = withFallbacks(full);
    expect(m).toEqual(full);
    expect(m.provisional).toBeUndefined();
  });
  it('fills in a gateway without limits/defaults, marked provisional', () => {
    const m = withFallbacks(minimal);
    expect(m.provisional).toBe(true);
    expect(m.scales).toEqual([2, 4]);
    expect(pickInputSize(m, 'SUPER_RESOLVE', 4)).toEqual({ width: 7, height: 7 });
    expect(m.defaults.sampler.kind).toBe('DDIM');
  });
  it('caps steps at the model T', () => {
    expect(maxSteps(full)).toBe(1000);
    expect(maxSteps({ ...full, numTrainTimesteps: 500 })).toBe(500);
  });
});

