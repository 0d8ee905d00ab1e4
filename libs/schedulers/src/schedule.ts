/**
 * The forward-process noise schedule (Ho et al. 2020, §4): β linear in t, α_t = 1 − β_t, ᾱ_t = Π_{s≤t} α_s.
 * Everything here is float64 and computed in the same order as tools/train/diffusevae/schedule.py.
 */
export interface NoiseScheduleConfig {
  /** T, the number of training timesteps */
  numTrainTimesteps: number;
  betaStart: number;
  betaEnd: number;
  /**
   * ᾱ_t for t = 0 … T − 1 when the schedule is given by its noise levels rather than by β linear in t (an inference
   * schedule of the LOG_SNR or KARRAS kind, inference-schedule.ts); betaStart and betaEnd are then its first and last β.
   */
  alphaBar?: readonly number[];
}

export const DEFAULT_SCHEDULE: NoiseScheduleConfig = { numTrainTimesteps: 1000, betaStart: 1e-4, betaEnd: 0.02 };

export class SchedulerError extends Error {
  override name = 'SchedulerError';
  constructor(
    /** the parameter at fault, as the caller named it */
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
  }
}

/** numpy.linspace(betaStart, betaEnd, T): start + i·step, the last value set exactly to betaEnd. */
export function linearBetas({ numTrainTimesteps: T, betaStart, betaEnd }: NoiseScheduleConfig): Float64Array {
  if (!Number.isInteger(T) || T < 2) throw new SchedulerError('numTrainTimesteps', `must be an integer ≥ 2, got ${T}`);
  if (!(betaStart > 0 && betaEnd < 1 && betaStart <= betaEnd)) {
    throw new SchedulerError('betaStart', `need 0 < betaStart ≤ betaEnd < 1, got ${betaStart} and ${betaEnd}`);
  }
  const betas = new Float64Array(T);
  const step = (betaEnd - betaStart) / (T - 1);
  for (let i = 0; i < T; i++) betas[i] = i * step + betaStart;
  betas[T - 1] = betaEnd;
  return betas;
}

/** ᾱ_t of a schedule: its own list when it has one, else cumprod(1 − β) of β linear in t. */
export function scheduleAlphaBars(config: NoiseScheduleConfig): Float64Array {
  if (config.alphaBar == null) return alphaBars(linearBetas(config));
  if (config.alphaBar.length !== config.numTrainTimesteps) {
    throw new SchedulerError('alphaBar', `must have numTrainTimesteps = ${config.numTrainTimesteps} values, got ${config.alphaBar.length}`);
  }
  return Float64Array.from(config.alphaBar);
}

export function alphaBars(betas: Float64Array): Float64Array {
  const ab = new Float64Array(betas.length);
  let p = 1;
  for (let i = 0; i < betas.length; i++) {
    p *= 1 - betas[i]!;
    ab[i] = p;
  }
  return ab;
}

/** σ = √((1 − ᾱ)/ᾱ): the noise-to-signal ratio of x_t/√ᾱ (Karras' σ). */
export function sigmaOf(alphaBar: number): number {
  return Math.sqrt((1 - alphaBar) / alphaBar);
}

/**
 * The training timestep whose noise matches an input corrupted with N(0, σ²) in the model's [-1, 1] range:
 * x_t / √ᾱ_t = x_0 + √((1 − ᾱ_t) / ᾱ_t) ε, so the match is the t with √((1 − ᾱ_t) / ᾱ_t) closest to σ.
 */
export function timestepForNoiseLevel(alphaBar: Float64Array, sigma: number): number {
  if (!(sigma > 0) || !Number.isFinite(sigma)) throw new SchedulerError('sigma', `must be a positive number, got ${sigma}`);
  let best = 0;
  let bestErr = Infinity;
  for (let t = 0; t < alphaBar.length; t++) {
    const err = Math.abs(sigmaOf(alphaBar[t]!) - sigma);
    if (err < bestErr) {
      bestErr = err;
      best = t;
    }
  }
  return best;
}
