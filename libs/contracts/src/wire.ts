import { PlatformError } from './errors.js';
import { HEADERS } from './subjects.js';

/**
 * The binary tensor wire format. Body: the tensors' raw little-endian bytes one after another; header
 * Diffusevae-Tensors: "name:dtype:d0xd1x…" for each, in body order. Parameters ride as a small JSON header.
 * Never JSON number arrays: a 64×1×28×28 float32 batch is 200 KB of bytes, not 1.5 MB of text.
 */
export type WireDtype = 'float32' | 'int32';

export interface WireTensor {
  dtype: WireDtype;
  shape: readonly number[];
  data: Float32Array | Int32Array;
}

export type TensorMap = Record<string, WireTensor>;

export interface WireMessage {
  headers: Record<string, string>;
  body: Uint8Array;
}

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function float32(data: Float32Array, shape: readonly number[]): WireTensor {
  return { dtype: 'float32', shape, data };
}

export function int32(data: Int32Array | readonly number[], shape: readonly number[] = [data.length]): WireTensor {
  return { dtype: 'int32', shape, data: data instanceof Int32Array ? data : Int32Array.from(data) };
}

function assertLittleEndian(): void {
  if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) throw new Error('the wire format needs a little-endian host');
}

export function encodeMessage(tensors: TensorMap, params?: unknown): WireMessage {
  assertLittleEndian();
  const specs: string[] = [];
  let bytes = 0;
  for (const [name, t] of Object.entries(tensors)) {
    if (!NAME.test(name)) throw new Error(`tensor name ${JSON.stringify(name)} is not an identifier`);
    const n = t.shape.reduce((a, b) => a * b, 1);
    if (n !== t.data.length) throw new Error(`tensor ${name}: shape [${t.shape.join(', ')}] needs ${n} values, has ${t.data.length}`);
    specs.push(`${name}:${t.dtype}:${t.shape.join('x')}`);
    bytes += t.data.byteLength;
  }
  const body = new Uint8Array(bytes);
  let off = 0;
  for (const t of Object.values(tensors)) {
    body.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), off);
    off += t.data.byteLength;
  }
  const headers: Record<string, string> = { [HEADERS.tensors]: specs.join(';') };
  if (params !== undefined) headers[HEADERS.params] = JSON.stringify(params);
  return { headers, body };
}

function bad(message: string): PlatformError {
  return new PlatformError('BAD_USER_INPUT', `message: ${message}`, 'message');
}

/** Decodes a message; copies each tensor into its own aligned buffer. Malformed input is BAD_USER_INPUT. */
export function decodeMessage(headers: { get(name: string): string | undefined | null }, body: Uint8Array): { tensors: TensorMap; params: unknown } {
  const spec = headers.get(HEADERS.tensors) ?? '';
  const tensors: TensorMap = {};
  let off = 0;
  for (const entry of spec === '' ? [] : spec.split(';')) {
    const [name, dtype, dims] = entry.split(':');
    if (!name || !NAME.test(name) || (dtype !== 'float32' && dtype !== 'int32') || dims === undefined) {
      throw bad(`bad tensor header entry ${JSON.stringify(entry)} (want name:float32|int32:d0xd1…)`);
    }
    const shape = dims === '' ? [] : dims.split('x').map(Number);
    if (shape.some((d) => !Number.isInteger(d) || d < 0)) throw bad(`tensor ${name}: bad shape ${dims}`);
    const n = shape.reduce((a, b) => a * b, 1);
    const nbytes = n * 4;
    if (off + nbytes > body.length) throw bad(`tensor ${name}: body has ${body.length - off} bytes left, shape needs ${nbytes}`);
    // a fresh buffer: `body` may be a Node Buffer, whose slice() is a view into a shared pool
    const copy = new Uint8Array(nbytes);
    copy.set(body.subarray(off, off + nbytes));
    tensors[name] = { dtype, shape, data: dtype === 'float32' ? new Float32Array(copy.buffer) : new Int32Array(copy.buffer) };
    off += nbytes;
  }
  if (off !== body.length) throw bad(`body has ${body.length - off} bytes beyond the tensors its header lists`);
  const raw = headers.get(HEADERS.params);
  let params: unknown;
  if (raw) {
    try {
      params = JSON.parse(raw);
    } catch {
      throw bad(`${HEADERS.params} header is not JSON`);
    }
  }
  return { tensors, params };
}

/** How many items of `bytesPerItem` fit in one message under the server's max_payload (with room for headers). */
export function maxItemsPerMessage(maxPayload: number, bytesPerItem: number, headroom = 4096): number {
  return Math.max(1, Math.floor((maxPayload - headroom) / bytesPerItem));
}
