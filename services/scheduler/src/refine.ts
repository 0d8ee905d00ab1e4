import { HEADERS, PlatformError, float32 } from '@diffusevae/contracts';
import type { ModelManifest } from '@diffusevae/models';
import { refineWith, type EpsFn, type StepProgress } from '@diffusevae/pipeline';
import { DEFAULT_SAMPLER, DEFAULT_SCHEDULE, SchedulerError, createScheduler, type SamplerSettings } from '@diffusevae/schedulers';
import {
  checkProgressSubject,
  firstSampleParam,
  intParam,
  paramsObject,
  requireFloat,
  seedParam,
  type EndpointHandler,
  type ProgressChannel,
} from '@diffusevae/service-kit';

export interface RefineDeps {
  /** ε_θ: natsEps(nc) in the service, any EpsFn in tests */
  eps: EpsFn;
  /** image shape and training schedule of the model set the refiners serve */
  manifest: Pick<ModelManifest, 'image' | 'schedule'>;
  progress?: ProgressChannel;
}

/**
 * refineWith runs the reverse process on DEFAULT_SCHEDULE; a model set trained on another β schedule would be
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

const SAMPLER_KEYS = new Set([...Object.keys(DEFAULT_SAMPLER), 'startTimestep']);

/** The request's sampler over DEFAULT_SAMPLER, validated by createScheduler; errors name `sampler.<field>`. */
export function samplerSettings(raw: unknown, trainedFormulation: 1 | 2): SamplerSettings {
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
  if (settings.formulation !== trainedFormulation) {
    throw PlatformError.badInput('sampler.formulation', `is ${settings.formulation}, but the refiner was trained for Formulation ${trainedFormulation}`);
  }
  return settings;
}

/**
 * refine: { cond: [B, C, H, W], init?: [B, C, H, W] }, params RefineParams → { x0 }. Runs refineWith over
 * `eps` (one refiner call per step), publishing a ProgressEvent every `progressEvery` steps and at the last
 * one on the request's progress subject; a cancel there stops it at the next step (CANCELLED).
 */
export function refineHandler(deps: RefineDeps): EndpointHandler {
  const { channels, resolution } = deps.manifest.image;
  const imageShape = [channels, resolution, resolution];
  return async ({ tensors, params, header }) => {
    const started = Date.now();
    const p = paramsObject(params);
    const cond = requireFloat(tensors, 'cond', imageShape);
    const init = tensors.init ? requireFloat(tensors, 'init', imageShape, cond.batch) : undefined;
    const seed = seedParam(p);
    if (seed === undefined) throw PlatformError.badInput('seed', 'is required');
    const firstSample = firstSampleParam(p, cond.batch);
    const sampler = samplerSettings(p.sampler, deps.manifest.schedule.formulation);
    const every = intParam(p, 'progressEvery', 0, 1_000_000) ?? 0;
    if (p.preview !== undefined && typeof p.preview !== 'boolean') throw PlatformError.badInput('preview', 'must be true or false');
    const subject = header(HEADERS.progressSubject);
    if (subject) checkProgressSubject(subject);
    const progress = subject ? deps.progress : undefined;
    const cancel = progress?.watchCancel(subject!);
    const onStep = (s: StepProgress) => {
      if ((s.stepIndex + 1) % every !== 0 && s.stepIndex !== s.steps - 1) return;
      const event = { stepIndex: s.stepIndex, steps: s.steps, timestep: s.timestep, elapsedMs: Date.now() - started };
      progress!.publish(subject!, event, p.preview ? s.predOriginal : undefined);
    };
    try {
      const x0 = await refineWith(deps.eps, cond, {
        seed,
        sampler,
        firstSample,
        init: init?.data,
        signal: cancel?.signal,
        onStep: progress && every > 0 ? onStep : undefined,
      });
      return { x0: float32(x0.data, x0.shape) };
    } catch (e) {
      if (cancel?.signal.aborted) throw new PlatformError('CANCELLED', 'refine was cancelled by the caller');
      throw e;
    } finally {
      cancel?.close();
    }
  };
}
