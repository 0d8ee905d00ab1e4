import { Purpose, batchNormals } from '@diffusevae/rng';
import { createScheduler, type SamplerSettings, type Scheduler } from './sampler.js';
import { SchedulerError, type NoiseScheduleConfig } from './schedule.js';
import { DpmSolverScheduler } from './dpm-solver.js';

/** What fixes one reverse process: with the model, it reproduces the result to the byte. */
export interface ReverseProcessSpec {
  settings: SamplerSettings;
  schedule?: NoiseScheduleConfig;
  seed: number;
  /** samples in this job; noise for sample j is keyed by (seed, firstSample + j, step) */
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
}

/**
 * Where a reverse process stands after `stepIndex` steps: with its spec, all it needs to go on. The noise of
 * the steps still to come is keyed by (seed, sample, step), so a process resumed from a checkpoint ends with
 * the bytes of one that was never interrupted.
 */
export interface Checkpoint {
  stepIndex: number;
  /** y_t after `stepIndex` steps (Formulation-1 space), count × itemSize */
  sample: Float32Array;
  /** a multistep solver's state (DPM-Solver++(2M): the previous step's x̂_0, count × itemSize), when it has one */
  history?: Float32Array;
}

/** What one step produced (previews show x̂_0). */
export interface StepResult {
  stepIndex: number;
  steps: number;
  timestep: number;
  /** √ᾱ of this step's timestep in the schedule walked (what a continuous-noise refiner was fed) */
  noiseLevel: number;
  predOriginal: Float32Array;
}

/**
 * One job's reverse process, one step at a time, so that a caller can advance many of them with one batched
 * network call (continuous batching): read `modelInput` and `timestep` (or `noiseLevel`, for a refiner conditioned
 * on the noise level), evaluate ε_θ, then `advance(eps)`.
 * Every random number is keyed by (seed, sample index, step), never by a batch position, so the result does
 * not depend on what the job was batched with.
 *
 * Formulation 2 runs the same steps on y_t = x_t − x̂ and feeds the network the shifted x_t = y_t + x̂; the
 * result is y_0 (x_0 with x̂ subtracted).
 */
export class ReverseProcess {
  readonly count: number;
  readonly itemSize: number;
  readonly cond: Float32Array;
  private readonly scheduler: Scheduler;
  private readonly spec: ReverseProcessSpec;
  private y: Float32Array;
  private shifted: Float32Array | undefined;
  private index = 0;

  constructor(spec: ReverseProcessSpec) {
    this.spec = spec;
    this.count = spec.count;
    this.itemSize = spec.itemSize;
    this.cond = spec.cond;
    this.scheduler = createScheduler(spec.settings, spec.schedule);
    const n = spec.count * spec.itemSize;
    if (spec.cond.length !== n) throw new SchedulerError('cond', `has ${spec.cond.length} values, expected count × itemSize = ${n}`);
    if (spec.init) {
      if (spec.init.length !== n) throw new SchedulerError('init', `has ${spec.init.length} values, expected ${n}`);
      this.y = Float32Array.from(spec.init);
    } else {
      this.y = this.noise(Purpose.start, 0);
      for (let j = 0; j < n; j++) this.y[j] = spec.settings.temperature * this.y[j]!;
    }
  }

  get steps(): number {
    return this.scheduler.timesteps.length;
  }

  /** steps done so far */
  get stepIndex(): number {
    return this.index;
  }

  get done(): boolean {
    return this.index >= this.steps;
  }

  /** the training timestep fed to the network at this step (the same for every sample of this job) */
  get timestep(): number {
    this.checkNotDone();
    return this.scheduler.timesteps[this.index]!;
  }

  /**
   * √ᾱ at this step's timestep in the schedule the scheduler walks (SamplerSettings.inferenceSchedule when set, the
   * training schedule otherwise): what a refiner conditioned on the continuous noise level is fed.
   */
  get noiseLevel(): number {
    this.checkNotDone();
    return Math.sqrt(this.scheduler.alphaBar[this.index]!);
  }

  /** The network's per-step conditioning value: `timestep` or `noiseLevel`. */
  conditioningValue(conditioning: EpsConditioning = 'timestep'): number {
    return conditioning === 'noiseLevel' ? this.noiseLevel : this.timestep;
  }

  /** the network's x_t for this step (count × itemSize); valid until the next advance */
  modelInput(): Float32Array {
    this.checkNotDone();
    if (this.spec.settings.formulation !== 2) return this.y;
    const x = (this.shifted ??= new Float32Array(this.y.length));
    for (let j = 0; j < x.length; j++) x[j] = this.y[j]! + this.cond[j]!;
    return x;
  }

