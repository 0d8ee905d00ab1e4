import { SchedulerError, linearBetas, scheduleAlphaBars, sigmaOf, type NoiseScheduleConfig } from './schedule.js';

/**
 * Inference schedules: the noise levels a refiner conditioned on the continuous noise level √ᾱ is walked through,
 * free of the training schedule (DiffuseVAE §4.3, after WaveGrad).
 *   LINEAR   β linear from betaStart to betaEnd over the steps, ᾱ = cumprod(1 − β): the paper's Table 3 family.
 *   LOG_SNR  σ = √((1 − ᾱ)/ᾱ) geometric from sigmaMax down to sigmaMin, i.e. log-SNR uniform: equal steps h in
 *            DPM-Solver's λ = −log σ (Lu et al. 2022 recommend it for low-resolution images; r = 1 at every step).
 *   KARRAS   σ_i = (σmax^{1/ρ} + i/(n−1)·(σmin^{1/ρ} − σmax^{1/ρ}))^ρ (Karras et al. 2022, eq. 5; ρ = 7 there).
 * The σ families default their ends to the training schedule's noisiest and cleanest levels (diffusers'
 * use_karras_sigmas takes the same ends). Every step is walked; the last one lands on x̂_0 (ᾱ after it is 1).
 */
export const INFERENCE_SCHEDULE_KINDS = ['LINEAR', 'LOG_SNR', 'KARRAS'] as const;
export type InferenceScheduleKind = (typeof INFERENCE_SCHEDULE_KINDS)[number];

export interface InferenceSchedule {
  /** LINEAR when omitted */
  kind?: InferenceScheduleKind;
  /** LINEAR: 0 < betaStart ≤ betaEnd < 1 */
  betaStart?: number;
  betaEnd?: number;
  /** LOG_SNR, KARRAS: the first (noisiest) and last step's σ = √((1 − ᾱ)/ᾱ); 0 < sigmaMin < sigmaMax ≤ SIGMA_LIMIT */
  sigmaMin?: number;
  sigmaMax?: number;
  /** KARRAS: ρ in [RHO_RANGE]; 7 when omitted */
  rho?: number;
}

export const SIGMA_LIMIT = 1e4;
export const RHO_RANGE = [1, 20] as const;
export const DEFAULT_RHO = 7;

const FIELDS: Record<InferenceScheduleKind, readonly string[]> = {
  LINEAR: ['kind', 'betaStart', 'betaEnd'],
  LOG_SNR: ['kind', 'sigmaMin', 'sigmaMax'],
  KARRAS: ['kind', 'sigmaMin', 'sigmaMax', 'rho'],
};

const isNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** The training schedule's σ at t = 0 and t = T − 1: the σ families' default ends. */
export function trainingSigmaRange(training: NoiseScheduleConfig): { sigmaMin: number; sigmaMax: number } {
  const ab = scheduleAlphaBars(training);
  return { sigmaMin: sigmaOf(ab[0]!), sigmaMax: sigmaOf(ab[ab.length - 1]!) };
}

/**
 * Checks an inference schedule (errors name `inferenceSchedule.<field>` and what is allowed) and returns it with
 * every default filled in, so that a job's manifest says exactly what it walked.
 */
