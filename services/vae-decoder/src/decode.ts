import { float32 } from '@diffusevae/contracts';
import type { ModelSet } from '@diffusevae/models';
import { requireFloat, type EndpointHandler } from '@diffusevae/service-kit';

/** What the endpoint needs of a model set (a ModelSet loaded with the decoder role). */
export type DecoderModel = Pick<ModelSet, 'manifest' | 'decode'>;

/** decode: { z: [B, Z] } → { x_hat: [B, C, H, W] in [−1, 1] }. */
export function decodeHandler(model: DecoderModel): EndpointHandler {
  return async ({ tensors }) => {
    const z = requireFloat(tensors, 'z', [model.manifest.latent.dim]);
    const xHat = await model.decode(z);
    return { x_hat: float32(xHat.data, xHat.shape) };
  };
}
