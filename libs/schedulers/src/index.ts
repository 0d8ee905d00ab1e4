export {
  DEFAULT_SCHEDULE,
  SchedulerError,
  alphaBars,
  linearBetas,
  scheduleAlphaBars,
  sigmaOf,
  timestepForNoiseLevel,
  type NoiseScheduleConfig,
} from './schedule.js';
export { TIMESTEP_SPACINGS, roundHalfEven, spacedTimesteps, type TimestepSpacing } from './spacing.js';
export { predictOriginal, respace, type RespacedSchedule, type SpacingOptions, type StepOutput } from './respace.js';
export { DEFAULT_DDPM, DdpmScheduler, type DdpmConfig, type VarianceType } from './ddpm.js';
export { DEFAULT_DDIM, DdimScheduler, type DdimConfig } from './ddim.js';
export {
  DEFAULT_SAMPLER,
  SAMPLER_KINDS,
  createScheduler,
  samplingSchedule,
  type SamplerKind,
  type SamplerSettings,
  type Scheduler,
} from './sampler.js';
export {
  DEFAULT_RHO,
  INFERENCE_SCHEDULE_KINDS,
  RHO_RANGE,
  SIGMA_LIMIT,
  inferenceNoiseSchedule,
  inferenceSigmas,
  normalizeInferenceSchedule,
  trainingSigmaRange,
  type InferenceSchedule,
  type InferenceScheduleKind,
} from './inference-schedule.js';
export { DpmSolverScheduler, type DpmSolverConfig, type DpmSolverHistory } from './dpm-solver.js';
export {
  EPS_CONDITIONINGS,
  ReverseProcess,
  runReverseProcess,
  type Checkpoint,
  type EpsConditioning,
  type EpsModel,
  type ReverseProcessInput,
  type ReverseProcessSpec,
  type StepResult,
} from './reverse-process.js';
