import { describe, expect, it } from 'vitest';
import { checkCheckpointKey, checkpointFingerprint, checkpointKey, decodeCheckpoint, encodeCheckpoint, type CheckpointMeta } from '../src/index.js';

const meta: CheckpointMeta = { steps: 50, count: 2, itemSize: 3, fingerprint: 'abc' };
const sample = Float32Array.from([0.5, -1, 1e-7, Math.PI, -0, 7]);

describe('checkpoint values', () => {
  it('round-trip y_t and the step index bit for bit', () => {
    const back = decodeCheckpoint(encodeCheckpoint(meta, { stepIndex: 17, sample }), meta)!;
    expect(back.stepIndex).toBe(17);
    expect(Buffer.from(back.sample.buffer).equals(Buffer.from(sample.buffer))).toBe(true);
    expect(back.history).toBeUndefined();
  });

  it('round-trip a multistep solver’s history with it, bit for bit; a torn one is no checkpoint', () => {
    const history = Float32Array.from([1, 2, 3, -4, 5e-8, -6]);
    const bytes = encodeCheckpoint(meta, { stepIndex: 3, sample, history });
    const back = decodeCheckpoint(bytes, meta)!;
    expect(back.stepIndex).toBe(3);
    expect(Buffer.from(back.sample.buffer).equals(Buffer.from(sample.buffer))).toBe(true);
    expect(Buffer.from(back.history!.buffer).equals(Buffer.from(history.buffer))).toBe(true);
    expect(decodeCheckpoint(bytes.subarray(0, bytes.length - 4), meta)).toBeUndefined();
    expect(() => encodeCheckpoint(meta, { stepIndex: 3, sample, history: new Float32Array(2) })).toThrow(/history of 2 values for 6/);
  });

  it.each([
    ['another request (fingerprint)', { fingerprint: 'abd' }],
    ['another step count', { steps: 51 }],
    ['another batch', { count: 3 }],
  ])('are ignored for %s', (_, other) => {
    expect(decodeCheckpoint(encodeCheckpoint(meta, { stepIndex: 1, sample }), { ...meta, ...other })).toBeUndefined();
  });

  it('are ignored when torn or not ours', () => {
    const bytes = encodeCheckpoint(meta, { stepIndex: 1, sample });
    expect(decodeCheckpoint(bytes.subarray(0, bytes.length - 1), meta)).toBeUndefined();
    expect(decodeCheckpoint(Buffer.from('hello'), meta)).toBeUndefined();
    expect(decodeCheckpoint(new Uint8Array(2), meta)).toBeUndefined();
  });

  it('refuse a sample of the wrong size', () => {
    expect(() => encodeCheckpoint(meta, { stepIndex: 1, sample: new Float32Array(5) })).toThrow(/5 values for 2 × 3/);
  });
});

describe('checkpoint keys and fingerprints', () => {
  it('keys are <job id>.<first sample>; anything else is BAD_USER_INPUT naming checkpoint', () => {
    expect(checkpointKey('0b7e5a52-3c1e-4a57-9a8e-2f0c8d9e1a64', 64)).toBe('0b7e5a52-3c1e-4a57-9a8e-2f0c8d9e1a64.64');
    for (const bad of ['a.b.c', 'x'.repeat(65) + '.0', 'job.>', 'job', 'jo b.1']) {
      expect(() => checkCheckpointKey(bad)).toThrow(expect.objectContaining({ code: 'BAD_USER_INPUT', field: 'checkpoint' }));
    }
  });

  it('a fingerprint changes with the seed, the samples, the sampler and the conditioning', () => {
    const base = { seed: 1, firstSample: 0, sampler: { steps: 10 } };
    const cond = new Float32Array([1, 2, 3]);
    const f = checkpointFingerprint(base, cond);
    expect(checkpointFingerprint(base, Float32Array.from(cond))).toBe(f);
    expect(checkpointFingerprint({ ...base, seed: 2 }, cond)).not.toBe(f);
    expect(checkpointFingerprint({ ...base, firstSample: 8 }, cond)).not.toBe(f);
    expect(checkpointFingerprint({ ...base, sampler: { steps: 11 } }, cond)).not.toBe(f);
    expect(checkpointFingerprint(base, new Float32Array([1, 2, 4]))).not.toBe(f);
  });
});
