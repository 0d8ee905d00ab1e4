/** Dense row-major float32 tensor (images are NCHW: batch, channels, height, width). */
export type Shape = readonly number[];

export class TensorError extends Error {
  override name = 'TensorError';
}

export class Tensor {
  readonly data: Float32Array;
  readonly shape: Shape;

  constructor(data: Float32Array, shape: Shape) {
    const n = shape.reduce((a, b) => a * b, 1);
    for (const d of shape) {
      if (!Number.isInteger(d) || d < 0) throw new TensorError(`shape [${shape.join(', ')}]: dimensions must be non-negative integers`);
    }
    if (data.length !== n) {
      throw new TensorError(`shape [${shape.join(', ')}] needs ${n} values, got ${data.length}`);
    }
    this.data = data;
    this.shape = [...shape];
  }

  static zeros(shape: Shape): Tensor {
    return new Tensor(new Float32Array(shape.reduce((a, b) => a * b, 1)), shape);
  }

  get size(): number {
    return this.data.length;
  }

  /** Number of values in one item of the leading (batch) axis. */
  get itemSize(): number {
    return this.shape.slice(1).reduce((a, b) => a * b, 1);
  }

  get batch(): number {
    return this.shape[0] ?? 0;
  }

  /** Items [start, end) of the batch axis, sharing no memory with this tensor. */
  sliceBatch(start: number, end: number): Tensor {
    const k = this.itemSize;
    return new Tensor(this.data.slice(start * k, end * k), [end - start, ...this.shape.slice(1)]);
  }

  /** Concatenates tensors on the batch axis; all must share the item shape. */
  static concatBatch(parts: readonly Tensor[]): Tensor {
    if (parts.length === 0) throw new TensorError('concatBatch: no tensors');
    const item = parts[0]!.shape.slice(1);
    let n = 0;
    for (const p of parts) {
      if (p.shape.slice(1).join(',') !== item.join(',')) {
        throw new TensorError(`concatBatch: item shape [${p.shape.slice(1).join(', ')}] differs from [${item.join(', ')}]`);
      }
      n += p.batch;
    }
    const out = new Float32Array(n * parts[0]!.itemSize);
    let off = 0;
    for (const p of parts) {
      out.set(p.data, off);
      off += p.size;
    }
    return new Tensor(out, [n, ...item]);
  }

  /** Largest absolute difference to another tensor of the same shape. */
  maxAbsDiff(other: Tensor): number {
    if (other.shape.join(',') !== this.shape.join(',')) {
      throw new TensorError(`maxAbsDiff: shapes [${this.shape.join(', ')}] and [${other.shape.join(', ')}] differ`);
    }
    let m = 0;
    for (let i = 0; i < this.data.length; i++) m = Math.max(m, Math.abs(this.data[i]! - other.data[i]!));
    return m;
  }
}
