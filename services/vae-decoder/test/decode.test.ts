import { PlatformError, float32, type TensorMap } from '@diffusevae/contracts';
import { ModelSet } from '@diffusevae/models';
import { loadConfig } from '@diffusevae/service-kit';
import { Tensor } from '@diffusevae/tensor';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeHandler } from '../src/decode.js';

// The handler alone, on the real decoder in-process: no NATS.
let models: ModelSet;
beforeAll(async () => {
  models = await ModelSet.load(loadConfig().modelDir, ['decoder'], { intraOpThreads: 1 });
});
afterAll(() => models?.release());

const call = (tensors: TensorMap) => decodeHandler(models)({ tensors, params: undefined, header: () => undefined });

describe('decodeHandler', () => {
  it('returns the decoder output x̂ [B, C, H, W]', async () => {
    const dim = models.manifest.latent.dim;
    const z = Float32Array.from({ length: 3 * dim }, (_, i) => Math.sin(i));
    const out = await call({ z: float32(z, [3, dim]) });
    expect(out.x_hat!.shape).toEqual([3, ...models.imageShape]);
    expect(out.x_hat!.data).toEqual((await models.decode(new Tensor(z, [3, dim]))).data);
  });

  it.each([
    ['a missing z', {}, /z: missing: expected a float32 tensor of shape \[B, 32\]/],
    ['a wrong latent size', { z: float32(new Float32Array(31), [1, 31]) }, /z: has shape \[1, 31\], expected \[B, 32\]/],
    ['a flat z', { z: float32(new Float32Array(32), [32]) }, /z: has shape \[32\]/],
    ['a NaN', { z: float32(new Float32Array(32).fill(Number.NaN), [1, 32]) }, /z: value 0 is NaN/],
  ])('rejects %s as BAD_USER_INPUT naming z', async (_, tensors, message) => {
    const err = await call(tensors as TensorMap).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PlatformError);
    expect(err).toMatchObject({ code: 'BAD_USER_INPUT', field: 'z' });
    expect((err as Error).message).toMatch(message);
  });
});
