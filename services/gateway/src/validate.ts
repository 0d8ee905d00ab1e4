/**
 * Request validation: pure functions from the GraphQL input (types and enums already coerced by GraphQL) to
 * the settings a pipeline takes. Every failure is PlatformError BAD_USER_INPUT naming the field
 * ("input.sampler.steps: must be an integer in [1, 1000], got 1200"); nothing is silently corrected.
 * An explicit null means "the default", like an omitted field.
 */
import { PlatformError } from '@diffusevae/contracts';
import {
  DEFAULT_SAMPLER,
  SAMPLER_KINDS,
  SchedulerError,
  normalizeInferenceSchedule,
  type InferenceSchedule,
  type InferenceScheduleKind,
  type NoiseScheduleConfig,
  type SamplerKind,
  type SamplerSettings,
  type TimestepSpacing,
  type VarianceType,
} from '@diffusevae/schedulers';

export const LIMITS = {
  maxCount: 64,
  maxSteps: 1000,
  maxPoints: 64,
  /** GraphQL's Int is 32-bit signed; seeds are its non-negative half */
  maxSeed: 2 ** 31 - 1,
  /** the scales superResolve accepts (when they divide the model's size) */
  scales: [2, 4] as const,
};

/** The defaults of the job inputs (the sampler's are DEFAULT_SAMPLER's): the SDL shows them, `models` lists them. */
export const DEFAULTS = {
  count: 1,
  sample: 0,
  points: 8,
  latentTemperature: 1,
  scale: 4,
};

/** GraphQL's spelling of the sampler's enum values (the settings use lower case: 'leading', 'fixedlarge'). */
export const SPACING_ENUM: Readonly<Record<TimestepSpacing, string>> = { leading: 'LEADING', trailing: 'TRAILING', linspace: 'LINSPACE', quad: 'QUAD' };
export const VARIANCE_ENUM: Readonly<Record<VarianceType, string>> = { fixedlarge: 'FIXEDLARGE', fixedsmall: 'FIXEDSMALL' };

/**
 * A SamplerInput read from JSON (a manifest), where no GraphQL enum has turned `LEADING` into 'leading': the schema's
 * enum spellings to the settings' values; anything else is refused, naming the field.
 */
export function samplerFromJson(field: string, s: unknown): SamplerInput | undefined {
  if (s == null) return undefined;
  if (typeof s !== 'object' || Array.isArray(s)) throw bad(field, `must be a SamplerInput object, got ${JSON.stringify(s).slice(0, 60)}`);
  const o = s as Record<string, unknown>;
  const pick = <T extends string>(name: string, spelled: Readonly<Record<T, string>>): T | undefined => {
    const value = o[name];
    if (value == null) return undefined;
    const hit = (Object.keys(spelled) as T[]).find((k) => spelled[k] === value);
    if (!hit) throw bad(`${field}.${name}`, `must be one of ${Object.values(spelled).join(', ')}, got ${JSON.stringify(value)}`);
    return hit;
  };
  return { ...(o as SamplerInput), timestepSpacing: pick('timestepSpacing', SPACING_ENUM), varianceType: pick('varianceType', VARIANCE_ENUM) };
}

/**
 * The settings as a SamplerInput spells them (enum values as the schema has them; eta only with DDIM, where it means
 * something): what a job manifest records, valid as `sampler:` input as it stands.
 */
export function samplerInputOf(s: SamplerSettings): Record<string, unknown> {
  return {
    kind: s.kind,
    steps: s.steps,
    ...(s.kind === 'DDIM' ? { eta: s.eta } : {}),
    temperature: s.temperature,
    timestepSpacing: SPACING_ENUM[s.timestepSpacing],
    varianceType: VARIANCE_ENUM[s.varianceType],
    clipSample: s.clipSample,
    ...(s.inferenceSchedule ? { inferenceSchedule: { ...s.inferenceSchedule } } : {}),
  };
}

/** What validation needs to know about the model set a request runs on (ModelSets.pick: its `model`). */
export interface ModelLimits {
  resolution: number;
  channels: 1 | 3;
  numTrainTimesteps: number;
  /** the training schedule: where an inference schedule given by σ takes its default ends */
  schedule: NoiseScheduleConfig;
  /** the refiner's training formulation: sampling must use the same */
  formulation: 1 | 2;
  /** what the refiner is conditioned on: only a continuous-noise refiner takes a free inference schedule */
  noiseConditioning: 'discrete' | 'continuous';
}

type Maybe<T> = T | null | undefined;

