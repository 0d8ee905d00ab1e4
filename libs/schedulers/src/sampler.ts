import { DdimScheduler } from './ddim.js';
import { DdpmScheduler, type VarianceType } from './ddpm.js';
import { DpmSolverScheduler } from './dpm-solver.js';
import { inferenceNoiseSchedule, normalizeInferenceSchedule, type InferenceSchedule } from './inference-schedule.js';
import { DEFAULT_SCHEDULE, SchedulerError, type NoiseScheduleConfig } from './schedule.js';
import { TIMESTEP_SPACINGS, type TimestepSpacing } from './spacing.js';

/** Everything that picks a reverse process; with a seed and the model's sha256 it reproduces a sample. */
export const SAMPLER_KINDS = ['DDPM', 'DDIM', 'DPMPP_2M', 'DPMPP_2M_SDE'] as const;
export type SamplerKind = (typeof SAMPLER_KINDS)[number];

export interface SamplerSettings {
  /** DPMPP_2M, DPMPP_2M_SDE: DPM-Solver++(2M), ODE and SDE (dpm-solver.ts) */
  kind: SamplerKind;
  steps: number;
  /** DDIM only: 0 deterministic … 1 */
  eta: number;
  /** λ: x_T = λ · N(0, I); scales only x_T, not the per-step noise */
  temperature: number;
  /** DDPM only */
  varianceType: VarianceType;
  timestepSpacing: TimestepSpacing;
  clipSample: boolean;
  /** 1: x_t = √ᾱ x_0 + √(1−ᾱ) ε; 2: the same process shifted by the conditioning image (needs a refiner trained so) */
  formulation: 1 | 2;
  /** start part-way down the chain (denoising); default T − 1 */
  startTimestep?: number;
  /**
   * Sample on an inference schedule of `steps` steps instead of a subset of the training schedule (for refiners
   * conditioned on the noise level √ᾱ, which any schedule suits; the paper's Table 3 uses LINEAR Linear(1e-6, 0.8)
   * over 10 steps; LOG_SNR and KARRAS are given by σ, inference-schedule.ts). Every step is used (timesteps
   * steps − 1 … 0, indices into this schedule): `timestepSpacing` then has no effect and `startTimestep` is refused.
   */
  inferenceSchedule?: InferenceSchedule;
}

/**
 * DPM-Solver++(2M) SDE, 10 steps, trailing spacing: with the committed refiner its FID-FMNIST (5,000 samples) is
 * within 1 % of DDIM 50 steps η = 1, the default before it, for a fifth of the refiner calls (docs/samplers.md);
 * fewer steps, the ODE variant and leading spacing measured worse. `eta` is DDIM's (η = 1, stochastic DDIM, is far
 * better than η = 0 with this refiner, docs/evaluation.md) and applies only when kind is DDIM.
 */
export const DEFAULT_SAMPLER: SamplerSettings = {
  kind: 'DPMPP_2M_SDE',
  steps: 10,
  eta: 1,
  temperature: 1,
  varianceType: 'fixedlarge',
  timestepSpacing: 'trailing',
  clipSample: true,
  formulation: 1,
};

export type Scheduler = DdpmScheduler | DdimScheduler | DpmSolverScheduler;

/**
 * The noise schedule a sampler walks: the inference schedule's (inference-schedule.ts: T = steps; validated here,
 * errors name `inferenceSchedule.<field>`) when the settings have one, else the training schedule.
 */
export function samplingSchedule(settings: SamplerSettings, schedule: NoiseScheduleConfig = DEFAULT_SCHEDULE): NoiseScheduleConfig {
  if (settings.inferenceSchedule == null) return schedule;
  const inference = normalizeInferenceSchedule(settings.inferenceSchedule, schedule);
  const T = schedule.numTrainTimesteps;
  if (!Number.isInteger(settings.steps) || settings.steps < 2 || settings.steps > T) {
    throw new SchedulerError('steps', `must be an integer in [2, ${T}] with an inference schedule, got ${settings.steps}`);
  }
  if (settings.startTimestep != null) {
    throw new SchedulerError(
      'startTimestep',
      'cannot be used with inferenceSchedule: a start part-way down the chain is a training timestep, and an inference schedule does not walk the training schedule',
    );
  }
  return inferenceNoiseSchedule(inference, settings.steps);
}

/** Validates settings (errors name the field) and returns a scheduler with its timesteps set. */
export function createScheduler(settings: SamplerSettings, schedule: NoiseScheduleConfig = DEFAULT_SCHEDULE): Scheduler {
  const walked = samplingSchedule(settings, schedule);
  const T = walked.numTrainTimesteps;
  if (!SAMPLER_KINDS.includes(settings.kind)) {
    throw new SchedulerError('kind', `must be one of ${SAMPLER_KINDS.join(', ')}, got ${String(settings.kind)}`);
  }
  if (!Number.isFinite(settings.temperature) || settings.temperature < 0 || settings.temperature > 2) {
    throw new SchedulerError('temperature', `must be a number in [0, 2], got ${settings.temperature}`);
  }
  if (settings.formulation !== 1 && settings.formulation !== 2) {
    throw new SchedulerError('formulation', `must be 1 or 2, got ${String(settings.formulation)}`);
  }
  if (!TIMESTEP_SPACINGS.includes(settings.timestepSpacing)) {
    throw new SchedulerError('timestepSpacing', `must be one of ${TIMESTEP_SPACINGS.join(', ')}, got ${String(settings.timestepSpacing)}`);
  }
  if (!Number.isInteger(settings.steps) || settings.steps < 1 || settings.steps > T) {
    throw new SchedulerError('steps', `must be an integer in [1, ${T}] (numTrainTimesteps), got ${settings.steps}`);
  }
  // DDIM's alone, but a value out of range is refused whatever the kind (a manifest must not carry one)
  if (!Number.isFinite(settings.eta) || settings.eta < 0 || settings.eta > 1) {
    throw new SchedulerError('eta', `must be a number in [0, 1], got ${settings.eta}`);
  }
  // an inference schedule has exactly `steps` timesteps (T = steps): every spacing keeps them all
  const spacing = { timestepSpacing: settings.timestepSpacing, startTimestep: settings.startTimestep ?? T - 1 };
  if (settings.kind === 'DDPM') {
    return new DdpmScheduler({ ...walked, varianceType: settings.varianceType, clipSample: settings.clipSample }).setTimesteps(
      settings.steps,
      spacing,
    );
  }
  if (settings.kind === 'DPMPP_2M' || settings.kind === 'DPMPP_2M_SDE') {
    return new DpmSolverScheduler({ ...walked, clipSample: settings.clipSample }, { sde: settings.kind === 'DPMPP_2M_SDE' }).setTimesteps(settings.steps, spacing);
  }
  return new DdimScheduler({ ...walked, clipSample: settings.clipSample }).setTimesteps(settings.steps, { ...spacing, eta: settings.eta });
}
