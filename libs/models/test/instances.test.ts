import { describe, expect, it } from 'vitest';
import { Tensor } from '@diffusevae/tensor';
import { DEFAULT_MODEL_DIR, MIN_ROWS_PER_INSTANCE, ModelError, ModelSet, OnnxModel, splitBatch } from '../src/index.js';

describe('splitBatch', () => {
  it('shares a batch as evenly as it can, never with an empty part', () => {
    expect(splitBatch(64, 2)).toEqual([32, 32]);
    expect(splitBatch(5, 2)).toEqual([3, 2]);
    expect(splitBatch(7, 3)).toEqual([3, 2, 2]);
    expect(splitBatch(1, 4)).toEqual([1]);
    expect(splitBatch(3, 1)).toEqual([3]);
    expect(MIN_ROWS_PER_INSTANCE).toBe(8); // the tests below split 25 rows three ways and keep 7 on one session
  });
});

describe('model instances', () => {
  it('give the bytes one session gives, for a batch split across workers (25 rows: 9 + 8 + 8) and for ones too small to split', async () => {
    const one = await ModelSet.load(DEFAULT_MODEL_DIR, ['refiner'], { intraOpThreads: 1 });
    const three = await ModelSet.load(DEFAULT_MODEL_DIR, ['refiner'], { intraOpThreads: 1, refinerInstances: 3 });
    try {
      for (const b of [25, 7, 1]) {
        const x = new Tensor(Float32Array.from({ length: b * one.itemSize }, (_, i) => Math.sin(i * 0.37)), [b, ...one.imageShape]);
        const t = Array.from({ length: b }, (_, i) => (i * 137) % 1000);
        const [a, c] = [await one.eps(x, t, x), await three.eps(x, t, x)];
        expect(c.shape).toEqual(a.shape);
        expect(Array.from(c.data)).toEqual(Array.from(a.data));
      }
    } finally {
      await Promise.all([one.release(), three.release()]);
    }
  });

  it('refuses a bad count and profiling across instances, and fails calls after release instead of hanging', async () => {
    const bytes = new Uint8Array(await import('node:fs/promises').then((fs) => fs.readFile(`${DEFAULT_MODEL_DIR}/decoder.onnx`)));
    await expect(OnnxModel.create('decoder', bytes, { instances: 0 })).rejects.toThrow(/decoder: instances must be an integer ≥ 1, got 0/);
    await expect(OnnxModel.create('decoder', bytes, { instances: 2, profileFilePrefix: 'x' })).rejects.toThrow(/profiling needs one instance/);
    await expect(OnnxModel.create('garbage', new Uint8Array([1, 2, 3]), { instances: 2 })).rejects.toBeInstanceOf(ModelError);
    const m = await OnnxModel.create('decoder', bytes, { instances: 2 });
    expect(m.instances).toBe(2);
    const z = { data: new Float32Array(16 * 32), shape: [16, 32] };
    expect((await m.run({ z })).x_hat!.shape).toEqual([16, 1, 28, 28]);
    await m.release();
    await expect(m.run({ z })).rejects.toThrow();
  });
});
