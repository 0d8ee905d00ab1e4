import { SchedulerError, scheduleAlphaBars, type NoiseScheduleConfig } from './schedule.js';
import { spacedTimesteps, type TimestepSpacing } from './spacing.js';

/**
 * A schedule restricted to the kept timesteps τ_1 > … > τ_n (Nichol & Dhariwal 2021, App. B):
 * ᾱ'_i = ᾱ_{τ_i}, β'_i = 1 − ᾱ_{τ_i} / ᾱ_{τ_{i+1}} with ᾱ after the last kept step taken as 1.
 * Arrays are indexed by position i in sampling order; the network is fed the original τ_i.
 */
export interface RespacedSchedule {
  readonly timesteps: readonly number[];
  readonly alphaBar: Float64Array;
  readonly alphaBarPrev: Float64Array;
  readonly beta: Float64Array;
}

export interface SpacingOptions {
  timestepSpacing?: TimestepSpacing;
  /** start the reverse process at this training timestep instead of T − 1 (denoising, SDEdit-style) */
  startTimestep?: number;
}

export function respace(config: NoiseScheduleConfig, steps: number, opts: SpacingOptions = {}): RespacedSchedule {
  const ab = scheduleAlphaBars(config);
  const T = config.numTrainTimesteps;
  const timesteps = spacedTimesteps(T, steps, opts.timestepSpacing ?? 'leading', opts.startTimestep ?? T - 1);
  const n = timesteps.length;
  const alphaBar = new Float64Array(n);
  const alphaBarPrev = new Float64Array(n);
  const beta = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    alphaBar[i] = ab[timesteps[i]!]!;
    alphaBarPrev[i] = i + 1 < n ? ab[timesteps[i + 1]!]! : 1;
    beta[i] = 1 - alphaBar[i]! / alphaBarPrev[i]!;
  }
  return { timesteps, alphaBar, alphaBarPrev, beta };
}

export interface StepOutput {
  /** x_{t−1} */
  prevSample: Float32Array;
  /** x̂_0, the clean image predicted at this step (previews show it) */
  predOriginalSample: Float32Array;
}

export function checkStepIndex(schedule: RespacedSchedule, stepIndex: number): void {
  if (!Number.isInteger(stepIndex) || stepIndex < 0 || stepIndex >= schedule.timesteps.length) {
    throw new SchedulerError('stepIndex', `must be an integer in [0, ${schedule.timesteps.length - 1}], got ${stepIndex}`);
  }
}

export function checkSameLength(modelOutput: Float32Array, sample: Float32Array, noise?: Float32Array): void {
  if (modelOutput.length !== sample.length) {
    throw new SchedulerError('modelOutput', `has ${modelOutput.length} values but sample has ${sample.length}`);
  }
  if (noise && noise.length !== sample.length) {
    throw new SchedulerError('noise', `has ${noise.length} values but sample has ${sample.length}`);
  }
}

/** x̂_0 = (x_t − √(1−ᾱ_t) ε) / √ᾱ_t  (Ho et al. 2020, eq. 15), optionally clipped to [−1, 1]. */
export function predictOriginal(modelOutput: Float32Array, sample: Float32Array, alphaBar: number, clip: boolean): Float32Array {
  const s = Math.sqrt(alphaBar);
  const s1 = Math.sqrt(1 - alphaBar);
  const x0 = new Float32Array(sample.length);
  for (let j = 0; j < sample.length; j++) {
    let v = (sample[j]! - s1 * modelOutput[j]!) / s;
    if (clip) v = v < -1 ? -1 : v > 1 ? 1 : v;
    x0[j] = v;
  }
  return x0;
}
