/**
 * Model instances (Triton's `instance_group { count: N }`): N onnxruntime sessions of one network, each in a worker
 * thread of its own, and a large batch split across them on its first axis (OnnxModel keeps a session with every
 * core on its own thread for small ones). onnxruntime-node runs a session's inference on
 * the calling thread, so two sessions in one thread take turns; in workers they run at once. On a few cores, N
 * single-threaded instances keep every core busy through the operators that onnxruntime runs on one thread
 * (normalisation, reorders between layouts), where one session with N intra-op threads leaves the others idle
 * (docs/efficiency.md has the measurement).
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type * as ort from 'onnxruntime-node';
import { ModelError } from './manifest.js';

/** A tensor as onnxruntime takes it, and plain enough to post to a worker. */
export interface WireTensor {
  type: 'float32' | 'int64' | 'int32';
  data: Float32Array | BigInt64Array | Int32Array;
  dims: number[];
}

export interface InstanceMetadata {
  inputs: readonly ort.InferenceSession.ValueMetadata[];
  outputNames: readonly string[];
}

/**
 * The worker's program. It is evaluated from this string (not loaded from a file) so that it travels inside the
 * esbuild bundles of the services; it loads onnxruntime-node from the path the main thread resolved.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const ort = require(workerData.ort);
(async () => {
  const session = await ort.InferenceSession.create(workerData.bytes, workerData.options);
  parentPort.on('message', async (msg) => {
    if (msg.release) { await session.release(); parentPort.postMessage({ released: true }); return; }
    try {
      const feeds = {};
      for (const [name, t] of Object.entries(msg.feeds)) feeds[name] = new ort.Tensor(t.type, t.data, t.dims);
      const out = await session.run(feeds);
      const result = {};
      const transfer = [];
      for (const [name, t] of Object.entries(out)) {
        const data = t.data.slice();
        result[name] = { type: t.type, data, dims: t.dims.map(Number) };
        transfer.push(data.buffer);
      }
      parentPort.postMessage({ id: msg.id, result }, transfer);
    } catch (e) {
      parentPort.postMessage({ id: msg.id, error: String((e && e.message) || e) });
    }
  });
  parentPort.postMessage({ ready: { inputs: session.inputMetadata, outputNames: session.outputNames } });
})().catch((e) => parentPort.postMessage({ fatal: String((e && e.message) || e) }));
`;

type Reply = { id: number; result?: Record<string, WireTensor>; error?: string };

class Instance {
  private next = 0;
  private readonly pending = new Map<number, { resolve(r: Record<string, WireTensor>): void; reject(e: Error): void }>();
  private failure: Error | undefined;

  private constructor(
    private readonly label: string,
    private readonly worker: Worker,
  ) {
    worker.on('message', (m: Reply) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (m.error !== undefined) p.reject(new Error(`${label}: ${m.error}`));
      else p.resolve(m.result!);
    });
    const fail = (e: Error) => {
      this.failure ??= new ModelError('MODEL_SIGNATURE_MISMATCH', `${label}: its worker thread ended (${e.message})`);
      for (const p of this.pending.values()) p.reject(this.failure);
      this.pending.clear();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`exit code ${code}`)));
  }

  static start(label: string, bytes: Uint8Array, options: ort.InferenceSession.SessionOptions): Promise<{ instance: Instance; meta: InstanceMetadata }> {
    const ortPath = createRequire(import.meta.url).resolve('onnxruntime-node');
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { ort: ortPath, bytes, options } });
    return new Promise((resolve, reject) => {
      const onError = (e: Error) => reject(new ModelError('MODEL_SIGNATURE_MISMATCH', `${label}: ${e.message}`));
      worker.once('error', onError);
      worker.once('message', (m: { ready?: InstanceMetadata; fatal?: string }) => {
        worker.off('error', onError);
        if (m.fatal !== undefined) {
          void worker.terminate();
          reject(new ModelError('MODEL_SIGNATURE_MISMATCH', `${label}: onnxruntime could not load it (${m.fatal})`));
        } else resolve({ instance: new Instance(label, worker), meta: m.ready! });
      });
    });
  }

  run(feeds: Record<string, WireTensor>): Promise<Record<string, WireTensor>> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.next++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ id, feeds });
    });
  }

  async release(): Promise<void> {
    if (!this.failure) {
      await new Promise<void>((resolve) => {
        this.worker.once('message', () => resolve());
        this.worker.once('exit', () => resolve());
        this.worker.postMessage({ release: true });
      });
    }
    this.failure ??= new ModelError('MODEL_SIGNATURE_MISMATCH', `${this.label}: released`);
    await this.worker.terminate();
  }
}

/**
 * The least rows an instance gets: smaller batches run on one session with every core (OnnxModel), since a
 * single-threaded instance is slower than that on a batch too small to share (at batch 1, 18.6 against 12.2 ms).
 */
