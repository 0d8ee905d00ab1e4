import { HEADERS, PlatformError, float32 } from '@diffusevae/contracts';
import { noiseConditioning, type ModelManifest } from '@diffusevae/models';
import { DEFAULT_SAMPLER, DEFAULT_SCHEDULE, ReverseProcess, type Checkpoint, SchedulerError, createScheduler, type SamplerSettings, type StepResult } from '@diffusevae/schedulers';
import {
  Handover,
  checkCheckpointKey,
  checkProgressSubject,
  checkpointFingerprint,
  type CheckpointMeta,
  type CheckpointStore,
  type Takeovers,
  firstSampleParam,
  intParam,
  paramsObject,
  requireFloat,
  seedParam,
  type EndpointHandler,
  type ProgressChannel,
} from '@diffusevae/service-kit';
import { Tensor } from '@diffusevae/tensor';
import type { ContinuousBatcher } from './continuous.js';

export interface RefineDeps {
  /** advances every job in flight together (over natsEps(nc) in the service, any EpsFn in tests) */
  batcher: ContinuousBatcher;
  /** name, image shape and training schedule of the model set the refiners serve */
  manifest: Pick<ModelManifest, 'name' | 'image' | 'schedule'>;
  progress?: ProgressChannel;
  /** where requests with a `checkpoint` key save their state every `checkpointIntervalMs`, and resume from */
  checkpoints?: CheckpointStore;
  /** CHECKPOINT_INTERVAL_MS: least time between two checkpoints of one request */
  checkpointIntervalMs?: number;
  /**
   * aborted when the scheduler shuts down (SIGTERM: a rollout, scale-in): every request in flight saves its
   * checkpoint and fails SERVICE_UNAVAILABLE, which its caller takes as "send it again", to another replica
   */
  stopping?: AbortSignal;
  /** with checkpoints: a later try of a request stops the one still running (natsTakeovers) */
  takeovers?: Takeovers;
  /** failures to save or load a checkpoint (with its key): the request goes on without (it would only restart further back) */
  onCheckpointError?: (e: unknown, key: string) => void;
}

/**
 * The reverse process runs on DEFAULT_SCHEDULE; a model set trained on another β schedule would be
 * sampled wrongly without any error, so the service refuses to start on one.
 */
export function checkSchedule(schedule: ModelManifest['schedule']): void {
  const { numTrainTimesteps: T, betaStart, betaEnd } = DEFAULT_SCHEDULE;
  if (schedule.numTrainTimesteps !== T || schedule.betaStart !== betaStart || schedule.betaEnd !== betaEnd) {
    throw new Error(
      `model set schedule T=${schedule.numTrainTimesteps}, β ${schedule.betaStart}…${schedule.betaEnd} is not the one the scheduler runs (T=${T}, β ${betaStart}…${betaEnd})`,
    );
  }
}

const SAMPLER_KEYS = new Set([...Object.keys(DEFAULT_SAMPLER), 'startTimestep', 'inferenceSchedule']);

/**
 * The request's sampler over DEFAULT_SAMPLER, validated by createScheduler; errors name `sampler.<field>`. An
 * inference schedule (LINEAR, LOG_SNR or KARRAS over the steps) needs a set conditioned on the noise level.
 */
export function samplerSettings(raw: unknown, model: Pick<ModelManifest, 'name' | 'schedule'>): SamplerSettings {
  const trainedFormulation = model.schedule.formulation;
  if (raw !== undefined && (typeof raw !== 'object' || raw === null || Array.isArray(raw))) throw PlatformError.badInput('sampler', 'must be an object');
  for (const key of Object.keys(raw ?? {})) {
    if (!SAMPLER_KEYS.has(key)) throw PlatformError.badInput(`sampler.${key}`, `unknown setting (known: ${[...SAMPLER_KEYS].join(', ')})`);
  }
  const settings = { ...DEFAULT_SAMPLER, ...(raw as Partial<SamplerSettings>) };
  if (typeof settings.clipSample !== 'boolean') throw PlatformError.badInput('sampler.clipSample', 'must be true or false');
  try {
    createScheduler(settings);
  } catch (e) {
    if (e instanceof SchedulerError) throw new PlatformError('BAD_USER_INPUT', `sampler.${e.message}`, `sampler.${e.field}`);
    throw e;
  }
  if (settings.inferenceSchedule != null && noiseConditioning(model) !== 'continuous') {
    throw PlatformError.badInput(
      'sampler.inferenceSchedule',
      `model set ${model.name} is conditioned on the integer timestep: a free inference schedule needs a set conditioned on the noise level (schedule.noiseConditioning "continuous")`,
    );
  }
  if (settings.formulation !== trainedFormulation) {
    throw PlatformError.badInput('sampler.formulation', `is ${settings.formulation}, but the refiner was trained for Formulation ${trainedFormulation}`);
  }
  return settings;
}

/**
 * refine: { cond: [B, C, H, W], init?: [B, C, H, W] }, params RefineParams → { x0 }. The request's
 * ReverseProcess joins the continuous batcher (one refiner call per tick for every job in flight), publishing
 * a ProgressEvent every `progressEvery` steps (at most once per `progressIntervalMs`) and at the last one on the
 * request's progress subject, and a heartbeat there whenever `heartbeatMs` passed without a message; a cancel
 * there takes it out of the batch before the next step (CANCELLED). With a `checkpoint` key, it resumes from the
 * checkpoint saved under that key by an earlier try of the same request, saves one every `checkpointIntervalMs`
 * (off the tick: the write is not awaited), one more when its caller hands it over, and the finished one. Another
 * scheduler still running the same key (an earlier try) stops when this one starts. When the scheduler stops, each
 * request saves its checkpoint and answers SERVICE_UNAVAILABLE, so that its caller sends it to another replica.
 */
