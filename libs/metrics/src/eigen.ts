export interface SymmetricEigen {
  /** Eigenvalues, ascending. */
  values: Float64Array;
  /** Row-major d x d; column k is the unit eigenvector for values[k], so A = V diag(values) V^T. */
  vectors: Float64Array;
}

const EPS = Number.EPSILON;
const MAX_SWEEPS = 60;

/**
 * Eigendecomposition of a real symmetric d x d matrix (row-major) by the cyclic Jacobi method,
 * in float64. Only the symmetric part (A + A^T) / 2 is used. Jacobi is chosen over QR for its
 * simplicity and its high relative accuracy on small eigenvalues of PSD matrices (covariances);
 * at d = 128 it converges in well under 10 sweeps.
 */
export function symmetricEigen(matrix: ArrayLike<number>, d: number): SymmetricEigen {
  if (!Number.isInteger(d) || d < 0) throw new RangeError(`d must be a non-negative integer, got ${d}`);
  if (matrix.length !== d * d) throw new RangeError(`expected ${d * d} values for a ${d}x${d} matrix, got ${matrix.length}`);
  const a = new Float64Array(d * d);
  let fro2 = 0;
  for (let i = 0; i < d; i++) {
    for (let j = 0; j < d; j++) {
      const v = (matrix[i * d + j]! + matrix[j * d + i]!) / 2;
      if (!Number.isFinite(v)) throw new RangeError(`matrix has a non-finite value at (${i}, ${j})`);
      a[i * d + j] = v;
      fro2 += v * v;
    }
  }
  const v = new Float64Array(d * d);
  for (let i = 0; i < d; i++) v[i * d + i] = 1;
  // Off-diagonals below eps * ||A||_F are at the level of the rounding every rotation makes
  // anyway; chasing them would never terminate on rank-deficient input.
  const floor = EPS * Math.sqrt(fro2);

  for (let sweep = 0; sweep < MAX_SWEEPS; sweep++) {
    let rotated = false;
    for (let p = 0; p < d - 1; p++) {
      for (let q = p + 1; q < d; q++) {
        const apq = a[p * d + q]!;
        const app = a[p * d + p]!;
        const aqq = a[q * d + q]!;
        // Relative test (Demmel & Veselic) keeps small eigenvalues accurate.
        if (Math.abs(apq) <= Math.max(floor, EPS * Math.sqrt(Math.abs(app * aqq)))) continue;
        rotated = true;
        // Rotation angle that zeroes a_pq, taking the smaller root for stability.
        const theta = (aqq - app) / (2 * apq);
        const t = Math.abs(theta) > 1e150 ? 1 / (2 * theta) : Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < d; k++) {
          if (k === p || k === q) continue;
          const akp = a[k * d + p]!;
          const akq = a[k * d + q]!;
          a[k * d + p] = a[p * d + k] = c * akp - s * akq;
          a[k * d + q] = a[q * d + k] = s * akp + c * akq;
        }
        a[p * d + p] = app - t * apq;
        a[q * d + q] = aqq + t * apq;
        a[p * d + q] = a[q * d + p] = 0;
        for (let k = 0; k < d; k++) {
          const vkp = v[k * d + p]!;
          const vkq = v[k * d + q]!;
          v[k * d + p] = c * vkp - s * vkq;
          v[k * d + q] = s * vkp + c * vkq;
        }
      }
    }
    if (!rotated) break;
  }

  const order = Array.from({ length: d }, (_, i) => i).sort((i, j) => a[i * d + i]! - a[j * d + j]!);
  const values = Float64Array.from(order, (i) => a[i * d + i]!);
  const vectors = new Float64Array(d * d);
  order.forEach((src, k) => {
    for (let i = 0; i < d; i++) vectors[i * d + k] = v[i * d + src]!;
  });
  return { values, vectors };
}
