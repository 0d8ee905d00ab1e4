import { describe, expect, it } from 'vitest';
import { psnr, psnrPerImage } from '../src/index.js';

describe('psnr', () => {
  it('gives known values', () => {
    const zeros = new Float32Array(8);
    expect(psnr(zeros, new Float32Array(8).fill(0.1))).toBeCloseTo(20, 5);
    expect(psnr(zeros, new Float32Array(8).fill(0.01))).toBeCloseTo(40, 4);
    expect(psnr(zeros, new Float32Array(8).fill(25.5), 255)).toBeCloseTo(20, 5);
    // Half the values off by 1 on a [0, 1] scale: MSE 0.5, 10 log10(2).
    expect(psnr(zeros, Float32Array.from([1, 0, 1, 0, 1, 0, 1, 0]))).toBeCloseTo(10 * Math.log10(2), 12);
  });

  it('is Infinity for identical arrays', () => {
    const x = Float32Array.from([0.1, 0.5, 0.9]);
    expect(psnr(x, Float32Array.from(x))).toBe(Infinity);
  });

  it('averages per image, unlike the pooled value', () => {
    const a = new Float32Array(8);
    const b = Float32Array.from([0.1, 0.1, 0.1, 0.1, 0.01, 0.01, 0.01, 0.01]);
    expect(psnrPerImage(a, b, 4)).toBeCloseTo(30, 4);
    expect(psnr(a, b)).toBeCloseTo(10 * Math.log10(1 / ((0.01 + 0.0001) / 2)), 4);
  });

  it('rejects mismatched inputs', () => {
    expect(() => psnr(new Float32Array(3), new Float32Array(4))).toThrow(RangeError);
    expect(() => psnrPerImage(new Float32Array(6), new Float32Array(6), 4)).toThrow(/itemSize/);
  });
});
