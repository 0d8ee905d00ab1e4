import { describe, expect, it } from 'vitest';
import { HEADERS, PlatformError, decodeMessage, encodeMessage, float32, int32, maxItemsPerMessage } from '../src/index.js';

const asHeaders = (h: Record<string, string>) => ({ get: (k: string) => h[k] });

describe('wire format', () => {
  it('round-trips tensors and params as raw bytes', () => {
    const x = float32(Float32Array.from([1.5, -2, 3.25, Number.NaN, 0, 7]), [2, 3]);
    const t = int32([0, 999]);
    const msg = encodeMessage({ x_t: x, t }, { seed: 42 });
    expect(msg.body.byteLength).toBe(6 * 4 + 2 * 4);
    expect(msg.headers[HEADERS.tensors]).toBe('x_t:float32:2x3;t:int32:2');
    const back = decodeMessage(asHeaders(msg.headers), msg.body);
    expect(Array.from(back.tensors.x_t!.data)).toEqual(Array.from(x.data));
    expect(back.tensors.x_t!.shape).toEqual([2, 3]);
    expect(Array.from(back.tensors.t!.data)).toEqual([0, 999]);
    expect(back.params).toEqual({ seed: 42 });
  });

  it('decodes from an unaligned offset', () => {
    const msg = encodeMessage({ a: float32(Float32Array.from([1, 2]), [2]) });
    const padded = new Uint8Array(msg.body.length + 1);
    padded.set(msg.body, 1);
    expect(Array.from(decodeMessage(asHeaders(msg.headers), padded.subarray(1)).tensors.a!.data)).toEqual([1, 2]);
  });

  it('decodes from a Node Buffer that is a view into a larger pool', () => {
    const msg = encodeMessage({ a: float32(Float32Array.from([1, 2, 3]), [3]) });
    const pool = Buffer.alloc(64, 7);
    pool.set(msg.body, 5);
    const a = decodeMessage(asHeaders(msg.headers), pool.subarray(5, 5 + msg.body.length)).tensors.a!;
    expect(a.data.length).toBe(3);
    expect(Array.from(a.data)).toEqual([1, 2, 3]);
  });

  it.each([
    ['a truncated body', { [HEADERS.tensors]: 'x:float32:2x3' }, 20, /body has 20 bytes left, shape needs 24/],
    ['extra bytes', { [HEADERS.tensors]: 'x:float32:1' }, 8, /beyond the tensors/],
    ['an unknown dtype', { [HEADERS.tensors]: 'x:float64:1' }, 8, /bad tensor header entry/],
    ['a bad shape', { [HEADERS.tensors]: 'x:float32:2x-1' }, 0, /bad shape/],
    ['params that are not JSON', { [HEADERS.params]: '{' }, 0, /not JSON/],
  ])('rejects %s as BAD_USER_INPUT', (_, headers, n, msg) => {
    const err = (() => {
      try {
        decodeMessage(asHeaders(headers), new Uint8Array(n));
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(PlatformError);
    expect((err as PlatformError).code).toBe('BAD_USER_INPUT');
    expect((err as PlatformError).message).toMatch(msg);
  });

  it('sizes batches under max_payload', () => {
    expect(maxItemsPerMessage(1024 * 1024, 2 * 784 * 4)).toBe(166);
  });
});