export const MIN_ROWS_PER_INSTANCE = 8;

/** How a batch of `batch` rows is shared among `instances`: as evenly as can be, no part empty. */
export function splitBatch(batch: number, instances: number): number[] {
  const parts = Math.max(1, Math.min(instances, batch));
  const base = Math.floor(batch / parts);
  return Array.from({ length: parts }, (_, i) => base + (i < batch % parts ? 1 : 0));
}

function rows(t: WireTensor, start: number, count: number, batch: number): WireTensor {
  const per = t.data.length / batch;
  return { type: t.type, data: t.data.slice(start * per, (start + count) * per), dims: [count, ...t.dims.slice(1)] };
}

/** N instances of one network; `run` takes feeds whose first axis is the batch (every input of our networks). */
export class InstancePool {
  private constructor(
    private readonly instances: Instance[],
    readonly meta: InstanceMetadata,
  ) {}

  get size(): number {
    return this.instances.length;
  }

  static async create(label: string, bytes: Uint8Array, options: ort.InferenceSession.SessionOptions, count: number): Promise<InstancePool> {
    const started = await Promise.allSettled(Array.from({ length: count }, (_, i) => Instance.start(`${label} [instance ${i + 1}/${count}]`, bytes, options)));
    const ok = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
    const failed = started.find((s) => s.status === 'rejected');
    if (failed) {
      await Promise.all(ok.map((s) => s.instance.release()));
      throw failed.reason;
    }
    return new InstancePool(
      ok.map((s) => s.instance),
      ok[0]!.meta,
    );
  }

  async run(feeds: Record<string, WireTensor>): Promise<Record<string, WireTensor>> {
    const batch = Object.values(feeds)[0]?.dims[0] ?? 0;
    for (const [name, t] of Object.entries(feeds)) {
      if (t.dims[0] !== batch) throw new ModelError('MODEL_SIGNATURE_MISMATCH', `input ${name} has ${t.dims[0]} rows, the others ${batch}: instances split every input on its first axis`);
    }
    const sizes = splitBatch(batch, this.instances.length);
    if (sizes.length === 1) return this.instances[0]!.run(feeds);
    let start = 0;
    const parts = await Promise.all(
      sizes.map((n, i) => {
        const part = Object.fromEntries(Object.entries(feeds).map(([name, t]) => [name, rows(t, start, n, batch)]));
        start += n;
        return this.instances[i]!.run(part);
      }),
    );
    return Object.fromEntries(Object.keys(parts[0]!).map((name) => [name, concatRows(parts.map((p) => p[name]!))]));
  }

  async release(): Promise<void> {
    await Promise.all(this.instances.map((i) => i.release()));
  }
}

function concatRows(parts: WireTensor[]): WireTensor {
  const length = parts.reduce((a, p) => a + p.data.length, 0);
  const first = parts[0]!;
  const data = new (first.data.constructor as new (n: number) => WireTensor['data'])(length);
  let off = 0;
  for (const p of parts) {
    (data as Float32Array).set(p.data as Float32Array, off);
    off += p.data.length;
  }
  return { type: first.type, data, dims: [parts.reduce((a, p) => a + p.dims[0]!, 0), ...first.dims.slice(1)] };
}
