import { Tensor } from '@diffusevae/tensor';
import { describe, expect, it } from 'vitest';
import type { EncodedImage } from '../src/images.js';
import type { StepInfo } from '../src/jobs.js';
import { ProgressWriter } from '../src/progress.js';

const x0 = (v: number) => new Tensor(new Float32Array(4 * 4).fill(v), [1, 1, 4, 4]);
const step = (stepIndex: number, predOriginal?: Tensor) => ({ stepIndex, steps: 5, timestep: 999 - stepIndex, ...(predOriginal ? { predOriginal } : {}) });

function writer(previewIntervalMs: number) {
  const writes: { info: StepInfo; preview: EncodedImage | undefined }[] = [];
  const w = new ProgressWriter(async (info, preview) => void writes.push({ info, preview }), { progressIntervalMs: 0, previewIntervalMs }, (e) => {
    throw e;
  });
  return { w, writes };
}
const settle = () => new Promise((r) => setTimeout(r, 50));

describe('ProgressWriter', () => {
  it('keeps the last preview on steps that carry no x̂₀, and makes the next one from the newest x̂₀', async () => {
    const { w, writes } = writer(0);
    w.step(step(0, x0(-1)));
    await settle();
    w.step(step(1));
    await settle();
    w.step(step(2, x0(1)));
    await settle();
    await w.close();
    expect(writes.map((x) => x.info.step)).toEqual([1, 2, 3]);
    const [a, b, c] = writes.map((x) => x.preview);
    expect(a?.width).toBe(4);
    expect(b).toBe(a); // no new x̂₀: the same preview again
    expect(c?.png).not.toBe(a?.png); // black → white
  });

  it('writes no preview until an x̂₀ has come', async () => {
    const { w, writes } = writer(0);
    w.step(step(0));
    await settle();
    await w.close();
    expect(writes).toHaveLength(1);
    expect(writes[0]!.preview).toBeUndefined();
  });
});
