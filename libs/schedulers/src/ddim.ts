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
 * DDIM (Song et al. 2021), eq. 12 with σ from eq. 16:
 *   σ = η √((1 − ᾱ_prev) / (1 − ᾱ_t)) √(1 − ᾱ_t / ᾱ_prev)
 *   x_prev = √ᾱ_prev x̂_0 + √(1 − ᾱ_prev − σ²) ε_θ + σ z
 * η = 0 is deterministic; η = 1 has DDPM's posterior variance. ᾱ after the last step is 1.
 */
export interface DdimConfig extends NoiseScheduleConfig {
  clipSample: boolean;
}

export const DEFAULT_DDIM: DdimConfig = { ...DEFAULT_SCHEDULE, clipSample: true };

export class DdimScheduler {
  readonly config: DdimConfig;
  private schedule: RespacedSchedule;
  private etaValue = 0;

  constructor(config: Partial<DdimConfig> = {}) {
    this.config = { ...DEFAULT_DDIM, ...config };
    // 50 steps until setTimesteps, fewer on a shorter schedule (an inference schedule has as many as it walks)
    this.schedule = respace(this.config, Math.min(50, this.config.numTrainTimesteps));
  }

  setTimesteps(steps: number, opts: SpacingOptions & { eta?: number } = {}): this {
    const eta = opts.eta ?? 0;
    if (!Number.isFinite(eta) || eta < 0 || eta > 1) throw new SchedulerError('eta', `must be a number in [0, 1], got ${eta}`);
    this.schedule = respace(this.config, steps, opts);
    this.etaValue = eta;
    return this;
  }

  get timesteps(): readonly number[] {
    return this.schedule.timesteps;
  }

  get alphaBar(): Float64Array {
    return this.schedule.alphaBar;
  }

  get eta(): number {
    return this.etaValue;
  }

  sigma(stepIndex: number): number {
    const ab = this.schedule.alphaBar[stepIndex]!;
    const abPrev = this.schedule.alphaBarPrev[stepIndex]!;
    return this.etaValue * Math.sqrt((1 - abPrev) / (1 - ab)) * Math.sqrt(1 - ab / abPrev);
  }

  addsNoise(stepIndex: number): boolean {
    return this.sigma(stepIndex) > 0;
  }

  step(modelOutput: Float32Array, stepIndex: number, sample: Float32Array, noise?: Float32Array): StepOutput {
    checkStepIndex(this.schedule, stepIndex);
    checkSameLength(modelOutput, sample, noise);
    const ab = this.schedule.alphaBar[stepIndex]!;
    const abPrev = this.schedule.alphaBarPrev[stepIndex]!;
    // 1. predicted clean image; like diffusers, the direction term keeps the network's ε even when x̂_0 is clipped
    const x0 = predictOriginal(modelOutput, sample, ab, this.config.clipSample);
    // 2. σ (eq. 16)
    const sigma = this.sigma(stepIndex);
    if (sigma > 0 && !noise) throw new SchedulerError('noise', 'is required when eta > 0');
    // 3. eq. 12
    const a = Math.sqrt(abPrev);
    const d = Math.sqrt(Math.max(0, 1 - abPrev - sigma * sigma));
    const prev = new Float32Array(sample.length);
    for (let j = 0; j < sample.length; j++) {
      const v = a * x0[j]! + d * modelOutput[j]!;
      prev[j] = sigma > 0 ? v + sigma * noise![j]! : v;
    }
    return { prevSample: prev, predOriginalSample: x0 };
  }
}
