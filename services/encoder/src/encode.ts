import { float32, type TensorMap } from '@diffusevae/contracts';
import type { ModelSet } from '@diffusevae/models';
import { Purpose, batchNormals } from '@diffusevae/rng';
import { firstSampleParam, paramsObject, requireFloat, seedParam, type EndpointHandler } from '@diffusevae/service-kit';
import type { Tensor } from '@diffusevae/tensor';

/** What the endpoint needs of a model set (a ModelSet loaded with the encoder role). */
export type EncoderModel = Pick<ModelSet, 'imageShape' | 'encode'>;

/**
 * z = μ + σ · ε with σ = exp(½ log σ²) (the reparameterisation, Kingma & Welling 2014, eq. 10) and ε keyed by
 * (seed, sample index, Purpose.posterior): a sample's z does not depend on what it was batched with.
 */
export function posteriorSample(mu: Tensor, logvar: Tensor, seed: number, firstSample = 0): Float32Array {
  const [batch = 0, dim = 0] = mu.shape;
  const z = batchNormals(seed, Purpose.posterior, 0, batch, dim, firstSample);
  for (let i = 0; i < z.length; i++) z[i] = mu.data[i]! + Math.exp(0.5 * logvar.data[i]!) * z[i]!;
  return z;
}

/** encode: { x: [B, C, H, W] }, params { seed?, firstSample? } → { mu, logvar, z? } (see contracts/messages.ts). */
export function encodeHandler(model: EncoderModel): EndpointHandler {
  return async ({ tensors, params }) => {
    const p = paramsObject(params);
    const x = requireFloat(tensors, 'x', model.imageShape);
    const seed = seedParam(p);
    const firstSample = firstSampleParam(p, x.batch);
    const { mu, logvar } = await model.encode(x);
    const out: TensorMap = { mu: float32(mu.data, mu.shape), logvar: float32(logvar.data, logvar.shape) };
    if (seed !== undefined) out.z = float32(posteriorSample(mu, logvar, seed, firstSample), mu.shape);
    return out;
  };
}
