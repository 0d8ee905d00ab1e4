import { resize } from '@diffusevae/image';
import { Purpose, batchNormals } from '@diffusevae/rng';
import { alphaBars, linearBetas, timestepForNoiseLevel, type NoiseScheduleConfig, type SamplerSettings } from '@diffusevae/schedulers';
import { Tensor } from '@diffusevae/tensor';
import type { PipelineResult } from './generate.js';
import type { RefineOptions, Stages } from './stages.js';

type Common = Pick<RefineOptions, 'seed' | 'sampler' | 'firstSample' | 'onStep' | 'signal' | 'checkpoint'>;

function refineOpts(o: Common, extra: Partial<RefineOptions> = {}): RefineOptions {
  return {
    seed: o.seed,
    sampler: o.sampler,
    ...(o.firstSample !== undefined ? { firstSample: o.firstSample } : {}),
    ...(o.onStep ? { onStep: o.onStep } : {}),
    ...(o.signal ? { signal: o.signal } : {}),
    ...(o.checkpoint !== undefined ? { checkpoint: o.checkpoint } : {}),
    ...extra,
  };
}

/** z = μ + σ ε with ε keyed by (seed, sample): a sample of q(z|x), as the refiner was trained on. */
export function posteriorSample(mu: Tensor, logvar: Tensor, seed: number, firstSample = 0): Tensor {
  const eps = batchNormals(seed, Purpose.posterior, 0, mu.batch, mu.itemSize, firstSample);
  return new Tensor(Float32Array.from(mu.data, (m, i) => m + Math.exp(0.5 * logvar.data[i]!) * eps[i]!), mu.shape);
}

/** Reconstruction: image → encoder → z (sampled, or μ) → vae-decoder → x̂ → refine. Images in [−1, 1]. */
export async function reconstruct(stages: Stages, x: Tensor, o: Common & { useMean?: boolean }): Promise<PipelineResult> {
  const { mu, logvar } = await stages.encode(x);
  const z = o.useMean ? mu : posteriorSample(mu, logvar, o.seed, o.firstSample);
  const stage1 = await stages.decode(z);
  return { stage1, images: await stages.refine(stage1, refineOpts(o)) };
}

/** Bicubic upsampling of a batch [B, C, h, w] to [B, C, H, W]. */
export function upsample(x: Tensor, height: number, width: number): Tensor {
  const [b, c, h, w] = x.shape as [number, number, number, number];
  const out = new Float32Array(b * c * height * width);
  for (let i = 0; i < b; i++) {
    out.set(resize(x.data.subarray(i * c * h * w, (i + 1) * c * h * w), w, h, c, width, height, 'bicubic'), i * c * height * width);
  }
  return new Tensor(out, [b, c, height, width]);
}

/**
 * Super-resolution: low-res → bicubic to the model's size (→ encoder → vae-decoder when throughVae) → refine.
 * The refiner generalises to imperfect conditioning; going through the VAE first moves x̂ onto the blur it was
 * trained on. docs/evaluation.md measures both.
 */
export async function superResolve(
  stages: Stages,
  lowRes: Tensor,
  o: Common & { height: number; width: number; throughVae?: boolean },
): Promise<PipelineResult> {
  const up = upsample(lowRes, o.height, o.width);
  let stage1 = up;
  if (o.throughVae) {
    const { mu } = await stages.encode(up);
    stage1 = await stages.decode(mu);
  }
  return { stage1, images: await stages.refine(stage1, refineOpts(o)) };
}

/**
 * Donoho's noise estimate: median |HH| / 0.6745 over the finest Haar diagonal detail, per image, in the
 * units of the input. Used when a denoise request gives no σ.
 */
export function estimateNoiseSigma(x: Tensor): number[] {
  const [b, c, h, w] = x.shape as [number, number, number, number];
  const out: number[] = [];
  for (let i = 0; i < b; i++) {
    const hh: number[] = [];
    for (let ch = 0; ch < c; ch++) {
      const base = (i * c + ch) * h * w;
      for (let y = 0; y + 1 < h; y += 2) {
        for (let xx = 0; xx + 1 < w; xx += 2) {
          const p = (yy: number, xc: number) => x.data[base + yy * w + xc]!;
          hh.push(Math.abs(p(y, xx) - p(y, xx + 1) - p(y + 1, xx) + p(y + 1, xx + 1)) / 2);
        }
      }
    }
    hh.sort((a, b2) => a - b2);
    out.push(hh[Math.floor(hh.length / 2)]! / 0.6745);
  }
  return out;
}

