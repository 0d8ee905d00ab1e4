import { describe, expect, it } from 'vitest';
import { Tensor, TensorError } from '../src/index.js';

describe('Tensor', () => {
  it('rejects data that does not fit the shape', () => {
    expect(() => new Tensor(new Float32Array(5), [2, 3])).toThrow(TensorError);
    expect(() => new Tensor(new Float32Array(6), [2, -3])).toThrow(/non-negative/);
  });

  it('slices and concatenates on the batch axis', () => {
    const t = new Tensor(Float32Array.from([1, 2, 3, 4, 5, 6]), [3, 2]);
    const a = t.sliceBatch(0, 1);
    const b = t.sliceBatch(1, 3);
    expect(Array.from(b.data)).toEqual([3, 4, 5, 6]);
    expect(Tensor.concatBatch([a, b]).maxAbsDiff(t)).toBe(0);
    expect(() => Tensor.concatBatch([a, new Tensor(new Float32Array(3), [1, 3])])).toThrow(/item shape/);
  });
});
