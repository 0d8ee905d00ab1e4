import { symmetricEigen } from './eigen.js';

export interface FeatureStats {
  mean: Float64Array;
  /** Row-major d x d covariance, unbiased (divided by n - 1). */
  cov: Float64Array;
  n: number;
}

/**
 * Mean and covariance of n feature rows of length d (row-major), in float64. Rows are
 * centred before the products are summed, avoiding the cancellation of E[x x^T] - mu mu^T.
 */
export function featureStats(features: Float32Array | Float64Array, n: number, d: number): FeatureStats {
  if (!Number.isInteger(n) || n < 2) throw new RangeError(`need n >= 2 feature rows for an unbiased covariance, got ${n}`);
  if (!Number.isInteger(d) || d < 1) throw new RangeError(`d must be a positive integer, got ${d}`);
  if (features.length !== n * d) throw new RangeError(`expected ${n * d} values for ${n}x${d} features, got ${features.length}`);
  const mean = new Float64Array(d);
  for (let r = 0; r < n; r++) for (let j = 0; j < d; j++) mean[j]! += features[r * d + j]!;
  for (let j = 0; j < d; j++) mean[j]! /= n;

  const cov = new Float64Array(d * d);
  const x = new Float64Array(d);
  for (let r = 0; r < n; r++) {
    for (let j = 0; j < d; j++) x[j] = features[r * d + j]! - mean[j]!;
    for (let i = 0; i < d; i++) {
      const xi = x[i]!;
      for (let j = i; j < d; j++) cov[i * d + j]! += xi * x[j]!;
    }
  }
  for (let i = 0; i < d; i++) {
    for (let j = i; j < d; j++) cov[i * d + j] = cov[j * d + i] = cov[i * d + j]! / (n - 1);
  }
  return { mean, cov, n };
}

function matmul(x: Float64Array, y: Float64Array, d: number): Float64Array {
  const out = new Float64Array(d * d);
  for (let i = 0; i < d; i++) {
    for (let k = 0; k < d; k++) {
      const xik = x[i * d + k]!;
      if (xik === 0) continue;
      for (let j = 0; j < d; j++) out[i * d + j]! += xik * y[k * d + j]!;
    }
  }
  return out;
}

/**
 * Frechet distance between Gaussians fitted to two feature sets (FID when the features are
 * Inception pool features): ||mu1 - mu2||^2 + Tr(C1 + C2 - 2 (C1 C2)^(1/2)).
 * C1 C2 is not symmetric, so Tr((C1 C2)^(1/2)) is taken as the sum of square roots of the
 * eigenvalues of the similar, symmetric PSD matrix sqrt(C1) C2 sqrt(C1); eigenvalues that
 * rounding pushed below zero count as 0, as does a tiny negative total.
 */
export function frechetDistance(a: FeatureStats, b: FeatureStats): number {
  const d = a.mean.length;
  if (b.mean.length !== d || a.cov.length !== d * d || b.cov.length !== d * d) {
    throw new RangeError(`stats dimensions differ: mean ${a.mean.length} / ${b.mean.length}, cov ${a.cov.length} / ${b.cov.length}`);
  }
  let meanTerm = 0;
  for (let i = 0; i < d; i++) meanTerm += (a.mean[i]! - b.mean[i]!) ** 2;

  const e1 = symmetricEigen(a.cov, d);
  // sqrt(C1) = V diag(sqrt(w)) V^T; scale V's columns, then multiply by V^T.
  const vs = new Float64Array(d * d);
  for (let i = 0; i < d; i++) {
    for (let k = 0; k < d; k++) vs[i * d + k] = e1.vectors[i * d + k]! * Math.sqrt(Math.max(0, e1.values[k]!));
  }
  const sqrt1 = new Float64Array(d * d);
  for (let i = 0; i < d; i++) {
    for (let j = i; j < d; j++) {
      let s = 0;
      for (let k = 0; k < d; k++) s += vs[i * d + k]! * e1.vectors[j * d + k]!;
      sqrt1[i * d + j] = sqrt1[j * d + i] = s;
    }
  }
  const m = matmul(matmul(sqrt1, b.cov, d), sqrt1, d);
  let trSqrt = 0;
  for (const w of symmetricEigen(m, d).values) trSqrt += Math.sqrt(Math.max(0, w));

  let tr1 = 0;
  let tr2 = 0;
  for (let i = 0; i < d; i++) {
    tr1 += a.cov[i * d + i]!;
    tr2 += b.cov[i * d + i]!;
  }
  return Math.max(0, meanTerm + tr1 + tr2 - 2 * trSqrt);
}
