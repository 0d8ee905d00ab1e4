/** The API's shapes as the playground reads them (see services/gateway/src/schema.ts and tmp/api-contract.md). */

export type SamplerKind = 'DDPM' | 'DDIM' | 'DPMPP_2M' | 'DPMPP_2M_SDE';
export type TimestepSpacing = 'LEADING' | 'TRAILING' | 'LINSPACE' | 'QUAD';
export type InferenceScheduleKind = 'LINEAR' | 'LOG_SNR' | 'KARRAS';
export type VarianceType = 'FIXEDLARGE' | 'FIXEDSMALL';
export type JobKind = 'GENERATE' | 'SUPER_RESOLVE' | 'DENOISE' | 'RECONSTRUCT' | 'INTERPOLATE';
export type JobStatus = 'QUEUED' | 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'CANCELLED';

export interface ApiImage {
  png: string;
  width: number;
  height: number;
}

export interface JobProgressInfo {
  step: number;
  steps: number;
  timestep: number;
  stepMs?: number | null;
  etaMs?: number | null;
}

export interface Job {
  id: string;
  kind: JobKind;
  status: JobStatus;
  images?: ApiImage[] | null;
  stage1?: ApiImage[] | null;
  error?: string | null;
  errorCode?: string | null;
  manifest?: Record<string, unknown> | null;
  progress?: JobProgressInfo | null;
  queuePosition?: number | null;
  preview?: ApiImage | null;
  createdAt: string;
  finishedAt?: string | null;
}

export interface JobProgressEvent {
  jobId: string;
  status: JobStatus;
  progress?: JobProgressInfo | null;
  preview?: ApiImage | null;
  job: Job;
}

export interface SamplerSettings {
  kind: SamplerKind;
  steps: number;
  eta?: number | null;
  temperature: number;
  timestepSpacing: TimestepSpacing;
  varianceType: VarianceType;
  clipSample: boolean;
}

export interface InputSize {
  kind: JobKind;
  scale?: number | null;
  width: number;
  height: number;
}

export interface ModelLimits {
  maxCount: number;
  maxPoints: number;
  maxSteps: number;
  maxImageSteps: number;
  maxSeed: number;
  inputSizes: InputSize[];
}

export interface ModelDefaults {
  sampler: SamplerSettings;
  count: number;
  points: number;
  latentTemperature: number;
  scale: number;
}

export interface ModelInfo {
  /** the model set's name: a job's input.model */
  name: string;
  /** the set a job without input.model runs on */
  default: boolean;
  dataset: string;
  resolution: number;
  channels: number;
  latentDim: number;
  numTrainTimesteps: number;
  limits: ModelLimits;
  samplers: SamplerKind[];
  /** the inferenceSchedule kinds the set takes (none: it walks the training schedule only) */
  inferenceSchedules: InferenceScheduleKind[];
  timestepSpacings: TimestepSpacing[];
  varianceTypes: VarianceType[];
  scales: number[];
  defaults: ModelDefaults;
}

export interface JobsPage {
  edges: { cursor: string; node: Job }[];
  pageInfo: { hasNextPage: boolean; endCursor?: string | null };
}

/** One failure, as the page shows it. */
export interface ApiError {
  message: string;
  code?: string;
  /** BAD_USER_INPUT: the input field (e.g. "input.sampler.steps") */
  field?: string;
  retryAfterMs?: number;
}

export const TERMINAL_STATUSES: readonly JobStatus[] = ['SUCCEEDED', 'FAILED', 'CANCELLED'];
export const isTerminal = (status: JobStatus): boolean => TERMINAL_STATUSES.includes(status);
export const isActive = (status: JobStatus): boolean => status === 'QUEUED' || status === 'RUNNING';