  /** x_t → x_{t−1} given ε_θ(modelInput, timestep, cond) (count × itemSize). */
  advance(eps: Float32Array): StepResult {
    this.checkNotDone();
    const i = this.index;
    const noise = this.scheduler.addsNoise(i) ? this.noise(Purpose.step, i) : undefined;
    const out = this.scheduler.step(eps, i, this.y, noise);
    const timestep = this.scheduler.timesteps[i]!;
    const noiseLevel = Math.sqrt(this.scheduler.alphaBar[i]!);
    this.y = out.prevSample;
    this.index++;
    return { stepIndex: i, steps: this.steps, timestep, noiseLevel, predOriginal: out.predOriginalSample };
  }

  /** A copy of where the process stands, to resume it elsewhere (`resume`). */
  checkpoint(): Checkpoint {
    const history = this.scheduler instanceof DpmSolverScheduler ? this.scheduler.history.x0 : null;
    return { stepIndex: this.index, sample: Float32Array.from(this.y), ...(history ? { history } : {}) };
  }

  /** Continues from a checkpoint of a process with the same spec (its step count and size are checked). */
  resume(c: Checkpoint): void {
    if (!Number.isInteger(c.stepIndex) || c.stepIndex < 0 || c.stepIndex > this.steps) {
      throw new SchedulerError('checkpoint.stepIndex', `must be an integer in [0, ${this.steps}], got ${c.stepIndex}`);
    }
    if (c.sample.length !== this.y.length) throw new SchedulerError('checkpoint.sample', `has ${c.sample.length} values, expected ${this.y.length}`);
    if (c.history && c.history.length !== this.y.length) throw new SchedulerError('checkpoint.history', `has ${c.history.length} values, expected ${this.y.length}`);
    if (this.scheduler instanceof DpmSolverScheduler) {
      // a multistep solver past its first step needs the previous x̂_0 to go on with the same bytes
      if (c.stepIndex > 0 && !c.history) throw new SchedulerError('checkpoint.history', `is missing: ${this.spec.settings.kind} needs the previous step's x̂_0 to resume`);
      this.scheduler.history = { x0: c.stepIndex > 0 ? c.history! : null };
    }
    this.y = Float32Array.from(c.sample);
    this.index = c.stepIndex;
  }

  /** y_0 once done */
  get result(): Float32Array {
    if (!this.done) throw new Error(`reverse process: result asked for after ${this.index} of ${this.steps} steps`);
    return this.y;
  }

  private checkNotDone(): void {
    if (this.done) throw new Error(`reverse process: all ${this.steps} steps are done`);
  }

  private noise(purpose: typeof Purpose.start | typeof Purpose.step, step: number): Float32Array {
    const { seed, count, itemSize, sharedNoise } = this.spec;
    const first = this.spec.firstSample ?? 0;
    if (!sharedNoise) return batchNormals(seed, purpose, step, count, itemSize, first);
    const one = batchNormals(seed, purpose, step, 1, itemSize, first);
    const all = new Float32Array(count * itemSize);
    for (let s = 0; s < count; s++) all.set(one, s * itemSize);
    return all;
  }
}

/**
 * ε_θ on a batch: model input x_t, per-sample conditioning (integer timesteps for discrete models, noise levels √ᾱ
 * for continuous ones), conditioning image.
 */
export type EpsModel = (modelInput: Float32Array, t: readonly number[], cond: Float32Array) => Promise<Float32Array>;

/** What a refiner is conditioned on: the integer training timestep t, or the continuous noise level √ᾱ. */
export const EPS_CONDITIONINGS = ['timestep', 'noiseLevel'] as const;
export type EpsConditioning = (typeof EPS_CONDITIONINGS)[number];

export interface ReverseProcessInput extends ReverseProcessSpec {
  epsModel: EpsModel;
  /** what `epsModel` is fed per sample: `timestep` (default) or `noiseLevel` (√ᾱ of the step, ReverseProcess.noiseLevel) */
  conditioning?: EpsConditioning;
  onStep?: (info: StepResult) => void | Promise<void>;
}

/** The unrolled loop over one ReverseProcess: 1. predict ε, 2. x_t → x_{t−1}. */
export async function runReverseProcess(input: ReverseProcessInput): Promise<Float32Array> {
  const conditioning = input.conditioning ?? 'timestep';
  if (!EPS_CONDITIONINGS.includes(conditioning)) {
    throw new SchedulerError('conditioning', `must be one of ${EPS_CONDITIONINGS.join(', ')}, got ${String(conditioning)}`);
  }
  const process = new ReverseProcess(input);
  while (!process.done) {
    const c = process.conditioningValue(conditioning);
    const eps = await input.epsModel(process.modelInput(), new Array<number>(process.count).fill(c), process.cond);
    const step = process.advance(eps);
    await input.onStep?.(step);
  }
  return process.result;
}
