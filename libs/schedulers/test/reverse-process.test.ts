import { Purpose, batchNormals } from '@diffusevae/rng';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_SAMPLER,
  DEFAULT_SCHEDULE,
  ReverseProcess,
  alphaBars,
  createScheduler,
  linearBetas,
  runReverseProcess,
  type EpsModel,
  type ReverseProcessInput,
  type SamplerSettings,
} from '../src/index.js';

/** runReverseProcess as it was before the step-wise refactor: the reference the new code must equal to the byte. */
async function referenceLoop(input: ReverseProcessInput): Promise<Float32Array> {
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
  let y: Float32Array;
  if (input.init) y = Float32Array.from(input.init);
  else {
    y = noiseFor(Purpose.start, 0);
    for (let j = 0; j < n; j++) y[j] = settings.temperature * y[j]!;
  }
  const modelInput = new Float32Array(n);
  for (let i = 0; i < scheduler.timesteps.length; i++) {
    const t = scheduler.timesteps[i]!;
    if (settings.formulation === 2) for (let j = 0; j < n; j++) modelInput[j] = y[j]! + cond[j]!;
    else modelInput.set(y);
    const eps = await epsModel(modelInput, new Array<number>(count).fill(t), cond);
    y = scheduler.step(eps, i, y, scheduler.addsNoise(i) ? noiseFor(Purpose.step, i) : undefined).prevSample;
  }
  return y;
}

const itemSize = 12;
const ab = alphaBars(linearBetas(DEFAULT_SCHEDULE));
// a nonlinear ε of (x_t, t, cond), per sample: any batch composition must give the same values for a sample
const epsModel: EpsModel = async (x, t, cond) =>
  Float32Array.from(x, (v, j) => Math.tanh(v * 0.7 + cond[j]! * Math.sqrt(ab[t[Math.floor(j / itemSize)]!]!)) - 0.1 * Math.sin(j % itemSize));
const cond = (count: number, k = 0) => Float32Array.from({ length: count * itemSize }, (_, j) => Math.cos(j * 0.37 + k) * 0.8);
const bytes = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

const CASES: [string, Partial<SamplerSettings>, Partial<ReverseProcessInput>][] = [
  ['DDIM η=0', { kind: 'DDIM', steps: 10 }, {}],
  ['DDIM η=1 trailing', { kind: 'DDIM', steps: 7, eta: 1, timestepSpacing: 'trailing' }, {}],
  ['DDPM fixedsmall quad, temperature 0.8', { kind: 'DDPM', steps: 12, varianceType: 'fixedsmall', timestepSpacing: 'quad', temperature: 0.8 }, {}],
  ['DDPM Formulation 2', { kind: 'DDPM', steps: 6, formulation: 2 }, {}],
  ['DDPM from init at t=300 with shared noise', { kind: 'DDPM', steps: 5, startTimestep: 300 }, { init: cond(3, 2), sharedNoise: true, firstSample: 4 }],
  // multistep: a checkpoint carries the previous x̂_0
  ['DPM-Solver++(2M) trailing', { kind: 'DPMPP_2M', steps: 8, timestepSpacing: 'trailing' }, {}],
  ['DPM-Solver++(2M) SDE, Formulation 2', { kind: 'DPMPP_2M_SDE', steps: 9, timestepSpacing: 'trailing', formulation: 2 }, {}],
];

