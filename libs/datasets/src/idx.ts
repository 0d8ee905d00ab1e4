import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { Tensor } from '@diffusevae/tensor';

export const DEFAULT_FMNIST_DIR = '/usr/share/datasets/fashion-mnist';

export class DatasetError extends Error {
  override name = 'DatasetError';
}

/** Parses an idx file (LeCun's MNIST format): big-endian header, unsigned bytes. */
export function parseIdx(bytes: Uint8Array, label = 'idx'): { dims: number[]; data: Uint8Array } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 4 || view.getUint16(0) !== 0 || view.getUint8(2) !== 0x08) {
    throw new DatasetError(`${label}: not an unsigned-byte idx file`);
  }
  const ndim = view.getUint8(3);
  const dims = Array.from({ length: ndim }, (_, i) => view.getUint32(4 + 4 * i));
  const n = dims.reduce((a, b) => a * b, 1);
  const data = bytes.subarray(4 + 4 * ndim);
  if (data.length !== n) throw new DatasetError(`${label}: header promises ${n} values, file has ${data.length}`);
  return { dims, data };
}

export type Split = 'train' | 'test';
const FILES: Record<Split, [string, string]> = {
  train: ['train-images-idx3-ubyte.gz', 'train-labels-idx1-ubyte.gz'],
  test: ['t10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz'],
};

async function readIdx(file: string) {
  let raw: Buffer;
  try {
    raw = await readFile(file);
  } catch {
    throw new DatasetError(`${file}: not found (install Debian's dataset-fashion-mnist: bash tools/setup.sh, or set FMNIST_DIR)`);
  }
  return parseIdx(gunzipSync(raw), file);
}

/** Images as [N, 1, 28, 28] float32 in [0, 1] and their labels. */
export async function loadFashionMnist(split: Split, opts: { dir?: string; limit?: number } = {}): Promise<{ images: Tensor; labels: Uint8Array }> {
  const dir = opts.dir ?? process.env.FMNIST_DIR ?? DEFAULT_FMNIST_DIR;
  const [imgFile, lblFile] = FILES[split];
  const img = await readIdx(path.join(dir, imgFile));
  const lbl = await readIdx(path.join(dir, lblFile));
  const [n0, h, w] = img.dims as [number, number, number];
  const n = Math.min(n0, opts.limit ?? n0);
  const data = new Float32Array(n * h * w);
  for (let i = 0; i < data.length; i++) data[i] = img.data[i]! / 255;
  return { images: new Tensor(data, [n, 1, h, w]), labels: lbl.data.slice(0, n) };
}
