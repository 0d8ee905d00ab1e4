import { describe, expect, it } from 'vitest';
import { fromModelRange, grid, resize, toModelRange } from '../src/index.js';

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  return a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);
}

/** 2x2 block means, per channel. */
function areaDown2(data: Float32Array, w: number, h: number, c: number): Float32Array {
  const out = new Float32Array(c * (h / 2) * (w / 2));
  for (let k = 0; k < c; k++)
    for (let y = 0; y < h / 2; y++)
      for (let x = 0; x < w / 2; x++) {
        const at = (yy: number, xx: number) => data[(k * h + yy) * w + xx]!;
        out[(k * (h / 2) + y) * (w / 2) + x] = (at(2 * y, 2 * x) + at(2 * y, 2 * x + 1) + at(2 * y + 1, 2 * x) + at(2 * y + 1, 2 * x + 1)) / 4;
      }
  return out;
}

describe('model range', () => {
  it('maps [0, 1] to [-1, 1] and back', () => {
    const x = Float32Array.from([0, 0.25, 0.5, 1]);
    expect(Array.from(toModelRange(x))).toEqual([-1, -0.5, 0, 1]);
    expect(fromModelRange(toModelRange(x))).toEqual(x);
    expect(x[1]).toBe(0.25);
  });
});

describe('resize', () => {
  // Smooth two-channel test pattern.
  const [w, h, c] = [16, 12, 2];
  const smooth = Float32Array.from({ length: c * h * w }, (_, i) => {
    const x = i % w;
    const y = Math.floor(i / w) % h;
    const k = Math.floor(i / (w * h));
    return 0.5 + 0.4 * Math.sin((x + k) / 3) * Math.cos(y / 4);
  });

  it.each(['nearest', 'bilinear', 'bicubic'] as const)('keeps a constant image constant (%s)', (kernel) => {
    const img = new Float32Array(3 * 5 * 7).fill(0.37);
    for (const [nw, nh] of [[14, 10], [3, 2], [11, 4]] as const) {
      const out = resize(img, 7, 5, 3, nw, nh, kernel);
      expect(out.length).toBe(3 * nw * nh);
      expect(maxAbsDiff(out, new Float32Array(out.length).fill(0.37))).toBeLessThan(1e-6);
    }
  });

  it('samples at aligned pixel centres', () => {
    expect(Array.from(resize(Float32Array.from([0, 1]), 2, 1, 1, 4, 1, 'bilinear'))).toEqual([0, 0.25, 0.75, 1]);
    expect(Array.from(resize(Float32Array.from([0, 1]), 2, 1, 1, 4, 1, 'nearest'))).toEqual([0, 0, 1, 1]);
    // x = -0.25 takes pixels (0, 0, 0, 1) at distances (1.75, 0.75, 0.25, 1.25): only
    // w(1.25) = -0.0703125 survives, the overshoot Keys' kernel gives at an edge.
    const cubic = resize(Float32Array.from([0, 1]), 2, 1, 1, 4, 1, 'bicubic');
    expect(Array.from(cubic)).toEqual([-0.0703125, 0.203125, 0.796875, 1.0703125]);
  });

  it('2x bicubic upsample then 2x area downsample stays close', () => {
    const up = resize(smooth, w, h, c, 2 * w, 2 * h, 'bicubic');
    expect(maxAbsDiff(areaDown2(up, 2 * w, 2 * h, c), smooth)).toBeLessThan(0.01);
  });

  it('2x nearest upsample then 2x bilinear downsample is the identity', () => {
    const up = resize(smooth, w, h, c, 2 * w, 2 * h, 'nearest');
    expect(maxAbsDiff(areaDown2(up, 2 * w, 2 * h, c), smooth)).toBe(0);
    expect(maxAbsDiff(resize(up, 2 * w, 2 * h, c, w, h, 'bilinear'), smooth)).toBeLessThan(1e-7);
  });

  it('rejects mismatched sizes', () => {
    expect(() => resize(new Float32Array(5), 2, 2, 1, 4, 4)).toThrow(RangeError);
    expect(() => resize(new Float32Array(4), 2, 2, 1, 0, 4)).toThrow(/newW/);
  });
});

describe('grid', () => {
  const tile = (v: number, channels = 1) => ({ data: new Float32Array(channels * 2 * 3).fill(v), width: 3, height: 2, channels });

  it('tiles row by row with padding', () => {
    const g = grid([tile(1), tile(2), tile(3)], 2, 1, -1);
    expect([g.width, g.height, g.channels]).toEqual([2 * (3 + 1) + 1, 2 * (2 + 1) + 1, 1]);
    const rows = Array.from({ length: g.height }, (_, y) => Array.from(g.data.subarray(y * g.width, (y + 1) * g.width)));
    expect(rows).toEqual([
      [-1, -1, -1, -1, -1, -1, -1, -1, -1],
      [-1, 1, 1, 1, -1, 2, 2, 2, -1],
      [-1, 1, 1, 1, -1, 2, 2, 2, -1],
      [-1, -1, -1, -1, -1, -1, -1, -1, -1],
      [-1, 3, 3, 3, -1, -1, -1, -1, -1],
      [-1, 3, 3, 3, -1, -1, -1, -1, -1],
      [-1, -1, -1, -1, -1, -1, -1, -1, -1],
    ]);
  });

  it('keeps channel planes separate and narrows to the image count', () => {
    const a = tile(0, 3);
    a.data.fill(0.5, 6, 12); // green plane
    const g = grid([a], 4, 0);
    expect([g.width, g.height, g.channels]).toEqual([3, 2, 3]);
    expect(g.data).toEqual(a.data);
  });

  it('rejects mixed sizes and empty input', () => {
    expect(() => grid([], 2)).toThrow(RangeError);
    expect(() => grid([tile(1), tile(1, 3)], 2)).toThrow(/image 1/);
  });
});
