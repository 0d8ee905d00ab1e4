import * as ort from 'onnxruntime-node';
import { ModelError } from './manifest.js';

export type ExecutionProvider = 'cpu' | 'cuda';

export interface SessionOptions {
  executionProviders?: ExecutionProvider[];
  /** intra-op threads; 0 lets onnxruntime use every core */
  intraOpThreads?: number;
  /**
   * whether idle intra-op threads spin waiting for work (onnxruntime's default) instead of sleeping. Spinning
   * saves a wake-up per run, but on a few cores shared with other processes (the scheduler, nats-server, the
   * gateway, a trainer) the spinning threads take the CPU those need: on 2 cores it made the refiner up to 2×
   * slower. Undefined: onnxruntime's default.
   */
  allowSpinning?: boolean;
  /** onnxruntime's profiler on: a JSON trace per session, named from this prefix (see OnnxModel.endProfiling) */
  profileFilePrefix?: string;
}

export interface InputSpec {
  name: string;
  type: ort.Tensor.Type;
  shape: readonly (number | string)[];
}

/** A value to feed: float values, or integer values for integer inputs (timesteps). */
export interface Feed {
  data: Float32Array | readonly number[];
  shape: readonly number[];
}

/**
 * One onnxruntime session. Input names and dtypes come from the session's metadata, never from constants,
 * so a model exported with an int32 or float timestep runs unchanged.
 */
export class OnnxModel {
  private constructor(
    readonly label: string,
    private readonly session: ort.InferenceSession,
    readonly inputs: ReadonlyMap<string, InputSpec>,
    readonly outputNames: readonly string[],
  ) {}

  static async create(label: string, bytes: Uint8Array, opts: SessionOptions = {}): Promise<OnnxModel> {
    const session = await ort.InferenceSession.create(bytes, {
      executionProviders: opts.executionProviders ?? ['cpu'],
      intraOpNumThreads: opts.intraOpThreads ?? 0,
      graphOptimizationLevel: 'all',
      ...(opts.allowSpinning === undefined ? {} : { extra: { session: { intra_op: { allow_spinning: opts.allowSpinning ? '1' : '0' } } } }),
      ...(opts.profileFilePrefix ? { enableProfiling: true, profileFilePrefix: opts.profileFilePrefix } : {}),
    });
    const inputs = new Map<string, InputSpec>();
    for (const meta of session.inputMetadata) {
      if (!meta.isTensor) throw new ModelError('MODEL_SIGNATURE_MISMATCH', `${label}: input ${meta.name} is not a tensor`);
      inputs.set(meta.name, { name: meta.name, type: meta.type, shape: meta.shape });
    }
    return new OnnxModel(label, session, inputs, session.outputNames);
  }

  /** Fails at load, not at the first request, when the model lacks what the service feeds it. */
  expectSignature(inputs: readonly string[], outputs: readonly string[]): void {
    for (const name of inputs) {
      if (!this.inputs.has(name)) {
        throw new ModelError('MODEL_SIGNATURE_MISMATCH', `${this.label}: no input named ${name} (has ${[...this.inputs.keys()].join(', ')})`);
      }
    }
    for (const name of outputs) {
      if (!this.outputNames.includes(name)) {
        throw new ModelError('MODEL_SIGNATURE_MISMATCH', `${this.label}: no output named ${name} (has ${this.outputNames.join(', ')})`);
      }
    }
  }

  private toTensor(spec: InputSpec, feed: Feed): ort.Tensor {
    const shape = [...feed.shape];
    switch (spec.type) {
      case 'float32':
        return new ort.Tensor('float32', feed.data instanceof Float32Array ? feed.data : Float32Array.from(feed.data), shape);
      case 'int64':
        return new ort.Tensor('int64', BigInt64Array.from(Array.from(feed.data, (v) => BigInt(Math.round(v)))), shape);
      case 'int32':
        return new ort.Tensor('int32', Int32Array.from(Array.from(feed.data, (v) => Math.round(v))), shape);
      default:
        throw new ModelError('MODEL_SIGNATURE_MISMATCH', `${this.label}: input ${spec.name} has unsupported type ${spec.type}`);
    }
  }

  async run(feeds: Record<string, Feed>): Promise<Record<string, { data: Float32Array; shape: number[] }>> {
    const ortFeeds: Record<string, ort.Tensor> = {};
    for (const [name, spec] of this.inputs) {
      const feed = feeds[name];
      if (!feed) throw new ModelError('MODEL_SIGNATURE_MISMATCH', `${this.label}: missing input ${name}`);
      ortFeeds[name] = this.toTensor(spec, feed);
    }
    const out = await this.session.run(ortFeeds);
    const result: Record<string, { data: Float32Array; shape: number[] }> = {};
    for (const name of this.outputNames) {
      const t = out[name]!;
      result[name] = { data: t.data as Float32Array, shape: t.dims.map(Number) };
    }
    return result;
  }

  /** Ends onnxruntime's profiling (profileFilePrefix): the trace is written to <prefix>_<date>.json. */
  endProfiling(): void {
    this.session.endProfiling();
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}
