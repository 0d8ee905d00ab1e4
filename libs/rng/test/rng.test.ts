import { describe, expect, it } from 'vitest';
import { Purpose, RngError, batchNormals, normals, philox4x32 } from '../src/index.js';

describe('philox4x32-10', () => {
  // Known-answer vectors from Random123's kat_vectors (philox4x32 10 rounds).
  const kat: [number[], number[], number[]][] = [
    [[0, 0, 0, 0], [0, 0], [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8]],
    [[0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff], [0xffffffff, 0xffffffff], [0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd]],
    [[0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344], [0xa4093822, 0x299f31d0], [0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1]],
  ];
  it.each(kat)('matches the known answer for counter %j', (ctr, key, expected) => {
    const out = new Uint32Array(4);
    philox4x32(ctr[0]!, ctr[1]!, ctr[2]!, ctr[3]!, key[0]!, key[1]!, out);
    expect(Array.from(out)).toEqual(expected);
  });
});

describe('normals', () => {
  it('is a pure function of the key', () => {
    const key = { seed: 42, sample: 3, purpose: Purpose.step, step: 7 };
    expect(normals(key, 101)).toEqual(normals(key, 101));
    expect(normals(key, 5)).toEqual(normals(key, 101).subarray(0, 5));
    expect(normals({ ...key, step: 8 }, 5)).not.toEqual(normals(key, 5));
    expect(normals({ ...key, sample: 4 }, 5)).not.toEqual(normals(key, 5));
    expect(normals({ ...key, seed: 2 ** 40 + 42 }, 5)).not.toEqual(normals(key, 5));
  });

  it('gives a sample its own numbers whatever the batch around it', () => {
    const all = batchNormals(9, Purpose.start, 0, 4, 16);
    const third = batchNormals(9, Purpose.start, 0, 1, 16, 2);
    expect(third).toEqual(all.subarray(32, 48));
  });

  it('is standard normal', () => {
    const x = normals({ seed: 1, sample: 0, purpose: Purpose.latent, step: 0 }, 200_000);
    let m = 0;
    let v = 0;
    for (const a of x) m += a;
    m /= x.length;
    for (const a of x) v += (a - m) ** 2;
    v /= x.length;
    expect(Math.abs(m)).toBeLessThan(0.01);
    expect(Math.abs(v - 1)).toBeLessThan(0.01);
    const tail = x.filter((a) => Math.abs(a) > 1.96).length / x.length;
    expect(Math.abs(tail - 0.05)).toBeLessThan(0.003);
  });

  it('rejects seeds that are not non-negative safe integers, naming the field', () => {
    expect(() => normals({ seed: -1, sample: 0, purpose: Purpose.latent, step: 0 }, 1)).toThrow(RngError);
    expect(() => normals({ seed: 1.5, sample: 0, purpose: Purpose.latent, step: 0 }, 1)).toThrow(/seed: must be an integer/);
  });
});