export function refineHandler(deps: RefineDeps): EndpointHandler {
  const { channels, resolution } = deps.manifest.image;
  const imageShape = [channels, resolution, resolution];
  const onCheckpointError = deps.onCheckpointError ?? (() => {});
  return async ({ tensors, params, header }) => {
    const started = Date.now();
    const p = paramsObject(params);
    const cond = requireFloat(tensors, 'cond', imageShape);
    const init = tensors.init ? requireFloat(tensors, 'init', imageShape, cond.batch) : undefined;
    const seed = seedParam(p);
    if (seed === undefined) throw PlatformError.badInput('seed', 'is required');
    const firstSample = firstSampleParam(p, cond.batch);
    const sampler = samplerSettings(p.sampler, deps.manifest);
    const every = intParam(p, 'progressEvery', 0, 1_000_000) ?? 0;
    const intervalMs = intParam(p, 'progressIntervalMs', 0, 3_600_000) ?? 0;
    const previewMs = intParam(p, 'previewIntervalMs', 0, 3_600_000) ?? 0;
    const heartbeatMs = intParam(p, 'heartbeatMs', 0, 3_600_000) ?? 0;
    if (p.preview !== undefined && typeof p.preview !== 'boolean') throw PlatformError.badInput('preview', 'must be true or false');
    if (p.checkpoint !== undefined && typeof p.checkpoint !== 'string') throw PlatformError.badInput('checkpoint', 'must be a string');
    const key = deps.checkpoints ? (p.checkpoint as string | undefined) : undefined;
    if (key !== undefined) checkCheckpointKey(key);
    const subject = header(HEADERS.progressSubject);
    if (subject) checkProgressSubject(subject);
    const progress = subject ? deps.progress : undefined;
    const cancel = progress?.watchCancel(subject!);
    let publishedAt = -Infinity;
    let previewAt = -Infinity;
    let saving: Promise<void> | undefined;
    let savedAt = Date.now();
    const rp = new ReverseProcess({
      settings: sampler,
      seed,
      count: cond.batch,
      firstSample,
      itemSize: cond.itemSize,
      cond: cond.data,
      ...(init ? { init: init.data } : {}),
    });
    const meta: CheckpointMeta = {
      steps: rp.steps,
      count: cond.batch,
      itemSize: cond.itemSize,
      fingerprint: checkpointFingerprint({ seed, firstSample, sampler, init: init !== undefined }, cond.data),
    };
    const save = () => {
      savedAt = Date.now();
      saving = deps.checkpoints!.save(key!, meta, rp.checkpoint()).catch((e: unknown) => onCheckpointError(e, key!)).finally(() => (saving = undefined));
      return saving;
    };
    const onStep = (s: StepResult) => {
      const now = Date.now();
      if (key !== undefined && !saving && !rp.done && now - savedAt >= (deps.checkpointIntervalMs ?? 1000)) void save();
      if (!progress || every === 0) return;
      const last = s.stepIndex === s.steps - 1;
      if (!last && ((s.stepIndex + 1) % every !== 0 || now - publishedAt < intervalMs)) return;
      publishedAt = now;
      const event = { stepIndex: s.stepIndex, steps: s.steps, timestep: s.timestep, elapsedMs: now - started };
      const withPreview = p.preview === true && now - previewAt >= previewMs;
      if (withPreview) previewAt = now;
      progress.publish(subject!, event, withPreview ? new Tensor(s.predOriginal, cond.shape) : undefined);
    };
    // silence means a dead scheduler to the caller: speak up while waiting for room or between slow steps
    const beat =
      progress && heartbeatMs > 0
        ? setInterval(() => {
            if (Date.now() - publishedAt >= heartbeatMs) progress.heartbeat(subject!);
          }, heartbeatMs)
        : undefined;
    let claim: ReturnType<Takeovers['claim']> | undefined;
    let saved: Checkpoint | undefined;
    try {
      if (key !== undefined) {
        saved = (await deps.checkpoints!.load(key, meta).catch((e: unknown) => void onCheckpointError(e, key))) ?? undefined;
        if (saved) rp.resume(saved);
        claim = deps.takeovers?.claim(key);
      }
      const signals = [cancel?.signal, claim?.signal, deps.stopping].filter((s) => s !== undefined);
      const signal = signals.length > 1 ? AbortSignal.any(signals) : signals[0];
      const x0 = rp.done ? rp.result : await deps.batcher.submit(rp, { ...(signal ? { signal } : {}), onStep });
      // the finished state too: a try whose reply was lost (its caller died just then) gets the result at once
      if (key !== undefined && saved?.stepIndex !== rp.steps) void save();
      return { x0: float32(x0, cond.shape) };
    } catch (e) {
      if (claim?.signal.aborted) throw claim.signal.reason;
      const stopping = deps.stopping?.aborted === true;
      const handover = cancel?.signal.reason instanceof Handover;
      // letting go of work that goes on elsewhere: its next try resumes from here
      if ((stopping || handover) && key !== undefined) {
        await saving;
        await save();
      }
      if (stopping) throw new PlatformError('SERVICE_UNAVAILABLE', 'this scheduler is shutting down; send the request again: another replica resumes it from its checkpoint');
      if (cancel?.signal.aborted) throw new PlatformError('CANCELLED', 'refine was cancelled by the caller');
      throw e;
    } finally {
      clearInterval(beat);
      cancel?.close();
      claim?.release();
    }
  };
}
