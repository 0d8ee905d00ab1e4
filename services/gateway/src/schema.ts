/**
 * The public contract. Defaults are in the SDL, so that introspection shows them (taken from their one home:
 * DEFAULT_SAMPLER and validate.ts's DEFAULTS; `models { defaults }` lists the same); the ranges that GraphQL's types
 * cannot express are checked in validate.ts.
 */
import { DEFAULT_RHO, DEFAULT_SAMPLER, RHO_RANGE, SIGMA_LIMIT } from '@diffusevae/schedulers';
import { DEFAULTS, LIMITS, SPACING_ENUM, VARIANCE_ENUM } from './validate.js';

const S = DEFAULT_SAMPLER;

const MODEL_DOC = 'the model set to run on: a name that models lists; default: the default set (models { default: true }, the first of MODEL_DIR)';

const SAMPLE_DOC = `index of the first image in the seed's noise streams, 0..${LIMITS.maxSeed}: image i uses (seed, sample + i), so count 1 with sample i makes image i of a larger job again alone (its manifest's images list each one)`;

export const typeDefs = /* GraphQL */ `
  "Any JSON value (job manifests)."
  scalar JSON

  enum SamplerKind {
    "ancestral sampling (Ho et al. 2020), respaced to steps"
    DDPM
    "Song et al. 2021; eta 0 is deterministic, 1 DDPM-like"
    DDIM
    "DPM-Solver++(2M), the multistep ODE solver (Lu et al. 2022): deterministic"
    DPMPP_2M
    "DPM-Solver++(2M) SDE: the same multistep solver with fresh noise at every step"
    DPMPP_2M_SDE
  }
  enum TimestepSpacing {
    LEADING
    TRAILING
    LINSPACE
    QUAD
  }
  enum VarianceType {
    FIXEDLARGE
    FIXEDSMALL
  }
  enum JobKind {
    GENERATE
    SUPER_RESOLVE
    DENOISE
    RECONSTRUCT
    INTERPOLATE
  }
  enum JobStatus {
    QUEUED
    RUNNING
    SUCCEEDED
    FAILED
    "stopped by cancelJob (errorCode CANCELLED), with the last progress and preview it reached"
    CANCELLED
  }

  "The reverse process of the refiner (stage 2)."
  input SamplerInput {
    kind: SamplerKind = ${S.kind}
    "1..${LIMITS.maxSteps}, and at most the model's T (numTrainTimesteps)"
    steps: Int = ${S.steps}
    "DDIM only (with another kind it is refused): 0 is deterministic, 1 is DDPM-like (the default when omitted: better samples, see docs/evaluation.md); in [0, 1]"
    eta: Float
    "λ: x_T = λ·N(0, I); in (0, 2]"
    temperature: Float = ${S.temperature}
    timestepSpacing: TimestepSpacing = ${SPACING_ENUM[S.timestepSpacing]}
    "DDPM only"
    varianceType: VarianceType = ${VARIANCE_ENUM[S.varianceType]}
    "clamp the predicted x̂₀ to [−1, 1] at every step"
    clipSample: Boolean = ${S.clipSample}
    "a model conditioned on the noise level only (models { noiseConditioning: CONTINUOUS }): walk this schedule over the steps instead of the training schedule"
    inferenceSchedule: InferenceScheduleInput
  }

  "How an inference schedule places its steps (docs/samplers.md)"
  enum InferenceScheduleKind {
    "β linear from betaStart to betaEnd over the steps (the paper's Table 3: Linear(1e-6, 0.8) over 10 steps)"
    LINEAR
    "σ = √((1 − ᾱ)/ᾱ) geometric from sigmaMax to sigmaMin: equal steps in log-SNR (the one DPM-Solver wants)"
    LOG_SNR
    "Karras et al. (2022): σ^(1/rho) linear from sigmaMax to sigmaMin"
    KARRAS
  }

  "An inference schedule over the sampler's steps. LINEAR takes betaStart and betaEnd (0 < betaStart ≤ betaEnd < 1); LOG_SNR and KARRAS take sigmaMin and sigmaMax (0 < sigmaMin < sigmaMax ≤ ${SIGMA_LIMIT}; default: the training schedule's cleanest and noisiest σ) and KARRAS rho (${RHO_RANGE[0]}..${RHO_RANGE[1]}, default ${DEFAULT_RHO}). A setting of another kind is refused."
  input InferenceScheduleInput {
    kind: InferenceScheduleKind = LINEAR
    betaStart: Float
    betaEnd: Float
    sigmaMin: Float
    sigmaMax: Float
    rho: Float
  }

  "The inference schedule a job walked, its defaults filled in"
  type InferenceSchedule {
    kind: InferenceScheduleKind!
    "LINEAR"
    betaStart: Float
    "LINEAR"
    betaEnd: Float
    "LOG_SNR, KARRAS"
    sigmaMin: Float
    "LOG_SNR, KARRAS"
    sigmaMax: Float
    "KARRAS"
    rho: Float
  }

  "What the refiner is conditioned on: the integer training timestep, or the continuous noise level √ᾱ (any inference schedule)"
  enum NoiseConditioning {
    DISCRETE
    CONTINUOUS
  }

  input GenerateInput {
    "${MODEL_DOC}"
    model: String
    "images to draw, 1..${LIMITS.maxCount}"
    count: Int = ${DEFAULTS.count}
    "0..${LIMITS.maxSeed}; random when omitted (the manifest reports it)"
    seed: Int
    "${SAMPLE_DOC}"
    sample: Int = ${DEFAULTS.sample}
    sampler: SamplerInput
    "λ_z: z ~ λ_z·N(0, I); in (0, 2]"
    latentTemperature: Float = ${DEFAULTS.latentTemperature}
    "false: stop after stage 1 (the VAE samples)"
    refine: Boolean = true
    "false: return the job at once (QUEUED); poll job(id) or subscribe to jobProgress(id)"
    wait: Boolean = true
  }

  input SuperResolveInput {
    "${MODEL_DOC}"
    model: String
    "base64 PNG, JPEG or WebP whose size × scale is the model's size (7×7 for ×4, 14×14 for ×2 at 28×28)"
    image: String!
    "2 or 4"
    scale: Int = ${DEFAULTS.scale}
    "samples of the same input (different DDPM noise), 1..${LIMITS.maxCount}"
    count: Int = ${DEFAULTS.count}
    seed: Int
    "${SAMPLE_DOC}"
    sample: Int = ${DEFAULTS.sample}
    sampler: SamplerInput
    "pass the upsampled image through encoder → vae-decoder first"
    throughVae: Boolean = false
    wait: Boolean = true
  }

  input DenoiseInput {
    "${MODEL_DOC}"
    model: String
    "base64 PNG, JPEG or WebP at the model's size"
    image: String!
    "noise σ on [0, 1] pixels; estimated from the image when omitted"
    sigma: Float
    count: Int = ${DEFAULTS.count}
    seed: Int
    "${SAMPLE_DOC}"
    sample: Int = ${DEFAULTS.sample}
    sampler: SamplerInput
    wait: Boolean = true
  }

  input ReconstructInput {
    "${MODEL_DOC}"
    model: String
    "base64 PNG, JPEG or WebP at the model's size"
    image: String!
    count: Int = ${DEFAULTS.count}
    seed: Int
    "${SAMPLE_DOC}"
    sample: Int = ${DEFAULTS.sample}
    sampler: SamplerInput
    "decode μ instead of a sample z ~ q(z|x)"
    useMean: Boolean = false
    wait: Boolean = true
  }

  "One end of an interpolation: exactly one of seed (z ~ λ_z·N(0, I)) or image (its encoder μ)."
  input LatentEndpointInput {
    seed: Int
    image: String
  }

  "Where an interpolation moves (the paper's Figure 4)"
  enum InterpolationSpace {
    "z moves from one end to the other, the DDPM noise held fixed: the content changes"
    VAE_LATENT
    "one stage-1 image (at) held fixed, x_T moves between the start noise of two seeds (from.seed, to.seed): only the detail the refiner adds changes"
    DDPM_LATENT
  }

  input InterpolateInput {
    "${MODEL_DOC}"
    model: String
    space: InterpolationSpace = VAE_LATENT
    "VAE_LATENT: the ends' z; DDPM_LATENT: seeds only, whose start noise x_T are the ends"
    from: LatentEndpointInput!
    to: LatentEndpointInput!
    "DDPM_LATENT only: the stage-1 image held fixed (a seed's z, or an image's encoding)"
    at: LatentEndpointInput
    "images along the path, 2..${LIMITS.maxPoints}"
    points: Int = ${DEFAULTS.points}
    "seed of the DDPM noise, held fixed along the path"
    seed: Int
    "which of the seed's noise streams is held (0..${LIMITS.maxSeed})"
    sample: Int = ${DEFAULTS.sample}
    sampler: SamplerInput
    latentTemperature: Float = ${DEFAULTS.latentTemperature}
    wait: Boolean = true
  }

  type Image {
    "base64 PNG bytes"
    png: String!
    width: Int!
    height: Int!
  }

  type JobProgressInfo {
    "steps done (1-based)"
    step: Int!
    steps: Int!
    "the training timestep of the last step done"
    timestep: Int!
    "measured time per step (moving average over recent steps), ms"
    stepMs: Float
    "time to the last step at that pace, ms"
    etaMs: Int
  }

  type Job {
    id: ID!
    kind: JobKind!
    status: JobStatus!
    "the refined images (empty until SUCCEEDED)"
    images: [Image!]!
    "x̂, the stage-1 images the refiner was conditioned on"
    stage1: [Image!]
    error: String
    errorCode: String
    "everything that reproduces the job: kind, seed, sampler, count, model name and sha256 of each file, …"
    manifest: JSON
    progress: JobProgressInfo
    "QUEUED: jobs ahead of it in the platform's queue, the same on every gateway replica (0: next to run)"
    queuePosition: Int
    "RUNNING: the x̂₀ predicted at a recent step, one PNG (a grid when count > 1), refreshed at most every PREVIEW_INTERVAL_MS; CANCELLED: the last one"
    preview: Image
    createdAt: String!
    "when this state was stored"
    updatedAt: String!
    "runs started so far: more than 1 after a runner died, a rollout handed the job over, or a service was briefly unavailable"
    attempts: Int!
    finishedAt: String
  }

  type ModelFile {
    role: String!
    path: String!
    sha256: String!
  }

  "A sampler's settings, as SamplerInput spells them"
  type SamplerSettings {
    kind: SamplerKind!
    steps: Int!
    "DDIM only (null with the other kinds)"
    eta: Float
    temperature: Float!
    timestepSpacing: TimestepSpacing!
    varianceType: VarianceType!
    clipSample: Boolean!
    "null: the training schedule"
    inferenceSchedule: InferenceSchedule
  }

  "The size an image input must have for a job kind (a page resizes to it)"
  type InputSize {
    kind: JobKind!
    "SUPER_RESOLVE: the scale this size is for"
    scale: Int
    width: Int!
    height: Int!
  }

  "What a request may ask for"
  type ModelLimits {
    "images per job (count)"
    maxCount: Int!
    "points of an interpolation"
    maxPoints: Int!
    "sampler steps (at most the model's numTrainTimesteps)"
    maxSteps: Int!
    "count × steps of all the jobs of one request (MAX_IMAGE_STEPS)"
    maxImageSteps: Int!
    maxSeed: Int!
    "image inputs: the sizes each job kind takes"
    inputSizes: [InputSize!]!
  }

  "What a field left out becomes"
  type ModelDefaults {
    sampler: SamplerSettings!
    count: Int!
    sample: Int!
    points: Int!
    latentTemperature: Float!
    scale: Int!
  }

  "A model set served here: the sets share nothing but the API (each has its own files, limits and services)"
  type ModelInfo {
    "the set's name (a job mutation's input.model); job manifests name it with the sha256 of each file"
    name: String!
    "the set a job mutation without model runs on (the first of MODEL_DIR)"
    default: Boolean!
    dataset: String!
    resolution: Int!
    channels: Int!
    latentDim: Int!
    numTrainTimesteps: Int!
    formulation: Int!
    noiseConditioning: NoiseConditioning!
    createdAt: String!
    files: [ModelFile!]!
    "what a client needs to build a form: the limits, the choices and the defaults"
    limits: ModelLimits!
    samplers: [SamplerKind!]!
    "the sampler.inferenceSchedule kinds this set takes: all on a set conditioned on the noise level, none on one conditioned on the timestep"
    inferenceSchedules: [InferenceScheduleKind!]!
    timestepSpacings: [TimestepSpacing!]!
    varianceTypes: [VarianceType!]!
    "superResolve's scales for this model's size"
    scales: [Int!]!
    defaults: ModelDefaults!
  }

  type ServiceHealth {
    name: String!
    instances: Int!
  }

  type Health {
    "ok; degraded when a service has no instance; down when none has"
    status: String!
    version: String!
    uptimeSeconds: Float!
    "where the stages run: nats or in-process"
    mode: String!
    services: [ServiceHealth!]!
  }

  type JobProgress {
    jobId: ID!
    status: JobStatus!
    progress: JobProgressInfo
    "the x̂₀ preview when it is new since this subscription's last event (at most one per PREVIEW_INTERVAL_MS), else null; job { preview } always has the latest"
    preview: Image
    "the job as it is now (with images once SUCCEEDED)"
    job: Job!
  }

  "A page of jobs (the Relay connection shape): edges in order, and where the next page starts."
  type JobConnection {
    edges: [JobEdge!]!
    pageInfo: PageInfo!
  }
  type JobEdge {
    "opaque: pass it as after to get the jobs that follow this one"
    cursor: String!
    node: Job!
  }
  type PageInfo {
    hasNextPage: Boolean!
    "the last edge's cursor (null on an empty page)"
    endCursor: String
  }

  type Query {
    "the model sets served here, in MODEL_DIR's order (the default first)"
    models: [ModelInfo!]!
    "a job of this API key (any key's, with the admin scope); null when unknown, forgotten or another key's"
    job(id: ID!): Job
    """
    the jobs of this API key (every key's, with the admin scope) that the store still keeps, newest first.
    first: 1..100 (1..10 when the page asks for images, stage1 or preview); after: a cursor from the previous page
    """
    jobs(first: Int = 20, after: String, status: JobStatus): JobConnection!
    health: Health!
  }

  """
  Each job mutation needs an API key with the submit scope. One that fails is null with its error: the other jobs of
  the same request keep their results (and ids).
  """
  type Mutation {
    "z ~ N(0, I) → vae-decoder → scheduler/refiner"
    generate(input: GenerateInput!): Job
    "low-res image, ×2 or ×4"
    superResolve(input: SuperResolveInput!): Job
    "the refiner on its own, started at the timestep that matches σ"
    denoise(input: DenoiseInput!): Job
    "encoder → vae-decoder → refine"
    reconstruct(input: ReconstructInput!): Job
    "a path between two latents, DDPM noise held fixed"
    interpolate(input: InterpolateInput!): Job
    """
    runs a finished job's manifest (job { manifest }) again: the same model files, seed, samples and settings give
    identical PNG bytes. image: only image i (0-based) of that job, alone (not for interpolate: its points are one path).
    The manifest carries the job's input images, so it is all that is needed. It runs on the model set the manifest
    names, which must be served here with the same files.
    """
    reproduce(manifest: JSON!, image: Int, wait: Boolean = true): Job
    "stops a queued or running job (within one step); it ends CANCELLED (errorCode CANCELLED, with its last preview). A finished job is returned as it is."
    cancelJob(id: ID!): Job!
  }

  type Subscription {
    "progress in order (at most one event per PROGRESS_INTERVAL_MS), then the final job; completes when the job ends"
    jobProgress(id: ID!): JobProgress!
  }
`;
