import { Purpose, batchNormals } from '@diffusevae/rng';
import { runReverseProcess, type EpsConditioning, type SamplerSettings } from '@diffusevae/schedulers';
import { Tensor } from '@diffusevae/tensor';
import type { EpsFn, RefineOptions, Stage1, Stages } from './stages.js';

export interface GenerateRequest {
  count: number;
  seed: number;
  sampler: SamplerSettings;
  /** λ_z: z ~ λ_z · N(0, I) */
  latentTemperature: number;
  /** index of the first sample within the job; noise is keyed by sample index, so chunks of one job agree */
  firstSample?: number;
  /** false: stop after stage 1 */
  refine?: boolean;
  onStep?: RefineOptions['onStep'];
  signal?: AbortSignal;
  checkpoint?: string;
}

export interface PipelineResult {
  /** x̂: stage-1 (VAE) images, [count, C, H, W] in [−1, 1] */
  stage1: Tensor;
  /** refined images (equal to stage1 when refine is false) */
  images: Tensor;
}

export function sampleLatents(seed: number, count: number, dim: number, temperature: number, firstSample = 0): Tensor {
  const z = batchNormals(seed, Purpose.latent, 0, count, dim, firstSample);
  for (let i = 0; i < z.length; i++) z[i] = temperature * z[i]!;
  return new Tensor(z, [count, dim]);
}

/**
 * Stage 2 from an ε function: the reverse process conditioned on x̂. The scheduler service runs this. `conditioning`:
 * what `eps` takes per sample, the timestep (discrete refiners) or the noise level √ᾱ (continuous ones).
 */
export async function refineWith(eps: EpsFn, cond: Tensor, opts: RefineOptions, conditioning: EpsConditioning = 'timestep'): Promise<Tensor> {
  const shape = cond.shape;
  const onStep = opts.onStep;
  const out = await runReverseProcess({
    settings: opts.sampler,
    seed: opts.seed,
    count: cond.batch,
    firstSample: opts.firstSample ?? 0,
    itemSize: cond.itemSize,
    cond: cond.data,
    ...(opts.init ? { init: opts.init } : {}),
    ...(opts.sharedNoise ? { sharedNoise: true } : {}),
    conditioning,
    epsModel: async (x, t, c) => {
      opts.signal?.throwIfAborted();
      return (await eps(new Tensor(x, shape), t, new Tensor(c, shape))).data;
    },
    ...(onStep
      ? { onStep: (s) => onStep({ stepIndex: s.stepIndex, steps: s.steps, timestep: s.timestep, predOriginal: new Tensor(s.predOriginal, shape) }) }
      : {}),
  });
  return new Tensor(out, shape);
}

/** Stages over in-process networks (a ModelSet has encode, decode, eps and its noise conditioning). */
export function localStages(models: Stage1 & { eps: EpsFn; noiseConditioning?: 'discrete' | 'continuous' }): Stages {
  const conditioning: EpsConditioning = models.noiseConditioning === 'continuous' ? 'noiseLevel' : 'timestep';
  return {
    encode: (x) => models.encode(x),
    decode: (z) => models.decode(z),
    refine: (cond, opts) => refineWith((x, t, c) => models.eps(x, t, c), cond, opts, conditioning),
  };
}

/** Generation: z ~ λ_z N(0, I) → vae-decoder → x̂ → reverse process conditioned on x̂. */
export async function generate(stages: Stages, latentDim: number, req: GenerateRequest): Promise<PipelineResult> {
  const z = sampleLatents(req.seed, req.count, latentDim, req.latentTemperature, req.firstSample);
  const stage1 = await stages.decode(z);
  if (req.refine === false) return { stage1, images: stage1 };
  const images = await stages.refine(stage1, {
    seed: req.seed,
    sampler: req.sampler,
    ...(req.firstSample !== undefined ? { firstSample: req.firstSample } : {}),
    ...(req.onStep ? { onStep: req.onStep } : {}),
    ...(req.signal ? { signal: req.signal } : {}),
    ...(req.checkpoint !== undefined ? { checkpoint: req.checkpoint } : {}),
  });
  return { stage1, images };
}