export interface SamplerInput {
  kind?: Maybe<SamplerKind>;
  steps?: Maybe<number>;
  eta?: Maybe<number>;
  temperature?: Maybe<number>;
  timestepSpacing?: Maybe<TimestepSpacing>;
  varianceType?: Maybe<VarianceType>;
  clipSample?: Maybe<boolean>;
  inferenceSchedule?: Maybe<InferenceScheduleInput>;
}

export interface InferenceScheduleInput {
  kind?: Maybe<InferenceScheduleKind>;
  betaStart?: Maybe<number>;
  betaEnd?: Maybe<number>;
  sigmaMin?: Maybe<number>;
  sigmaMax?: Maybe<number>;
  rho?: Maybe<number>;
}

interface CommonInput {
  /** the model set to run on (a name `models` lists; default: the default set): picked by ModelSets, not here */
  model?: Maybe<string>;
  count?: Maybe<number>;
  seed?: Maybe<number>;
  sample?: Maybe<number>;
  sampler?: Maybe<SamplerInput>;
  wait?: Maybe<boolean>;
}
export interface GenerateInput extends CommonInput {
  latentTemperature?: Maybe<number>;
  refine?: Maybe<boolean>;
}
export interface SuperResolveInput extends CommonInput {
  image: string;
  scale?: Maybe<number>;
  throughVae?: Maybe<boolean>;
}
export interface DenoiseInput extends CommonInput {
  image: string;
  sigma?: Maybe<number>;
}
export interface ReconstructInput extends CommonInput {
  image: string;
  useMean?: Maybe<boolean>;
}
export interface EndpointInput {
  seed?: Maybe<number>;
  image?: Maybe<string>;
}
/** VAE_LATENT: z moves, the DDPM noise is held; DDPM_LATENT: one z (`at`) is held, x_T moves between two seeds' noise. */
export const INTERPOLATION_SPACES = ['vae-latent', 'ddpm-latent'] as const;
export type InterpolationSpace = (typeof INTERPOLATION_SPACES)[number];

export interface InterpolateInput extends Omit<CommonInput, 'count'> {
  space?: Maybe<InterpolationSpace>;
  at?: Maybe<EndpointInput>;
  from: EndpointInput;
  to: EndpointInput;
  points?: Maybe<number>;
  latentTemperature?: Maybe<number>;
}

/** What every job has after validation. */
export interface CommonRequest {
  count: number;
  seed: number;
  /** image i uses the noise of (seed, sample + i) */
  sample: number;
  sampler: SamplerSettings;
  wait: boolean;
}
export interface GenerateRequest extends CommonRequest {
  kind: 'generate';
  latentTemperature: number;
  refine: boolean;
}
export interface SuperResolveRequest extends CommonRequest {
  kind: 'superResolve';
  image: string;
  scale: number;
  throughVae: boolean;
}
export interface DenoiseRequest extends CommonRequest {
  kind: 'denoise';
  image: string;
  /** on [0, 1] pixels, as the user gave it */
  sigma?: number;
}
export interface ReconstructRequest extends CommonRequest {
  kind: 'reconstruct';
  image: string;
  useMean: boolean;
}
export type Endpoint = { seed: number } | { image: string };
export interface InterpolateRequest extends CommonRequest {
  kind: 'interpolate';
  space: InterpolationSpace;
  from: Endpoint;
  to: Endpoint;
  /** ddpm-latent: the one z held fixed */
  at?: Endpoint;
  /** ddpm-latent: the seeds of the two ends' x_T (from's and to's) */
  noiseSeeds?: [number, number];
  latentTemperature: number;
}
export type JobRequest = GenerateRequest | SuperResolveRequest | DenoiseRequest | ReconstructRequest | InterpolateRequest;

const bad = (field: string, message: string) => PlatformError.badInput(field, message);

function integer(field: string, v: Maybe<number>, dflt: number, min: number, max: number): number {
  const n = v ?? dflt;
  if (!Number.isInteger(n) || n < min || n > max) throw bad(field, `must be an integer in [${min}, ${max}], got ${n}`);
  return n;
}

/** A finite number in [min, max] (or (min, max] when openMin). */
function real(field: string, v: Maybe<number>, dflt: number, min: number, max: number, openMin = false): number {
  const n = v ?? dflt;
  const ok = Number.isFinite(n) && (openMin ? n > min : n >= min) && n <= max;
  if (!ok) throw bad(field, `must be a finite number in ${openMin ? '(' : '['}${min}, ${max}], got ${n}`);
  return n;
}

