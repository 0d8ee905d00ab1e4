import { describe, expect, it } from 'vitest';
import { DatasetError, loadFashionMnist, parseIdx } from '../src/index.js';

describe('idx', () => {
  it('parses a hand-made file', () => {
    const bytes = Uint8Array.from([0, 0, 8, 2, 0, 0, 0, 2, 0, 0, 0, 3, 1, 2, 3, 4, 5, 6]);
    expect(parseIdx(bytes)).toEqual({ dims: [2, 3], data: Uint8Array.from([1, 2, 3, 4, 5, 6]) });
  });
  it('rejects other files and truncation', () => {
    expect(() => parseIdx(Uint8Array.from([1, 2, 3, 4]))).toThrow(DatasetError);
    expect(() => parseIdx(Uint8Array.from([0, 0, 8, 1, 0, 0, 0, 5, 1, 2]))).toThrow(/promises 5 values/);
  });
  it('loads the Fashion-MNIST test split', async () => {
    const { images, labels } = await loadFashionMnist('test', { limit: 100 });
    expect(images.shape).toEqual([100, 1, 28, 28]);
    expect(labels[0]).toBe(9); // the first test image is an ankle boot
    expect(Math.max(...images.data)).toBeLessThanOrEqual(1);
  });
  it('names the folder when the data is missing', async () => {
    await expect(loadFashionMnist('test', { dir: '/nonexistent-dir' })).rejects.toThrow(/dataset-fashion-mnist/);
  });
});
