import type { SamplerSettings } from '@diffusevae/schedulers';
import type { Tensor } from '@diffusevae/tensor';

export interface StepProgress {
  stepIndex: number;
  steps: number;
  timestep: number;
  /**
   * x̂_0 predicted at this step, [count, C, H, W] in [−1, 1]. In-process always; over NATS only on the steps
   * that carry a preview (see the service clients' previewIntervalMs)
   */
  predOriginal?: Tensor;
}

export interface RefineOptions {
  seed: number;
  sampler: SamplerSettings;
  /** index of the first sample within its job: noise is keyed by (seed, sample index) */
  firstSample?: number;
  /** every sample uses the noise of sample `firstSample` (interpolation holds the DDPM noise fixed) */
  sharedNoise?: boolean;
  /** start of the reverse process instead of x_T = λ N(0, I) (denoising) */
  init?: Float32Array;
  onStep?: (p: StepProgress) => void | Promise<void>;
  signal?: AbortSignal;
  /**
   * the job's id, when the stages can keep the reverse process's checkpoints (over NATS: the scheduler saves
   * them under `<checkpoint>.<firstSample>`): a job run again with the same id resumes where the last try stopped
   */
  checkpoint?: string;
}

/** Stage 1: the VAE. */
export interface Stage1 {
  /** q(z|x): [B, C, H, W] in [−1, 1] → μ, log σ² */
  encode(x: Tensor): Promise<{ mu: Tensor; logvar: Tensor }>;
  /** z → x̂ in [−1, 1] */
  decode(z: Tensor): Promise<Tensor>;
}

/** Stage 2: the reverse process conditioned on x̂ (the scheduler, which calls the refiner). */
export interface Stage2 {
  refine(cond: Tensor, opts: RefineOptions): Promise<Tensor>;
}

/**
 * What a pipeline calls. In-process (`localStages` over a ModelSet) or over NATS (the service clients):
 * a pipeline does not know which it runs on.
 */
export type Stages = Stage1 & Stage2;

/**
 * ε_θ on a batch with a level per sample (the timestep t, or the noise level √ᾱ for a refiner conditioned on it): the
 * refiner network (in-process) or the refiner service.
 */
export type EpsFn = (xT: Tensor, t: readonly number[], cond: Tensor) => Promise<Tensor>;
