import { describe, expect, it } from 'vitest';
import { symmetricEigen } from '../src/index.js';
import { randomSymmetric, rng } from './util.js';

/** max |A - V diag(w) V^T| and max |V^T V - I|. */
function residuals(a: ArrayLike<number>, d: number): { recon: number; ortho: number } {
  const { values, vectors: v } = symmetricEigen(a, d);
  let recon = 0;
  let ortho = 0;
  for (let i = 0; i < d; i++) {
    for (let j = 0; j < d; j++) {
      let s = 0;
      let o = 0;
      for (let k = 0; k < d; k++) {
        s += v[i * d + k]! * values[k]! * v[j * d + k]!;
        o += v[k * d + i]! * v[k * d + j]!;
      }
      recon = Math.max(recon, Math.abs(s - a[i * d + j]!));
      ortho = Math.max(ortho, Math.abs(o - (i === j ? 1 : 0)));
    }
  }
  return { recon, ortho };
}

describe('symmetricEigen', () => {
  it('returns a diagonal matrix unchanged, sorted ascending', () => {
    const { values, vectors } = symmetricEigen([3, 0, 0, 0, 1, 0, 0, 0, 2], 3);
    expect(Array.from(values)).toEqual([1, 2, 3]);
    expect(Array.from(vectors)).toEqual([0, 0, 1, 1, 0, 0, 0, 1, 0]);
  });

  it('solves 2x2 matrices in closed form', () => {
    for (const [a, b, c] of [
      [2, 1, 2],
      [4, 1, -2],
      [1, 1e-20, 1],
      [0, 5, 0],
      [1e-8, 3, 1e8],
    ] as const) {
      const { values, vectors } = symmetricEigen([a, b, b, c], 2);
      // The larger-magnitude root directly, the other from the determinant: mid - r would
      // cancel for [1e-8, 3, 1e8], whose small eigenvalue -8e-8 Jacobi gets right.
      const mid = (a + c) / 2;
      const big = mid + Math.sign(mid || 1) * Math.hypot((a - c) / 2, b);
      const expected = [big, (a * c - b * b) / big].sort((x, y) => x - y);
      expect(values[0]! / expected[0]!).toBeCloseTo(1, 9);
      expect(values[1]! / expected[1]!).toBeCloseTo(1, 9);
      // A v = w v for each column.
      for (let k = 0; k < 2; k++) {
        const [x, y] = [vectors[k]!, vectors[2 + k]!];
        expect(Math.hypot(x, y)).toBeCloseTo(1, 12);
        expect(a * x + b * y).toBeCloseTo(values[k]! * x, 6);
        expect(b * x + c * y).toBeCloseTo(values[k]! * y, 6);
      }
    }
  });

  it('recovers a rotated diagonal matrix', () => {
    const th = 0.3;
    const [cs, sn] = [Math.cos(th), Math.sin(th)];
    // R diag(5, -1) R^T with R = [[c, -s], [s, c]].
    const a = [5 * cs * cs + -1 * sn * sn, (5 + 1) * cs * sn, (5 + 1) * cs * sn, 5 * sn * sn + -1 * cs * cs];
    const { values, vectors } = symmetricEigen(a, 2);
    expect(values[0]).toBeCloseTo(-1, 12);
    expect(values[1]).toBeCloseTo(5, 12);
    // Eigenvector of 5 is R's first column (c, s), up to sign.
    expect(Math.abs(vectors[1]! * cs + vectors[3]! * sn)).toBeCloseTo(1, 12);
  });

  it.each([5, 40, 128])('reconstructs a random symmetric matrix to 1e-9 (d = %i)', (d) => {
    const { recon, ortho } = residuals(randomSymmetric(d, rng(d)), d);
    expect(recon).toBeLessThan(1e-9);
    expect(ortho).toBeLessThan(1e-9);
  });

  it('handles rank-deficient PSD matrices', () => {
    // X^T X with X 10 x 32: rank 10, so 22 zero eigenvalues.
    const [n, d] = [10, 32];
    const next = rng(7);
    const x = Array.from({ length: n * d }, next);
    const a = new Float64Array(d * d);
    for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) for (let r = 0; r < n; r++) a[i * d + j]! += x[r * d + i]! * x[r * d + j]!;
    const { values } = symmetricEigen(a, d);
    expect(values.filter((w) => Math.abs(w) < 1e-10).length).toBe(d - n);
    expect(values[0]).toBeGreaterThan(-1e-10);
    expect(residuals(a, d).recon).toBeLessThan(1e-9);
  });

  it('rejects a wrong size', () => {
    expect(() => symmetricEigen([1, 2, 3], 2)).toThrow(RangeError);
  });
});
