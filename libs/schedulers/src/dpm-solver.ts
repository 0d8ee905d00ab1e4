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
 * DPM-Solver++(2M) (Lu et al. 2022, "DPM-Solver++", Alg. 2; diffusers' DPMSolverMultistepScheduler with
 * solver_type "midpoint") and its SDE variant ("sde-dpmsolver++"), in data prediction on the VP schedule:
 * α_t = √ᾱ_t, σ_t = √(1 − ᾱ_t), λ_t = log α_t − log σ_t, h = λ_s − λ_t for a step t → s.
 *   ODE, 1st order:  x_s = (σ_s/σ_t) x_t − α_s (e^{−h} − 1) D0
 *   ODE, 2M:         … − ½ α_s (e^{−h} − 1) D1
 *   SDE, 1st order:  x_s = (σ_s/σ_t) e^{−h} x_t + α_s (1 − e^{−2h}) D0 + σ_s √(1 − e^{−2h}) z
 *   SDE, 2M:         … + ½ α_s (1 − e^{−2h}) D1
 * with D0 = x̂_0(t), D1 = (x̂_0(t) − x̂_0(prev)) / r, r = h_prev / h. The first step has no history and the last
 * (to ᾱ = 1, σ = 0) is first order: it lands on x̂_0 (diffusers' lower_order_final).
 *
 * Multistep: the previous step's x̂_0 is state, kept in `history` (a checkpoint must carry it).
 */
export interface DpmSolverConfig extends NoiseScheduleConfig {
  clipSample: boolean;
}

export interface DpmSolverHistory {
  /** x̂_0 of the previous step (null before the first) */
  x0: Float32Array | null;
}

export class DpmSolverScheduler {
  readonly config: DpmSolverConfig;
  readonly sde: boolean;
  private schedule: RespacedSchedule;
  private prevX0: Float32Array | null = null;

  constructor(config: Partial<DpmSolverConfig> = {}, opts: { sde?: boolean } = {}) {
    this.config = { ...DEFAULT_SCHEDULE, clipSample: true, ...config };
    this.sde = opts.sde ?? false;
    // 20 steps until setTimesteps, fewer on a shorter schedule (an inference schedule has as many as it walks)
    this.schedule = respace(this.config, Math.min(20, this.config.numTrainTimesteps));
  }

  setTimesteps(steps: number, opts: SpacingOptions = {}): this {
    this.schedule = respace(this.config, steps, opts);
    this.prevX0 = null;
    return this;
  }

  get timesteps(): readonly number[] {
    return this.schedule.timesteps;
  }

  get alphaBar(): Float64Array {
    return this.schedule.alphaBar;
  }

  /** the multistep state after the steps done so far */
  get history(): DpmSolverHistory {
    return { x0: this.prevX0 && Float32Array.from(this.prevX0) };
  }

  set history(h: DpmSolverHistory) {
    this.prevX0 = h.x0 && Float32Array.from(h.x0);
  }

  addsNoise(stepIndex: number): boolean {
    return this.sde && stepIndex < this.schedule.timesteps.length - 1;
  }

  private lambda(ab: number): number {
    return 0.5 * Math.log(ab) - 0.5 * Math.log(1 - ab);
  }

  step(modelOutput: Float32Array, stepIndex: number, sample: Float32Array, noise?: Float32Array): StepOutput {
    checkStepIndex(this.schedule, stepIndex);
    checkSameLength(modelOutput, sample, noise);
    const n = this.schedule.timesteps.length;
    const ab = this.schedule.alphaBar[stepIndex]!;
    const abNext = this.schedule.alphaBarPrev[stepIndex]!;
    const x0 = predictOriginal(modelOutput, sample, ab, this.config.clipSample);
    const prev = this.prevX0;
    this.prevX0 = x0;
    // the last step goes to ᾱ = 1 (σ = 0): x̂_0 itself
    if (stepIndex === n - 1 || abNext >= 1) return { prevSample: Float32Array.from(x0), predOriginalSample: x0 };
    if (this.addsNoise(stepIndex) && !noise) throw new SchedulerError('noise', 'is required by the SDE solver');
    const sigmaT = Math.sqrt(1 - ab);
    const alphaS = Math.sqrt(abNext);
    const sigmaS = Math.sqrt(1 - abNext);
    const lamT = this.lambda(ab);
    const lamS = this.lambda(abNext);
    const h = lamS - lamT;
    // second order when there is a previous x̂_0 (not at the first step)
    let r = 0;
    if (prev && stepIndex > 0) {
      const lamPrev = this.lambda(this.schedule.alphaBar[stepIndex - 1]!);
      r = (lamT - lamPrev) / h;
    }
    const out = new Float32Array(sample.length);
    if (!this.sde) {
      const cx = sigmaS / sigmaT;
      const c0 = -alphaS * Math.expm1(-h);
      for (let j = 0; j < out.length; j++) {
        const d1 = r > 0 ? (x0[j]! - prev![j]!) / r : 0;
        out[j] = cx * sample[j]! + c0 * x0[j]! + 0.5 * c0 * d1;
      }
    } else {
      const cx = (sigmaS / sigmaT) * Math.exp(-h);
      const c0 = -alphaS * Math.expm1(-2 * h);
      const cz = sigmaS * Math.sqrt(-Math.expm1(-2 * h));
      for (let j = 0; j < out.length; j++) {
        const d1 = r > 0 ? (x0[j]! - prev![j]!) / r : 0;
        out[j] = cx * sample[j]! + c0 * x0[j]! + 0.5 * c0 * d1 + cz * noise![j]!;
      }
    }
    return { prevSample: out, predOriginalSample: x0 };
  }
}