export function normalizeInferenceSchedule(s: unknown, training: NoiseScheduleConfig): InferenceSchedule {
  if (typeof s !== 'object' || s === null || Array.isArray(s)) {
    throw new SchedulerError('inferenceSchedule', `must be an object {kind, betaStart, betaEnd} or {kind, sigmaMin, sigmaMax, rho}, got ${String(s)}`);
  }
  const o = s as Record<string, unknown>;
  const kind = (o.kind ?? 'LINEAR') as InferenceScheduleKind;
  if (!INFERENCE_SCHEDULE_KINDS.includes(kind)) {
    throw new SchedulerError('inferenceSchedule.kind', `must be one of ${INFERENCE_SCHEDULE_KINDS.join(', ')}, got ${String(o.kind)}`);
  }
  for (const key of Object.keys(o)) {
    if (o[key] != null && !FIELDS[kind].includes(key)) {
      throw new SchedulerError(`inferenceSchedule.${key}`, `is not a setting of a ${kind} schedule (its settings: ${FIELDS[kind].join(', ')})`);
    }
  }
  if (kind === 'LINEAR') {
    const { betaStart, betaEnd } = o;
    if (!isNumber(betaStart) || betaStart <= 0 || betaStart >= 1) {
      throw new SchedulerError('inferenceSchedule.betaStart', `must be a number in (0, 1), got ${String(betaStart)}`);
    }
    if (!isNumber(betaEnd) || betaEnd < betaStart || betaEnd >= 1) {
      throw new SchedulerError('inferenceSchedule.betaEnd', `must be a number in [betaStart, 1) = [${betaStart}, 1), got ${String(betaEnd)}`);
    }
    // a LINEAR schedule given without its kind stays as it was written (older manifests and clients)
    return o.kind == null ? { betaStart, betaEnd } : { kind, betaStart, betaEnd };
  }
  const ends = trainingSigmaRange(training);
  const sigmaMin = o.sigmaMin ?? ends.sigmaMin;
  const sigmaMax = o.sigmaMax ?? ends.sigmaMax;
  if (!isNumber(sigmaMin) || sigmaMin <= 0 || sigmaMin >= SIGMA_LIMIT) {
    throw new SchedulerError('inferenceSchedule.sigmaMin', `must be a number in (0, ${SIGMA_LIMIT}), got ${String(sigmaMin)}`);
  }
  if (!isNumber(sigmaMax) || sigmaMax <= sigmaMin || sigmaMax > SIGMA_LIMIT) {
    throw new SchedulerError('inferenceSchedule.sigmaMax', `must be a number in (sigmaMin, ${SIGMA_LIMIT}] = (${sigmaMin}, ${SIGMA_LIMIT}], got ${String(sigmaMax)}`);
  }
  if (kind === 'LOG_SNR') return { kind, sigmaMin, sigmaMax };
  const rho = o.rho ?? DEFAULT_RHO;
  if (!isNumber(rho) || rho < RHO_RANGE[0] || rho > RHO_RANGE[1]) {
    throw new SchedulerError('inferenceSchedule.rho', `must be a number in [${RHO_RANGE[0]}, ${RHO_RANGE[1]}], got ${String(rho)}`);
  }
  return { kind, sigmaMin, sigmaMax, rho };
}

/** The σ of each of `steps` steps in sampling order (noisiest first), for a normalized LOG_SNR or KARRAS schedule. */
export function inferenceSigmas(s: InferenceSchedule, steps: number): Float64Array {
  const { sigmaMin, sigmaMax } = s as Required<InferenceSchedule>;
  const sigmas = new Float64Array(steps);
  if (s.kind === 'LOG_SNR') {
    const hi = Math.log(sigmaMax);
    const lo = Math.log(sigmaMin);
    for (let i = 0; i < steps; i++) sigmas[i] = Math.exp(hi + (i / (steps - 1)) * (lo - hi));
  } else if (s.kind === 'KARRAS') {
    const inv = 1 / s.rho!;
    const hi = Math.pow(sigmaMax, inv);
    const lo = Math.pow(sigmaMin, inv);
    for (let i = 0; i < steps; i++) sigmas[i] = Math.pow(hi + (i / (steps - 1)) * (lo - hi), s.rho!);
  } else {
    throw new SchedulerError('inferenceSchedule.kind', `${String(s.kind)} is not given by σ`);
  }
  sigmas[0] = sigmaMax;
  sigmas[steps - 1] = sigmaMin;
  return sigmas;
}

/**
 * The schedule a sampler walks for an inference schedule over `steps` steps: T = steps, indices t = steps − 1 … 0.
 * LINEAR is {T, betaStart, betaEnd}; a σ family carries its ᾱ_t (t = 0 the cleanest: ᾱ = 1/(1 + σ²)) with
 * betaStart/betaEnd its first and last β.
 */
export function inferenceNoiseSchedule(s: InferenceSchedule, steps: number): NoiseScheduleConfig {
  if ((s.kind ?? 'LINEAR') === 'LINEAR') {
    const config = { numTrainTimesteps: steps, betaStart: s.betaStart!, betaEnd: s.betaEnd! };
    linearBetas(config); // its own checks
    return config;
  }
  const sigmas = inferenceSigmas(s, steps);
  const alphaBar = Array.from({ length: steps }, (_, t) => {
    const sigma = sigmas[steps - 1 - t]!;
    return 1 / (1 + sigma * sigma);
  });
  return { numTrainTimesteps: steps, betaStart: 1 - alphaBar[0]!, betaEnd: 1 - alphaBar[steps - 1]! / alphaBar[steps - 2]!, alphaBar };
}