/**
 * Denoising with the refiner alone (no stage 1): conditioned on the noisy image y and started at the timestep t
 * whose noise level matches σ (x_t = √ᾱ_t · y, since y/1 = x_0 + σ n ⇔ √ᾱ_t y = √ᾱ_t x_0 + √(1−ᾱ_t) n).
 * `sigma` is in the model's [−1, 1] units (twice the [0, 1]-pixel σ); without it, it is estimated (the batch's
 * median estimate: one start timestep per request).
 */
export async function denoise(
  stages: Stages,
  noisy: Tensor,
  o: Common & { sigma?: number; schedule: NoiseScheduleConfig },
): Promise<PipelineResult & { sigma: number; startTimestep: number }> {
  const sigmas = estimateNoiseSigma(noisy).sort((a, b) => a - b);
  const sigma = o.sigma ?? sigmas[Math.floor(sigmas.length / 2)]!;
  const ab = alphaBars(linearBetas(o.schedule));
  const startTimestep = timestepForNoiseLevel(ab, Math.max(sigma, 1e-3));
  const steps = Math.min(o.sampler.steps, startTimestep + 1);
  const sampler: SamplerSettings = { ...o.sampler, steps, startTimestep };
  const s = Math.sqrt(ab[startTimestep]!);
  const init = Float32Array.from(noisy.data, (v) => s * v);
  const images = await stages.refine(noisy, refineOpts({ ...o, sampler }, { init }));
  return { stage1: noisy, images, sigma, startTimestep };
}

/**
 * Interpolation: z along a spherical path from z₁ to z₂ (slerp keeps ‖z‖ typical of N(0, I)), decoded, and
 * refined with the DDPM noise held fixed, so that only the content changes along the path.
 */
export function slerpPath(z1: Float32Array, z2: Float32Array, n: number): Tensor {
  let dot = 0;
  let n1 = 0;
  let n2 = 0;
  for (let i = 0; i < z1.length; i++) {
    dot += z1[i]! * z2[i]!;
    n1 += z1[i]! ** 2;
    n2 += z2[i]! ** 2;
  }
  const omega = Math.acos(Math.max(-1, Math.min(1, dot / Math.sqrt(n1 * n2))));
  const out = new Float32Array(n * z1.length);
  for (let k = 0; k < n; k++) {
    const a = n === 1 ? 0 : k / (n - 1);
    const [w1, w2] = omega < 1e-6 ? [1 - a, a] : [Math.sin((1 - a) * omega) / Math.sin(omega), Math.sin(a * omega) / Math.sin(omega)];
    for (let i = 0; i < z1.length; i++) out[k * z1.length + i] = w1 * z1[i]! + w2 * z2[i]!;
  }
  return new Tensor(out, [n, z1.length]);
}

export async function interpolate(stages: Stages, z1: Float32Array, z2: Float32Array, o: Common & { points: number }): Promise<PipelineResult> {
  const stage1 = await stages.decode(slerpPath(z1, z2, o.points));
  return { stage1, images: await stages.refine(stage1, refineOpts(o, { sharedNoise: true })) };
}

/** x_T of one sample as a reverse process draws it: λ · N(0, I) keyed by (seed, sample), in Formulation-1 space. */
export function startNoise(seed: number, itemSize: number, temperature: number, sample = 0): Float32Array {
  const n = batchNormals(seed, Purpose.start, 0, 1, itemSize, sample);
  for (let i = 0; i < n.length; i++) n[i] = temperature * n[i]!;
  return n;
}

/**
 * Interpolation in the DDPM latent (the paper's Figure 4, right): one stage-1 image x̂ (from z) held fixed, x_T moved
 * along a spherical path between the start noises of two seeds, the per-step noise shared by every point (the job's
 * seed): only the detail the refiner adds changes along the path, not the content. `noiseSeeds`: the seeds of the two
 * ends' x_T (each drawn as sample `firstSample` of that seed would be).
 */
export async function interpolateNoise(
  stages: Stages,
  z: Float32Array,
  noiseSeeds: readonly [number, number],
  o: Common & { points: number },
): Promise<PipelineResult> {
  const one = await stages.decode(new Tensor(Float32Array.from(z), [1, z.length]));
  const stage1 = Tensor.concatBatch(Array.from({ length: o.points }, () => one));
  const sample = o.firstSample ?? 0;
  const ends = noiseSeeds.map((s) => startNoise(s, one.itemSize, o.sampler.temperature, sample));
  const init = slerpPath(ends[0]!, ends[1]!, o.points).data;
  return { stage1, images: await stages.refine(stage1, refineOpts(o, { init, sharedNoise: true })) };
}
