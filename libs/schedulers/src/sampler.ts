import { Purpose, batchNormals } from '@diffusevae/rng';
import { DdimScheduler } from './ddim.js';
import { DdpmScheduler, type VarianceType } from './ddpm.js';
import { DEFAULT_SCHEDULE, SchedulerError, type NoiseScheduleConfig } from './schedule.js';
import { TIMESTEP_SPACINGS, type TimestepSpacing } from './spacing.js';

/** Everything that picks a reverse process; with a seed and the model's sha256 it reproduces a sample. */
export interface SamplerSettings {
  kind: 'DDPM' | 'DDIM';
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
}

export const DEFAULT_SAMPLER: SamplerSettings = {
  kind: 'DDIM',
  steps: 50,
  eta: 0,
  temperature: 1,
  varianceType: 'fixedlarge',
  timestepSpacing: 'leading',
  clipSample: true,
  formulation: 1,
};

export type Scheduler = DdpmScheduler | DdimScheduler;

/** Validates settings (errors name the field) and returns a scheduler with its timesteps set. */
export function createScheduler(settings: SamplerSettings, schedule: NoiseScheduleConfig = DEFAULT_SCHEDULE): Scheduler {
  const T = schedule.numTrainTimesteps;
  if (settings.kind !== 'DDPM' && settings.kind !== 'DDIM') {
    throw new SchedulerError('kind', `must be DDPM or DDIM, got ${String(settings.kind)}`);
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
  const spacing = { timestepSpacing: settings.timestepSpacing, startTimestep: settings.startTimestep ?? T - 1 };
  if (settings.kind === 'DDPM') {
    return new DdpmScheduler({ ...schedule, varianceType: settings.varianceType, clipSample: settings.clipSample }).setTimesteps(
      settings.steps,
      spacing,
    );
  }
  return new DdimScheduler({ ...schedule, clipSample: settings.clipSample }).setTimesteps(settings.steps, { ...spacing, eta: settings.eta });
}

/** ε_θ on a batch: model input x_t, per-sample training timestep, conditioning image. */
export type EpsModel = (modelInput: Float32Array, t: readonly number[], cond: Float32Array) => Promise<Float32Array>;

export interface ReverseProcessInput {
  settings: SamplerSettings;
  schedule?: NoiseScheduleConfig;
  seed: number;
  /** samples in this job; noise for sample j is keyed by (seed, firstSample + j) */
  count: number;
  firstSample?: number;
  /** values per sample (C·H·W) */
  itemSize: number;
  /** x̂, the stage-1 images (count × itemSize) */
  cond: Float32Array;
  /** every sample draws sample `firstSample`'s noise (interpolation: the DDPM noise held fixed along a path) */
  sharedNoise?: boolean;
  /** where to start instead of x_T = λ N(0, I) (Formulation-1 space), e.g. √ᾱ_t · y for denoising */
  init?: Float32Array;
  epsModel: EpsModel;
  onStep?: (info: { stepIndex: number; steps: number; timestep: number; predOriginal: Float32Array }) => void | Promise<void>;
}

/**
 * The unrolled loop: 1. predict ε, 2. x_t → x_{t−1}. Formulation 2 runs the same steps on y_t = x_t − x̂
 * and feeds the network the shifted x_t = y_t + x̂; the result is y_0 (x_0 with x̂ subtracted).
 */
export async function runReverseProcess(input: ReverseProcessInput): Promise<Float32Array> {
  const { settings, seed, count, itemSize, cond, epsModel } = input;
  const first = input.firstSample ?? 0;
  const scheduler = createScheduler(settings, input.schedule);
  const n = count * itemSize;
  const noiseFor = (purpose: typeof Purpose.start | typeof Purpose.step, step: number): Float32Array => {
    if (!input.sharedNoise) return batchNormals(seed, purpose, step, count, itemSize, first);
    const one = batchNormals(seed, purpose, step, 1, itemSize, first);
    const all = new Float32Array(n);
    for (let s = 0; s < count; s++) all.set(one, s * itemSize);
    return all;
  };
  if (cond.length !== n) throw new SchedulerError('cond', `has ${cond.length} values, expected count × itemSize = ${n}`);
  let y: Float32Array;
  if (input.init) {
    if (input.init.length !== n) throw new SchedulerError('init', `has ${input.init.length} values, expected ${n}`);
    y = Float32Array.from(input.init);
  } else {
    y = noiseFor(Purpose.start, 0);
    for (let j = 0; j < n; j++) y[j] = settings.temperature * y[j]!;
  }
  const timesteps = scheduler.timesteps;
  const modelInput = new Float32Array(n);
  for (let i = 0; i < timesteps.length; i++) {
    const t = timesteps[i]!;
    if (settings.formulation === 2) for (let j = 0; j < n; j++) modelInput[j] = y[j]! + cond[j]!;
    else modelInput.set(y);
    const eps = await epsModel(modelInput, new Array<number>(count).fill(t), cond);
    const noise = scheduler.addsNoise(i) ? noiseFor(Purpose.step, i) : undefined;
    const out = scheduler.step(eps, i, y, noise);
    y = out.prevSample;
    await input.onStep?.({ stepIndex: i, steps: timesteps.length, timestep: t, predOriginal: out.predOriginalSample });
  }
  return y;
}
