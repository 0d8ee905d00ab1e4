import { PlatformError, type TensorMap, type WireDtype } from '@diffusevae/contracts';
import { Tensor } from '@diffusevae/tensor';

/**
 * Request checks every endpoint shares. Each failure is BAD_USER_INPUT naming the tensor or parameter,
 * so that one bad request never reaches onnxruntime (where it would fail a whole merged batch).
 */

/** The params header as an object (absent params are {}). */
export function paramsObject(params: unknown): Record<string, unknown> {
  if (params === undefined || params === null) return {};
  if (typeof params !== 'object' || Array.isArray(params)) throw PlatformError.badInput('params', 'must be a JSON object');
  return params as Record<string, unknown>;
}

/** An optional integer parameter in [min, max]. */
export function intParam(params: Record<string, unknown>, name: string, min: number, max: number): number | undefined {
  const v = params[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw PlatformError.badInput(name, `must be an integer in [${min}, ${max}], got ${JSON.stringify(v)}`);
  }
  return v;
}

/** A noise seed: an integer in [0, 2^53 − 1] (see @diffusevae/rng). */
export function seedParam(params: Record<string, unknown>, name = 'seed'): number | undefined {
  return intParam(params, name, 0, Number.MAX_SAFE_INTEGER);
}

/** Index of a request's first sample within its job: noise is keyed by a 32-bit sample index. */
export function firstSampleParam(params: Record<string, unknown>, batch: number): number {
  return intParam(params, 'firstSample', 0, 2 ** 32 - batch) ?? 0;
}

export interface TensorSpec {
  dtype: WireDtype;
  /** the shape of one item (after the batch axis) */
  itemShape: readonly number[];
  /** the batch it must have (another tensor's), when known */
  batch?: number;
}

const fmt = (shape: readonly (number | string)[]) => `[${shape.join(', ')}]`;

/** The tensor `name` with shape [B, ...itemShape], B ≥ 1; float32 values must be finite. */
export function requireTensor(tensors: TensorMap, name: string, spec: TensorSpec): { data: Float32Array | Int32Array; batch: number } {
  const t = tensors[name];
  const expected = fmt([spec.batch ?? 'B', ...spec.itemShape]);
  if (!t) throw PlatformError.badInput(name, `missing: expected a ${spec.dtype} tensor of shape ${expected}`);
  if (t.dtype !== spec.dtype) throw PlatformError.badInput(name, `must be ${spec.dtype}, got ${t.dtype}`);
  const [batch = 0, ...item] = t.shape;
  if (t.shape.length !== spec.itemShape.length + 1 || item.some((d, i) => d !== spec.itemShape[i]) || batch < 1 || (spec.batch !== undefined && batch !== spec.batch)) {
    throw PlatformError.badInput(name, `has shape ${fmt(t.shape)}, expected ${expected}${spec.batch === undefined ? ' with B ≥ 1' : ''}`);
  }
  if (t.data instanceof Float32Array) {
    const i = t.data.findIndex((v) => !Number.isFinite(v));
    if (i >= 0) throw PlatformError.badInput(name, `value ${i} is ${t.data[i]}; every value must be finite`);
  }
  return { data: t.data, batch };
}

/** A float32 tensor as a Tensor (requireTensor's checks included). */
export function requireFloat(tensors: TensorMap, name: string, itemShape: readonly number[], batch?: number): Tensor {
  const { data, batch: b } = requireTensor(tensors, name, { dtype: 'float32', itemShape, ...(batch !== undefined ? { batch } : {}) });
  return new Tensor(data as Float32Array, [b, ...itemShape]);
}
