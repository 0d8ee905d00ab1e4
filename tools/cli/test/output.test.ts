import { describe, expect, it } from 'vitest';
import { decodeImage, encodePng, type Image } from '@diffusevae/image';
import { decodePngs, gridColumns, gridPng, outDirFiles, progressBar, progressLine, squeezeGray } from '../src/output.js';

const gray = (w: number, h: number, v: number): Image => ({ data: new Float32Array(w * h).fill(v), width: w, height: h, channels: 1 });

describe('grid', () => {
  it('columns about square', () => {
    expect([1, 2, 3, 4, 5, 9, 10, 64].map(gridColumns)).toEqual([1, 2, 2, 2, 3, 3, 4, 8]);
  });
  it('several images → one grid PNG with 2 px padding; one image → itself', async () => {
    const two = gridPng([gray(28, 28, 1), gray(28, 28, 0.5)]);
    const g = await decodeImage(two, { channels: 1 });
    expect([g.width, g.height]).toEqual([2 * 30 + 2, 30 + 2]);
    expect(g.data[0]).toBe(0); // padding
    expect(g.data[2 * 62 + 2]).toBe(1); // first image
    expect(g.data[2 * 62 + 32]).toBeCloseTo(128 / 255); // second
    const five = await decodeImage(gridPng(Array.from({ length: 5 }, () => gray(4, 4, 1))), { channels: 1 });
    expect([five.width, five.height]).toEqual([3 * 6 + 2, 2 * 6 + 2]);
    const one = await decodeImage(gridPng([gray(7, 5, 1)]), { channels: 1 });
    expect([one.width, one.height]).toEqual([7, 5]);
  });
  it('decoded API PNGs stay gray; colour stays colour', async () => {
    const png = encodePng(new Float32Array(9).fill(0.2), 3, 3, 1).toString('base64');
    const decoded = await decodePngs([png, png]);
    expect(decoded[0]!.channels).toBe(3);
    expect(squeezeGray(decoded).map((i) => i.channels)).toEqual([1, 1]);
    const colour: Image = { data: new Float32Array([1, 0, 0]), width: 1, height: 1, channels: 3 };
    expect(squeezeGray([colour])[0]!.channels).toBe(3);
    expect(() => gridPng([])).toThrow(/no images/);
  });
  it('out-dir names', () => {
    expect(outDirFiles('d', 2)).toEqual(['d/image-000.png', 'd/image-001.png']);
  });
});

describe('progress', () => {
  it('a bar with step/steps and ETA; plain lines for logs', () => {
    expect(progressBar({ status: 'RUNNING', step: 5, steps: 10, etaMs: 1234 }, 10)).toBe('[#####·····] 5/10 ETA 1.2s');
    expect(progressBar({ status: 'RUNNING', step: 1, steps: 4, etaMs: 125_000 }, 4)).toBe('[#···] 1/4 ETA 2m05s');
    expect(progressBar({ status: 'QUEUED', queuePosition: 3 })).toBe('queued (3 ahead)');
    expect(progressBar({ status: 'QUEUED' })).toBe('queued');
    expect(progressLine('j1', { status: 'RUNNING', step: 2, steps: 5, etaMs: 300 })).toBe('job j1: step 2/5 (ETA 0.3s)');
    expect(progressLine('j1', { status: 'SUCCEEDED' })).toBe('job j1: SUCCEEDED');
  });
});