describe('ReverseProcess', () => {
  it.each(CASES)('%s: runReverseProcess gives the pre-refactor loop’s bytes', async (_, s, extra) => {
    const input: ReverseProcessInput = { settings: { ...DEFAULT_SAMPLER, ...s }, seed: 77, count: 3, itemSize, cond: cond(3), epsModel, ...extra };
    expect(bytes(await runReverseProcess(input)).equals(bytes(await referenceLoop(input)))).toBe(true);
  });

  it('advanced in lock-step with other jobs (different samplers, timesteps and lengths), each gives its own bytes', async () => {
    const inputs = CASES.map(([, s, extra], k) => ({ settings: { ...DEFAULT_SAMPLER, ...s }, seed: 10 + k, count: 3, itemSize, cond: cond(3, k), epsModel, ...extra }));
    const alone = await Promise.all(inputs.map((i) => referenceLoop(i)));
    const procs = inputs.map((i) => new ReverseProcess(i));
    // one batched ε call per tick over every unfinished process, t per sample
    for (let active = procs.filter((p) => !p.done); active.length > 0; active = procs.filter((p) => !p.done)) {
      const x = new Float32Array(active.reduce((a, p) => a + p.count * itemSize, 0));
      const c = new Float32Array(x.length);
      const t: number[] = [];
      let off = 0;
      for (const p of active) {
        x.set(p.modelInput(), off);
        c.set(p.cond, off);
        off += p.count * itemSize;
        t.push(...new Array<number>(p.count).fill(p.timestep));
      }
      const eps = await epsModel(x, t, c);
      off = 0;
      for (const p of active) {
        p.advance(eps.subarray(off, off + p.count * itemSize));
        off += p.count * itemSize;
      }
    }
    procs.forEach((p, k) => expect(bytes(p.result).equals(bytes(alone[k]!))).toBe(true));
  });

  it.each(CASES)('%s: resumed from a checkpoint in a fresh process, it ends with the undisturbed bytes', async (_, s, extra) => {
    const input: ReverseProcessInput = { settings: { ...DEFAULT_SAMPLER, ...s }, seed: 78, count: 3, itemSize, cond: cond(3), epsModel, ...extra };
    const undisturbed = await referenceLoop(input);
    const first = new ReverseProcess(input);
    for (let i = 0; i < Math.floor(first.steps / 2); i++) first.advance(await epsModel(first.modelInput(), new Array<number>(3).fill(first.timestep), first.cond));
    const saved = first.checkpoint();
    first.advance(await epsModel(first.modelInput(), new Array<number>(3).fill(first.timestep), first.cond)); // the copy does not move with it
    const second = new ReverseProcess(input);
    second.resume(saved);
    expect(second.stepIndex).toBe(saved.stepIndex);
    while (!second.done) second.advance(await epsModel(second.modelInput(), new Array<number>(3).fill(second.timestep), second.cond));
    expect(bytes(second.result).equals(bytes(undisturbed))).toBe(true);
  });

  it('a multistep solver refuses a checkpoint past its first step without its history', () => {
    const p = new ReverseProcess({ settings: { ...DEFAULT_SAMPLER, kind: 'DPMPP_2M', steps: 4 }, seed: 1, count: 2, itemSize, cond: cond(2) });
    expect(() => p.resume({ stepIndex: 2, sample: new Float32Array(2 * itemSize) })).toThrow(/checkpoint.history: is missing: DPMPP_2M needs/);
    expect(() => p.resume({ stepIndex: 0, sample: new Float32Array(2 * itemSize) })).not.toThrow();
  });

  it('refuses a checkpoint of another size or past its end', () => {
    const p = new ReverseProcess({ settings: { ...DEFAULT_SAMPLER, steps: 4 }, seed: 1, count: 2, itemSize, cond: cond(2) });
    expect(() => p.resume({ stepIndex: 5, sample: new Float32Array(2 * itemSize) })).toThrow(/checkpoint.stepIndex: .*\[0, 4\], got 5/);
    expect(() => p.resume({ stepIndex: 1, sample: new Float32Array(itemSize) })).toThrow(/checkpoint.sample: .*expected 24/);
  });

  it('reports its position and refuses to step past the end', async () => {
    const p = new ReverseProcess({ settings: { ...DEFAULT_SAMPLER, steps: 2 }, seed: 1, count: 1, itemSize, cond: cond(1) });
    expect([p.steps, p.stepIndex, p.done]).toEqual([2, 0, false]);
    expect(() => p.result).toThrow(/after 0 of 2 steps/);
    const first = p.advance(await epsModel(p.modelInput(), [p.timestep], p.cond));
    expect(first).toMatchObject({ stepIndex: 0, steps: 2, timestep: expect.any(Number) });
    expect(first.predOriginal).toHaveLength(itemSize);
    p.advance(await epsModel(p.modelInput(), [p.timestep], p.cond));
    expect(p.done).toBe(true);
    expect(() => p.modelInput()).toThrow(/all 2 steps are done/);
  });
});
