import { describe, expect, it } from 'vitest';
import { featureStats, frechetDistance, type FeatureStats } from '../src/index.js';
import { conjugateDiagonal, randomOrthogonal, rng } from './util.js';

const gaussian = (mean: ArrayLike<number>, cov: Float64Array): FeatureStats => ({ mean: Float64Array.from(mean), cov, n: 1000 });

describe('featureStats', () => {
  it('computes mean and unbiased covariance', () => {
    const s = featureStats(Float32Array.from([1, 2, 3, 6, 5, 10]), 3, 2);
    expect(Array.from(s.mean)).toEqual([3, 6]);
    expect(Array.from(s.cov)).toEqual([4, 8, 8, 16]);
    expect(s.n).toBe(3);
  });

  it('stays exact for a large offset', () => {
    // Naive E[x^2] - E[x]^2 loses everything here; centring first does not.
    const s = featureStats(Float64Array.from([1e8, 1e8 + 1, 1e8 + 2]), 3, 1);
    expect(s.cov[0]).toBe(1);
  });

  it('rejects bad shapes', () => {
    expect(() => featureStats(new Float32Array(6), 1, 6)).toThrow(/n >= 2/);
    expect(() => featureStats(new Float32Array(5), 2, 3)).toThrow(RangeError);
  });
});

describe('frechetDistance', () => {
  it('is ~0 for identical stats', () => {
    const [n, d] = [300, 24];
    const next = rng(3);
    const s = featureStats(Float32Array.from({ length: n * d }, next), n, d);
    expect(frechetDistance(s, s)).toBeLessThan(1e-10);
  });

  it('matches the closed form for diagonal covariances', () => {
    const d = 16;
    const next = rng(11);
    const a = Array.from({ length: d }, () => 0.1 + Math.abs(next()) * 3);
    const b = Array.from({ length: d }, () => 0.1 + Math.abs(next()) * 3);
    const m1 = Array.from({ length: d }, next);
    const m2 = Array.from({ length: d }, next);
    const diag = (w: number[]) => {
      const c = new Float64Array(d * d);
      w.forEach((v, i) => (c[i * d + i] = v));
      return c;
    };
    let expected = 0;
    for (let i = 0; i < d; i++) expected += (m1[i]! - m2[i]!) ** 2 + (Math.sqrt(a[i]!) - Math.sqrt(b[i]!)) ** 2;
    expect(frechetDistance(gaussian(m1, diag(a)), gaussian(m2, diag(b)))).toBeCloseTo(expected, 6);
  });

  it('matches the closed form for commuting dense 128-d covariances, fast', () => {
    // C1 = Q diag(a) Q^T, C2 = Q diag(b) Q^T share eigenvectors, so the diagonal formula holds.
    const d = 128;
    const next = rng(5);
    const q = randomOrthogonal(d, next);
    const a = Array.from({ length: d }, (_, i) => (i < 8 ? 0 : 0.01 + Math.abs(next()))); // rank-deficient C1
    const b = Array.from({ length: d }, () => 0.01 + Math.abs(next()));
    const mu = Array.from({ length: d }, next);
    let expected = mu.reduce((s, x) => s + x * x, 0);
    for (let i = 0; i < d; i++) expected += (Math.sqrt(a[i]!) - Math.sqrt(b[i]!)) ** 2;
    const c1 = conjugateDiagonal(q, a, d);
    const c2 = conjugateDiagonal(q, b, d);
    const t0 = performance.now();
    const got = frechetDistance(gaussian(mu, c1), gaussian(new Float64Array(d), c2));
    const ms = performance.now() - t0;
    expect(Math.abs(got - expected)).toBeLessThan(1e-6);
    // Generous bound for a loaded CI box; typically far less.
    expect(ms).toBeLessThan(3000);
  });

  it('matches the 2x2 closed form for non-commuting covariances, symmetrically', () => {
    // For 2x2, Tr sqrt(C1 C2) = sqrt(Tr(C1 C2) + 2 sqrt(det C1 det C2)).
    const c1 = Float64Array.from([2, 0.7, 0.7, 1]);
    const c2 = Float64Array.from([0.5, -0.2, -0.2, 3]);
    const tr12 = 2 * 0.5 + 0.7 * -0.2 + 0.7 * -0.2 + 1 * 3;
    const det = (c: Float64Array) => c[0]! * c[3]! - c[1]! * c[2]!;
    const trSqrt = Math.sqrt(tr12 + 2 * Math.sqrt(det(c1) * det(c2)));
    const expected = 1 + 4 + (2 + 1) + (0.5 + 3) - 2 * trSqrt;
    const s1 = gaussian([1, 2], c1);
    const s2 = gaussian([0, 0], c2);
    expect(frechetDistance(s1, s2)).toBeCloseTo(expected, 10);
    expect(frechetDistance(s2, s1)).toBeCloseTo(expected, 10);
  });

  it('rejects mismatched dimensions', () => {
    expect(() => frechetDistance(gaussian([0], new Float64Array(1)), gaussian([0, 0], new Float64Array(4)))).toThrow(RangeError);
  });
});
