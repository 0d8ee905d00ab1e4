import { describe, expect, it } from 'vitest';
import { maxSteps, pickInputSize, resizeNote } from './model';
import { full } from './fixtures';

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


describe('maxSteps', () => {
  it('is the API limit, never above the model’s T', () => {
    expect(maxSteps(full)).toBe(full.limits.maxSteps);
    expect(maxSteps({ ...full, numTrainTimesteps: 100 })).toBe(100);
  });
});
