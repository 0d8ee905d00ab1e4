import { PlatformError, float32, int32, type TensorMap } from '@diffusevae/contracts';
import { ModelSet } from '@diffusevae/models';
import { Purpose, batchNormals } from '@diffusevae/rng';
import { loadConfig } from '@diffusevae/service-kit';
import { Tensor } from '@diffusevae/tensor';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeHandler } from '../src/encode.js';

// The handler alone, on the real encoder in-process: no NATS.
let models: ModelSet;
beforeAll(async () => {
  models = await ModelSet.load(loadConfig().modelDir, ['encoder'], { intraOpThreads: 1 });
});
afterAll(() => models?.release());

const images = (n: number) => {
  const [c, h, w] = models.imageShape;
  return float32(Float32Array.from({ length: n * c * h * w }, (_, i) => Math.sin(i * 0.37)), [n, c, h, w]);
};
const call = (tensors: TensorMap, params?: unknown) => encodeHandler(models)({ tensors, params, header: () => undefined });

describe('encodeHandler', () => {
  it('returns μ and log σ² of the encoder', async () => {
    const x = images(3);
    const out = await call({ x });
    const ref = await models.encode(new Tensor(x.data as Float32Array, x.shape));
    expect(out.mu!.shape).toEqual([3, models.manifest.latent.dim]);
    expect(out.mu!.data).toEqual(ref.mu.data);
    expect(out.logvar!.data).toEqual(ref.logvar.data);
    expect(out.z).toBeUndefined();
  });

  it('samples z = μ + σ ε with ε keyed by seed and sample index, whatever the batch', async () => {
    const zDim = models.manifest.latent.dim;
    const all = await call({ x: images(3) }, { seed: 7 });
    const eps = batchNormals(7, Purpose.posterior, 0, 3, zDim);
    for (let i = 0; i < 3 * zDim; i++) {
      expect(all.z!.data[i]).toBeCloseTo(all.mu!.data[i]! + Math.exp(0.5 * all.logvar!.data[i]!) * eps[i]!, 5);
    }
    const x3 = (images(3).data as Float32Array).slice(2 * models.itemSize);
    const alone = await call({ x: float32(x3, [1, ...models.imageShape]) }, { seed: 7, firstSample: 2 });
    for (let j = 0; j < zDim; j++) expect(alone.z!.data[j]).toBeCloseTo(all.z!.data[2 * zDim + j]!, 5);
  });

  it.each([
    ['a missing x', {}, undefined, 'x', /x: missing: expected a float32 tensor of shape \[B, 1, 28, 28\]/],
    ['a wrong image size', { x: float32(new Float32Array(2 * 27 * 28), [2, 1, 27, 28]) }, undefined, 'x', /x: has shape \[2, 1, 27, 28\], expected \[B, 1, 28, 28\]/],
    ['an empty batch', { x: float32(new Float32Array(0), [0, 1, 28, 28]) }, undefined, 'x', /B ≥ 1/],
    ['int32 images', { x: int32(new Int32Array(784), [1, 1, 28, 28]) }, undefined, 'x', /x: must be float32/],
    ['a NaN', { x: float32(new Float32Array(784).fill(Number.NaN), [1, 1, 28, 28]) }, undefined, 'x', /x: value 0 is NaN/],
    ['an infinity', { x: float32(new Float32Array(784).fill(Number.POSITIVE_INFINITY), [1, 1, 28, 28]) }, undefined, 'x', /Infinity/],
    ['a negative seed', { x: float32(new Float32Array(784), [1, 1, 28, 28]) }, { seed: -1 }, 'seed', /seed: must be an integer/],
    ['a fractional firstSample', { x: float32(new Float32Array(784), [1, 1, 28, 28]) }, { seed: 1, firstSample: 0.5 }, 'firstSample', /firstSample/],
    ['params that are not an object', { x: float32(new Float32Array(784), [1, 1, 28, 28]) }, [1], 'params', /params: must be a JSON object/],
  ])('rejects %s as BAD_USER_INPUT naming the field', async (_, tensors, params, field, message) => {
    const err = await call(tensors as TensorMap, params).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PlatformError);
    expect(err).toMatchObject({ code: 'BAD_USER_INPUT', field });
    expect((err as Error).message).toMatch(message);
  });
});
