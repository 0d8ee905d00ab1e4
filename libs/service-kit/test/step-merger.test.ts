import type { StepProgress } from '@diffusevae/pipeline';
import { Tensor } from '@diffusevae/tensor';
import { describe, expect, it } from 'vitest';
import { StepMerger } from '../src/stages.js';

const event = (stepIndex: number) => ({ stepIndex, steps: 4, timestep: 999 - stepIndex, elapsedMs: 1 });
const part = (v: number) => new Tensor(new Float32Array(4).fill(v), [1, 1, 2, 2]);

describe('StepMerger', () => {
  it('emits a step once every chunk reported it, with x̂_0 joined in chunk order', () => {
    const out: StepProgress[] = [];
    const m = new StepMerger(2, (p) => out.push(p));
    m.add(1, { event: event(0), preview: part(2) });
    expect(out).toHaveLength(0);
    m.add(0, { event: event(0), preview: part(1) });
    expect(out).toHaveLength(1);
    expect(out[0]).toMatchObject({ stepIndex: 0, steps: 4, timestep: 999 });
    expect(Array.from(out[0]!.predOriginal!.data)).toEqual([1, 1, 1, 1, 2, 2, 2, 2]);
    expect(out[0]!.predOriginal!.shape).toEqual([2, 1, 2, 2]);
  });

  it('emits a step without x̂_0 when a chunk sent none at that step', () => {
    const out: StepProgress[] = [];
    const m = new StepMerger(2, (p) => out.push(p));
    m.add(0, { event: event(1), preview: part(1) });
    m.add(1, { event: event(1) });
    expect(out).toHaveLength(1);
    expect(out[0]!.stepIndex).toBe(1);
    expect(out[0]!.predOriginal).toBeUndefined();
  });

  it('drops older steps that can no longer complete once a later one has', () => {
    const out: StepProgress[] = [];
    const m = new StepMerger(2, (p) => out.push(p));
    m.add(0, { event: event(0) });
    m.add(0, { event: event(2) });
    m.add(1, { event: event(2) });
    m.add(1, { event: event(0) }); // late: step 2 is already out
    expect(out.map((p) => p.stepIndex)).toEqual([2]);
  });
});
