import { philox4x32 } from './philox.js';

/** What a stream of noise is for; part of the counter so that two purposes never share numbers. */
export const Purpose = {
  /** z ~ N(0, I) for generation (stage 1). */
  latent: 0,
  /** x_T, the start of the reverse process. */
  start: 1,
  /** z in x_{t-1} = μ + σ_t z, one stream per step. */
  step: 2,
  /** the reparameterisation noise of the encoder, z = μ + σ ε. */
  posterior: 3,
  /** noise added to a clean image (benchmarks and evaluation of denoising). */
  corruption: 4,
} as const;
export type Purpose = (typeof Purpose)[keyof typeof Purpose];

/** Where a stream of normals comes from: all integers, seed in [0, 2^53). */
export interface NoiseKey {
  seed: number;
  /** index of the sample within its job */
  sample: number;
  purpose: Purpose;
  /** step index for Purpose.step (the position in the sampler's timesteps), else 0 */
  step: number;
}

export class RngError extends Error {
  override name = 'RngError';
}

const TWO32 = 4294967296;

export function checkSeed(seed: number, field = 'seed'): void {
  if (!Number.isSafeInteger(seed) || seed < 0) {
    throw new RngError(`${field}: must be an integer in [0, 2^53 - 1], got ${seed}`);
  }
}

/**
 * `n` standard normal float32 values for one key. Counter words: (block, step, purpose, sample); key words:
 * the seed's low and high 32 bits. Each block of 4 uint32 gives 4 normals by Box-Muller on
 * u = (k + 0.5) / 2^32, which lies strictly inside (0, 1).
 */
export function normals(key: NoiseKey, n: number, out: Float32Array = new Float32Array(n)): Float32Array {
  checkSeed(key.seed);
  const k0 = key.seed % TWO32 >>> 0;
  const k1 = Math.floor(key.seed / TWO32) >>> 0;
  const block = new Uint32Array(4);
  for (let b = 0, i = 0; i < n; b++) {
    philox4x32(b, key.step >>> 0, key.purpose >>> 0, key.sample >>> 0, k0, k1, block);
    for (let j = 0; j < 4 && i < n; j += 2) {
      const u1 = (block[j]! + 0.5) / TWO32;
      const u2 = (block[j + 1]! + 0.5) / TWO32;
      const r = Math.sqrt(-2 * Math.log(u1));
      const theta = 2 * Math.PI * u2;
      out[i++] = r * Math.cos(theta);
      if (i < n) out[i++] = r * Math.sin(theta);
    }
  }
  return out;
}

/** Normals for samples [0, count) of one job laid out one after another (count × itemSize values). */
export function batchNormals(seed: number, purpose: Purpose, step: number, count: number, itemSize: number, firstSample = 0): Float32Array {
  const out = new Float32Array(count * itemSize);
  for (let s = 0; s < count; s++) {
    normals({ seed, sample: firstSample + s, purpose, step }, itemSize, out.subarray(s * itemSize, (s + 1) * itemSize));
  }
  return out;
}
