import { availableParallelism } from 'node:os';
import * as ort from 'onnxruntime-node';
import { InstancePool, MIN_ROWS_PER_INSTANCE, type WireTensor } from './instances.js';
import { ModelError } from './manifest.js';

export type ExecutionProvider = 'cpu' | 'cuda';

export interface SessionOptions {
  executionProviders?: ExecutionProvider[];
  /** intra-op threads (of each instance); 0 lets onnxruntime use every core, or its share of them with `instances` */
  intraOpThreads?: number;
  /**
   * model instances: sessions in worker threads of their own, a batch split across them (instances.ts). 1 (the
   * default): one session on the calling thread.
   */
  instances?: number;
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
    /** the network on the calling thread, on every core: small batches, and everything with one instance */
    private readonly session: ort.InferenceSession,
    /** with `instances` > 1: batches of at least MIN_ROWS_PER_INSTANCE rows per instance are split across these */
    private readonly pool: InstancePool | undefined,
    readonly inputs: ReadonlyMap<string, InputSpec>,
    readonly outputNames: readonly string[],
  ) {}

  /** how many sessions share a large batch (`instances`) */
  get instances(): number {
    return this.pool?.size ?? 1;
  }

  static async create(label: string, bytes: Uint8Array, opts: SessionOptions = {}): Promise<OnnxModel> {
    const instances = opts.instances ?? 1;
    if (!Number.isInteger(instances) || instances < 1) throw new ModelError('MANIFEST_INVALID', `${label}: instances must be an integer ≥ 1, got ${instances}`);
    if (instances > 1 && opts.profileFilePrefix) throw new ModelError('MANIFEST_INVALID', `${label}: profiling needs one instance (its trace is the session's)`);
    const options = (threads: number): ort.InferenceSession.SessionOptions => ({
      executionProviders: opts.executionProviders ?? ['cpu'],
      intraOpNumThreads: threads,
      graphOptimizationLevel: 'all',
      ...(opts.allowSpinning === undefined ? {} : { extra: { session: { intra_op: { allow_spinning: opts.allowSpinning ? '1' : '0' } } } }),
      ...(opts.profileFilePrefix ? { enableProfiling: true, profileFilePrefix: opts.profileFilePrefix } : {}),
    });
    const session = await ort.InferenceSession.create(bytes, options(opts.intraOpThreads ?? 0)).catch((e: unknown) => {
      throw new ModelError('MODEL_SIGNATURE_MISMATCH', `${label}: onnxruntime could not load it (${(e as Error).message})`);
    });
    let pool: InstancePool | undefined;
    if (instances > 1) {
      // the instances share the threads one session would have: ORT_THREADS, or every core
      const threads = Math.max(1, Math.floor((opts.intraOpThreads || availableParallelism()) / instances));
      pool = await InstancePool.create(label, bytes, options(threads), instances).catch(async (e: unknown) => {
        await session.release();
        throw e;
      });
    }
    const inputs = new Map<string, InputSpec>();
    for (const meta of session.inputMetadata) {
      if (!meta.isTensor) throw new ModelError('MODEL_SIGNATURE_MISMATCH', `${label}: input ${meta.name} is not a tensor`);
      inputs.set(meta.name, { name: meta.name, type: meta.type, shape: meta.shape });
    }
    return new OnnxModel(label, session, pool, inputs, session.outputNames);
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

  private toWire(spec: InputSpec, feed: Feed): WireTensor {
    const dims = [...feed.shape];
    switch (spec.type) {
      case 'float32':
        return { type: 'float32', data: feed.data instanceof Float32Array ? feed.data : Float32Array.from(feed.data), dims };
      case 'int64':
        return { type: 'int64', data: BigInt64Array.from(Array.from(feed.data, (v) => BigInt(Math.round(v)))), dims };
      case 'int32':
        return { type: 'int32', data: Int32Array.from(Array.from(feed.data, (v) => Math.round(v))), dims };
      default:
        throw new ModelError('MODEL_SIGNATURE_MISMATCH', `${this.label}: input ${spec.name} has unsupported type ${spec.type}`);
    }
  }

  async run(feeds: Record<string, Feed>): Promise<Record<string, { data: Float32Array; shape: number[] }>> {
    const wire: Record<string, WireTensor> = {};
    for (const [name, spec] of this.inputs) {
      const feed = feeds[name];
      if (!feed) throw new ModelError('MODEL_SIGNATURE_MISMATCH', `${this.label}: missing input ${name}`);
      wire[name] = this.toWire(spec, feed);
    }
    let out: Record<string, { data: unknown; dims: readonly number[] }>;
    const rows = Object.values(wire)[0]?.dims[0] ?? 0;
    if (this.pool && rows >= MIN_ROWS_PER_INSTANCE * this.pool.size) out = await this.pool.run(wire);
    else {
      const ortFeeds = Object.fromEntries(Object.entries(wire).map(([name, t]) => [name, new ort.Tensor(t.type, t.data, t.dims)]));
      out = await this.session.run(ortFeeds);
    }
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
    await Promise.all([this.session.release(), this.pool?.release()]);
  }
}
