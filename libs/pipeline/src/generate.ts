import { Purpose, batchNormals } from '@diffusevae/rng';
import { runReverseProcess, type SamplerSettings } from '@diffusevae/schedulers';
import { Tensor } from '@diffusevae/tensor';
import type { Stages } from './stages.js';

export interface StepProgress {
  stepIndex: number;
  steps: number;
  timestep: number;
  /** x̂_0 predicted at this step, [count, C, H, W] in [−1, 1] */
  predOriginal: Tensor;
}

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
  onStep?: (p: StepProgress) => void | Promise<void>;
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

/** Stage 2 on given conditioning images: the reverse process conditioned on x̂. */
export async function refine(
  stages: Stages,
  cond: Tensor,
  opts: { seed: number; sampler: SamplerSettings; firstSample?: number; init?: Float32Array; onStep?: GenerateRequest['onStep'] },
): Promise<Tensor> {
  const shape = cond.shape;
  const out = await runReverseProcess({
    settings: opts.sampler,
    seed: opts.seed,
    count: cond.batch,
    firstSample: opts.firstSample ?? 0,
    itemSize: cond.itemSize,
    cond: cond.data,
    ...(opts.init ? { init: opts.init } : {}),
    epsModel: async (x, t, c) => (await stages.eps(new Tensor(x, shape), t, new Tensor(c, shape))).data,
    onStep: opts.onStep
      ? (s) => opts.onStep!({ stepIndex: s.stepIndex, steps: s.steps, timestep: s.timestep, predOriginal: new Tensor(s.predOriginal, shape) })
      : undefined,
  });
  return new Tensor(out, shape);
}

/** Generation: z ~ λ_z N(0, I) → vae-decoder → x̂ → refiner conditioned on x̂. */
export async function generate(stages: Stages, latentDim: number, req: GenerateRequest): Promise<PipelineResult> {
  const z = sampleLatents(req.seed, req.count, latentDim, req.latentTemperature, req.firstSample);
  const stage1 = await stages.decode(z);
  if (req.refine === false) return { stage1, images: stage1 };
  const images = await refine(stages, stage1, { seed: req.seed, sampler: req.sampler, firstSample: req.firstSample, onStep: req.onStep });
  return { stage1, images };
}