export function validateSeed(field: string, v: Maybe<number>, randomSeed: () => number): number {
  return v == null ? randomSeed() : integer(field, v, 0, 0, LIMITS.maxSeed);
}

export function validateSampler(field: string, s: Maybe<SamplerInput>, model: ModelLimits): SamplerSettings {
  const d = DEFAULT_SAMPLER;
  const kind = s?.kind ?? d.kind;
  if (!SAMPLER_KINDS.includes(kind)) throw bad(`${field}.kind`, `must be one of ${SAMPLER_KINDS.join(', ')}, got ${String(kind)}`);
  const steps = integer(`${field}.steps`, s?.steps, d.steps, 1, LIMITS.maxSteps);
  if (steps > model.numTrainTimesteps) {
    throw bad(`${field}.steps`, `${steps} cannot be larger than the model's numTrainTimesteps (T = ${model.numTrainTimesteps})`);
  }
  // only DDIM has eta: one given to another sampler would be recorded in the manifest and do nothing
  if (kind !== 'DDIM' && s?.eta != null) {
    const why = kind === 'DDPM' ? "DDPM's variance is set by varianceType" : kind === 'DPMPP_2M_SDE' ? 'the SDE solver always adds its own noise' : 'the ODE solver adds none';
    throw bad(`${field}.eta`, `is for DDIM only (${why}): leave it out, got ${s.eta} with kind ${kind}`);
  }
  const inferenceSchedule = s?.inferenceSchedule == null ? undefined : validateInferenceSchedule(`${field}.inferenceSchedule`, s.inferenceSchedule, steps, model);
  return {
    kind,
    steps,
    ...(inferenceSchedule ? { inferenceSchedule } : {}),
    eta: real(`${field}.eta`, s?.eta, d.eta, 0, 1),
    temperature: real(`${field}.temperature`, s?.temperature, d.temperature, 0, 2, true),
    varianceType: s?.varianceType ?? d.varianceType,
    timestepSpacing: s?.timestepSpacing ?? d.timestepSpacing,
    clipSample: s?.clipSample ?? d.clipSample,
    formulation: model.formulation,
  };
}

/**
 * An inference schedule (LINEAR, LOG_SNR or KARRAS over the steps, libs/schedulers inference-schedule.ts), with its
 * defaults filled in: for a refiner conditioned on the noise level only.
 */
function validateInferenceSchedule(field: string, s: InferenceScheduleInput, steps: number, model: ModelLimits): InferenceSchedule {
  if (model.noiseConditioning !== 'continuous') {
    throw bad(field, 'this model set is conditioned on the integer timestep: a free inference schedule needs a set conditioned on the noise level (models { noiseConditioning: CONTINUOUS })');
  }
  if (steps < 2) throw bad(`${field.replace(/\.inferenceSchedule$/, '')}.steps`, `must be at least 2 with an inference schedule, got ${steps}`);
  const given = Object.fromEntries(Object.entries(s).filter(([, v]) => v != null));
  try {
    return normalizeInferenceSchedule(given, model.schedule);
  } catch (e) {
    if (!(e instanceof SchedulerError)) throw e;
    // e.field is `inferenceSchedule.<name>`; the message after it says what is allowed
    throw bad(`${field.replace(/\.inferenceSchedule$/, '')}.${e.field}`, e.message.slice(e.field.length + 2));
  }
}

function common(i: CommonInput, model: ModelLimits, randomSeed: () => number): CommonRequest {
  return {
    count: integer('input.count', i.count, DEFAULTS.count, 1, LIMITS.maxCount),
    seed: validateSeed('input.seed', i.seed, randomSeed),
    sample: integer('input.sample', i.sample, DEFAULTS.sample, 0, LIMITS.maxSeed),
    sampler: validateSampler('input.sampler', i.sampler, model),
    wait: i.wait ?? true,
  };
}

function imageText(field: string, v: Maybe<string>): string {
  if (typeof v !== 'string' || v.trim() === '') throw bad(field, 'must be a base64 PNG, JPEG or WebP image, got an empty string');
  return v;
}

export function validateGenerate(i: GenerateInput, model: ModelLimits, randomSeed: () => number): GenerateRequest {
  return {
    kind: 'generate',
    ...common(i, model, randomSeed),
    latentTemperature: real('input.latentTemperature', i.latentTemperature, DEFAULTS.latentTemperature, 0, 2, true),
    refine: i.refine ?? true,
  };
}

