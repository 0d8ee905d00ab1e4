import { PlatformError, float32 } from '@diffusevae/contracts';
import type { ModelSet } from '@diffusevae/models';
import { requireFloat, requireTensor, type EndpointHandler } from '@diffusevae/service-kit';
import { Tensor } from '@diffusevae/tensor';
import type { Batcher } from './batcher.js';

/** One request's share of a merged batch. */
export interface EpsInput {
  xT: Tensor;
  /** per sample: the timestep t (discrete sets) or the noise level √ᾱ (continuous sets) */
  levels: Int32Array | Float32Array;
  cond: Tensor;
}

export type EpsBatcher = Batcher<EpsInput, Float32Array>;

/** What the endpoint needs of a model set (a ModelSet loaded with the refiner role). */
export type RefinerModel = Pick<ModelSet, 'imageShape' | 'manifest' | 'noiseConditioning' | 'eps'>;

/**
 * The batcher's run: concatenate the requests on the batch axis, one ε_θ call, split the output back.
 * `onInference` is told how long the onnxruntime call itself took (ms), when it succeeded.
 */
export function epsRunner(model: Pick<ModelSet, 'eps'>, onInference?: (ms: number) => void): (inputs: EpsInput[]) => Promise<Float32Array[]> {
  const join = (parts: Tensor[]) => (parts.length === 1 ? parts[0]! : Tensor.concatBatch(parts));
  return async (inputs) => {
    const levels = inputs.flatMap((i) => Array.from(i.levels));
    const x = join(inputs.map((i) => i.xT));
    const cond = join(inputs.map((i) => i.cond));
    const started = performance.now();
    const eps = await model.eps(x, levels, cond);
    onInference?.(performance.now() - started);
    if (inputs.length === 1) return [eps.data]; // the scheduler's whole tick in one request: nothing to split
    let first = 0;
    return inputs.map((i) => {
      const part = eps.data.slice(first * eps.itemSize, (first + i.xT.batch) * eps.itemSize);
      first += i.xT.batch;
      return part;
    });
  };
}

/**
 * eps: { x_t: [B, C, H, W], t: int32 [B] in [0, T − 1] (discrete sets) or noise_level: float32 [B] in (0, 1]
 * (continuous sets: √ᾱ), cond: [B, C, H, W] } → { eps: [B, C, H, W] }.
 * Everything is checked here, before the batcher: a bad request must not fail the others merged with it.
 */
export function epsHandler(batcher: EpsBatcher, model: Pick<RefinerModel, 'imageShape' | 'manifest' | 'noiseConditioning'>): EndpointHandler {
  const T = model.manifest.schedule.numTrainTimesteps;
  const continuous = model.noiseConditioning === 'continuous';
  return async ({ tensors }) => {
    const xT = requireFloat(tensors, 'x_t', model.imageShape);
    const cond = requireFloat(tensors, 'cond', model.imageShape, xT.batch);
    let levels: Int32Array | Float32Array;
    if (continuous) {
      if (tensors.t) throw PlatformError.badInput('t', `model set ${model.manifest.name} is conditioned on the noise level: send noise_level (float32 √ᾱ in (0, 1]), not t`);
      levels = requireTensor(tensors, 'noise_level', { dtype: 'float32', itemShape: [], batch: xT.batch }).data as Float32Array;
      const bad = levels.findIndex((v) => !(v > 0 && v <= 1));
      if (bad >= 0) throw PlatformError.badInput('noise_level', `noise_level[${bad}] is ${levels[bad]}; noise levels √ᾱ must be in (0, 1]`);
    } else {
      if (tensors.noise_level) throw PlatformError.badInput('noise_level', `model set ${model.manifest.name} is conditioned on the timestep: send t (int32 in [0, ${T - 1}]), not noise_level`);
      levels = requireTensor(tensors, 't', { dtype: 'int32', itemShape: [], batch: xT.batch }).data as Int32Array;
      const bad = levels.findIndex((v) => v < 0 || v > T - 1);
      if (bad >= 0) throw PlatformError.badInput('t', `t[${bad}] is ${levels[bad]}; timesteps must be in [0, ${T - 1}]`);
    }
    const eps = await batcher.submit({ xT, levels, cond }, xT.batch);
    return { eps: float32(eps, xT.shape) };
  };
}
