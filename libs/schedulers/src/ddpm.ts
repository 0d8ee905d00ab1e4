import {
  checkSameLength,
  checkStepIndex,
  predictOriginal,
  respace,
  type RespacedSchedule,
  type SpacingOptions,
  type StepOutput,
} from './respace.js';
import { DEFAULT_SCHEDULE, SchedulerError, type NoiseScheduleConfig } from './schedule.js';

/**
 * Ancestral DDPM sampling (Ho et al. 2020, Algorithm 2), on a respaced schedule when steps < T.
 *
 * "fixedlarge": σ_t² = β_t (index 0 replaced by the posterior variance at index 1, as in
 * Nichol & Dhariwal's code); "fixedsmall": σ_t² = β̃_t = β_t (1 − ᾱ_{t−1}) / (1 − ᾱ_t).
 */
export type VarianceType = 'fixedlarge' | 'fixedsmall';

export interface DdpmConfig extends NoiseScheduleConfig {
  varianceType: VarianceType;
  /** clip x̂_0 to [−1, 1] before forming the posterior mean */
  clipSample: boolean;
}

export const DEFAULT_DDPM: DdpmConfig = { ...DEFAULT_SCHEDULE, varianceType: 'fixedlarge', clipSample: true };

export class DdpmScheduler {
  readonly config: DdpmConfig;
  private schedule: RespacedSchedule;
  private variance: Float64Array;

  constructor(config: Partial<DdpmConfig> = {}) {
    this.config = { ...DEFAULT_DDPM, ...config };
    if (this.config.varianceType !== 'fixedlarge' && this.config.varianceType !== 'fixedsmall') {
      throw new SchedulerError('varianceType', `must be "fixedlarge" or "fixedsmall", got ${String(this.config.varianceType)}`);
    }
    this.schedule = respace(this.config, this.config.numTrainTimesteps);
    this.variance = this.computeVariance();
  }

  /** Keep `steps` of the T training timesteps (respacing). */
  setTimesteps(steps: number, opts: SpacingOptions = {}): this {
    this.schedule = respace(this.config, steps, opts);
    this.variance = this.computeVariance();
    return this;
  }

  /** Training timesteps in sampling order, fed to the network. */
  get timesteps(): readonly number[] {
    return this.schedule.timesteps;
  }

  /** ᾱ at each position in sampling order. */
  get alphaBar(): Float64Array {
    return this.schedule.alphaBar;
  }

  /** True where the step adds noise, i.e. every position but the last. */
  addsNoise(stepIndex: number): boolean {
    return stepIndex < this.schedule.timesteps.length - 1;
  }

  private computeVariance(): Float64Array {
    const { alphaBar, alphaBarPrev, beta } = this.schedule;
    const n = beta.length;
    const posterior = (i: number) => (beta[i]! * (1 - alphaBarPrev[i]!)) / (1 - alphaBar[i]!);
    const v = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      if (this.config.varianceType === 'fixedsmall') v[i] = posterior(i);
      // position n−1 is the last step (t = 0 of the respaced chain): take β̃ of the step before it
      else v[i] = i === n - 1 && n > 1 ? posterior(n - 2) : beta[i]!;
    }
    return v;
  }

  /**
   * x_t → x_{t−1}. `noise` is z ~ N(0, I) for this step (required where the step adds noise): it comes from
   * the caller so that a seed fixes it (see @diffusevae/rng).
   */
  step(modelOutput: Float32Array, stepIndex: number, sample: Float32Array, noise?: Float32Array): StepOutput {
    checkStepIndex(this.schedule, stepIndex);
    checkSameLength(modelOutput, sample, noise);
    const ab = this.schedule.alphaBar[stepIndex]!;
    const abPrev = this.schedule.alphaBarPrev[stepIndex]!;
    const beta = this.schedule.beta[stepIndex]!;
    // 1. predicted clean image (eq. 15)
    const x0 = predictOriginal(modelOutput, sample, ab, this.config.clipSample);
    // 2. posterior mean coefficients (eq. 7)
    const c0 = (beta * Math.sqrt(abPrev)) / (1 - ab);
    const ct = (Math.sqrt(1 - beta) * (1 - abPrev)) / (1 - ab);
    // 3. x_{t−1} = μ + 1[t>0] σ_t z
    const sigma = this.addsNoise(stepIndex) ? Math.sqrt(this.variance[stepIndex]!) : 0;
    if (sigma > 0 && !noise) throw new SchedulerError('noise', 'is required for every DDPM step but the last');
    const prev = new Float32Array(sample.length);
    for (let j = 0; j < sample.length; j++) {
      const mu = c0 * x0[j]! + ct * sample[j]!;
      prev[j] = sigma > 0 ? mu + sigma * noise![j]! : mu;
    }
    return { prevSample: prev, predOriginalSample: x0 };
  }
}