/** The scales that map some integer input size onto the model's. */
export function allowedScales(resolution: number): number[] {
  return LIMITS.scales.filter((s) => resolution % s === 0);
}

export function validateSuperResolve(i: SuperResolveInput, model: ModelLimits, randomSeed: () => number): SuperResolveRequest {
  const scales = allowedScales(model.resolution);
  const scale = i.scale ?? DEFAULTS.scale;
  if (!scales.includes(scale)) throw bad('input.scale', `must be one of ${scales.join(', ')} for a ${model.resolution}x${model.resolution} model, got ${scale}`);
  return {
    kind: 'superResolve',
    ...common(i, model, randomSeed),
    image: imageText('input.image', i.image),
    scale,
    throughVae: i.throughVae ?? false,
  };
}

export function validateDenoise(i: DenoiseInput, model: ModelLimits, randomSeed: () => number): DenoiseRequest {
  if (i.sampler?.inferenceSchedule != null) {
    throw bad('input.sampler.inferenceSchedule', 'denoising starts part-way down the training schedule, at the noise level of the input: leave the inference schedule out');
  }
  const sigma = i.sigma == null ? undefined : real('input.sigma', i.sigma, 0, 0, 1, true);
  return { kind: 'denoise', ...common(i, model, randomSeed), image: imageText('input.image', i.image), ...(sigma !== undefined ? { sigma } : {}) };
}

export function validateReconstruct(i: ReconstructInput, model: ModelLimits, randomSeed: () => number): ReconstructRequest {
  return { kind: 'reconstruct', ...common(i, model, randomSeed), image: imageText('input.image', i.image), useMean: i.useMean ?? false };
}

function endpoint(field: string, e: EndpointInput): Endpoint {
  const hasSeed = e.seed != null;
  const hasImage = e.image != null;
  if (hasSeed === hasImage) throw bad(field, `give exactly one of seed or image, got ${hasSeed ? 'both' : 'neither'}`);
  return hasSeed ? { seed: integer(`${field}.seed`, e.seed, 0, 0, LIMITS.maxSeed) } : { image: imageText(`${field}.image`, e.image) };
}

export function validateInterpolate(i: InterpolateInput, model: ModelLimits, randomSeed: () => number): InterpolateRequest {
  const space = i.space ?? 'vae-latent';
  if (!INTERPOLATION_SPACES.includes(space)) throw bad('input.space', `must be one of VAE_LATENT, DDPM_LATENT, got ${String(space)}`);
  const base = {
    kind: 'interpolate' as const,
    space,
    ...common({ ...i, count: integer('input.points', i.points, DEFAULTS.points, 2, LIMITS.maxPoints) }, model, randomSeed),
    from: endpoint('input.from', i.from),
    to: endpoint('input.to', i.to),
    latentTemperature: real('input.latentTemperature', i.latentTemperature, DEFAULTS.latentTemperature, 0, 2, true),
  };
  if (space === 'vae-latent') {
    if (i.at != null) throw bad('input.at', 'is for space DDPM_LATENT (the stage-1 image held fixed): leave it out, or set space: DDPM_LATENT');
    return base;
  }
  // the DDPM latent: x_T moves between two seeds' start noise; an image has no x_T
  const seedOf = (field: string, e: Endpoint): number => {
    if (!('seed' in e)) throw bad(`${field}.image`, 'space DDPM_LATENT moves x_T between the start noise of two seeds: give seed, not image');
    return e.seed;
  };
  const noiseSeeds: [number, number] = [seedOf('input.from', base.from), seedOf('input.to', base.to)];
  if (i.at == null) throw bad('input.at', 'space DDPM_LATENT needs the stage-1 image held fixed: { seed } (its z) or { image } (its encoding)');
  return { ...base, at: endpoint('input.at', i.at), noiseSeeds };
}

/** The model's size for reconstruct and denoise; model size / scale for superResolve. */
export function expectImageSize(field: string, got: { width: number; height: number }, model: ModelLimits, scale?: number): void {
  const want = scale === undefined ? model.resolution : model.resolution / scale;
  if (got.width === want && got.height === want) return;
  const r = model.resolution;
  const allowed =
    scale === undefined
      ? `must be ${r}x${r} (the model's size)`
      : `must be ${want}x${want} for scale ${scale} (the model is ${r}x${r}; allowed: ${allowedScales(r)
          .map((s) => `${r / s}x${r / s} for scale ${s}`)
          .join(', ')})`;
  throw bad(field, `${allowed}, got ${got.width}x${got.height}`);
}
