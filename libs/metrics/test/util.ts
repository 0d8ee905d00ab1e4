/** Seeded uniform [-1, 1) generator (mulberry32), so failures reproduce. */
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) / 2 ** 32) * 2 - 1;
  };
}

export function randomSymmetric(d: number, next: () => number): Float64Array {
  const a = new Float64Array(d * d);
  for (let i = 0; i < d; i++) for (let j = i; j < d; j++) a[i * d + j] = a[j * d + i] = next();
  return a;
}

/** Random orthogonal matrix as a product of Householder reflections (independent of the code under test). */
export function randomOrthogonal(d: number, next: () => number): Float64Array {
  const q = new Float64Array(d * d);
  for (let i = 0; i < d; i++) q[i * d + i] = 1;
  for (let h = 0; h < 4; h++) {
    const v = Array.from({ length: d }, next);
    const vv = v.reduce((s, x) => s + x * x, 0);
    // Q <- Q (I - 2 v v^T / v^T v)
    for (let i = 0; i < d; i++) {
      let qv = 0;
      for (let k = 0; k < d; k++) qv += q[i * d + k]! * v[k]!;
      for (let j = 0; j < d; j++) q[i * d + j]! -= (2 * qv * v[j]!) / vv;
    }
  }
  return q;
}

/** Q diag(w) Q^T. */
export function conjugateDiagonal(q: Float64Array, w: ArrayLike<number>, d: number): Float64Array {
  const out = new Float64Array(d * d);
  for (let i = 0; i < d; i++)
    for (let j = 0; j < d; j++) {
      let s = 0;
      for (let k = 0; k < d; k++) s += q[i * d + k]! * w[k]! * q[j * d + k]!;
      out[i * d + j] = s;
    }
  return out;
}
