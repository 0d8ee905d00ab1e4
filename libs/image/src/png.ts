import { crc32, deflateSync } from 'node:zlib';

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
/** PNG colour types: 0 gray, 2 RGB (8 bits per sample, no alpha, no palette) */
const COLOUR_TYPE = { 1: 0, 3: 2 } as const;

/**
 * Encodes CHW floats in [0, 1] as an 8-bit PNG (gray for 1 channel, RGB for 3). Values are clamped and
 * rounded (NaN → 0). No metadata; each row takes the filter with the smallest sum of absolute differences
 * (the libpng heuristic) and zlib level 9, so equal inputs give identical bytes.
 *
 * Synchronous, on zlib: a 28×28 image takes tens of microseconds, where a libvips pipeline per image
 * (sharp) costs about half a millisecond of setup and thread hand-off. Decoding stays on sharp.
 */
export function encodePng(data: Float32Array, width: number, height: number, channels: 1 | 3): Buffer {
  if (channels !== 1 && channels !== 3) throw new RangeError(`channels must be 1 or 3, got ${String(channels)}`);
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new RangeError(`width and height must be positive integers, got ${width}x${height}`);
  }
  const plane = width * height;
  if (data.length !== plane * channels) throw new RangeError(`expected ${plane * channels} values for ${channels}x${height}x${width}, got ${data.length}`);
  const hwc = new Uint8Array(plane * channels);
  for (let c = 0; c < channels; c++) {
    for (let i = 0; i < plane; i++) {
      const v = data[c * plane + i]!;
      hwc[i * channels + c] = v > 0 ? Math.round(Math.min(v, 1) * 255) : 0;
    }
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, COLOUR_TYPE[channels], 0, 0, 0], 8); // bit depth, colour type, deflate, adaptive filtering, no interlace
  const idat = deflateSync(filterRows(hwc, width * channels, height, channels), { level: 9 });
  return Buffer.concat([SIGNATURE, chunk('IHDR', ihdr), chunk('IDAT', idat), chunk('IEND', Buffer.alloc(0))]);
}

function chunk(type: string, data: Uint8Array): Buffer {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'latin1');
  out.set(data, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

/** Each row as a filter-type byte and the row filtered by it (PNG filters 0–4, bytes wrap mod 256). */
function filterRows(px: Uint8Array, stride: number, height: number, bpp: number): Uint8Array {
  const out = new Uint8Array(height * (stride + 1));
  const candidates = Array.from({ length: 5 }, () => new Uint8Array(stride));
  const none = new Uint8Array(stride);
  for (let y = 0; y < height; y++) {
    const row = px.subarray(y * stride, (y + 1) * stride);
    const up = y > 0 ? px.subarray((y - 1) * stride, y * stride) : none;
    const [f0, f1, f2, f3, f4] = candidates as [Uint8Array, Uint8Array, Uint8Array, Uint8Array, Uint8Array];
    for (let i = 0; i < stride; i++) {
      const x = row[i]!;
      const a = i >= bpp ? row[i - bpp]! : 0;
      const b = up[i]!;
      const c = i >= bpp ? up[i - bpp]! : 0;
      f0[i] = x;
      f1[i] = x - a;
      f2[i] = x - b;
      f3[i] = x - ((a + b) >> 1);
      f4[i] = x - paeth(a, b, c);
    }
    let best = 0;
    let bestCost = Infinity;
    candidates.forEach((f, k) => {
      let cost = 0;
      for (let i = 0; i < stride; i++) cost += f[i]! < 128 ? f[i]! : 256 - f[i]!;
      if (cost < bestCost) [best, bestCost] = [k, cost];
    });
    out[y * (stride + 1)] = best;
    out.set(candidates[best]!, y * (stride + 1) + 1);
  }
  return out;
}

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const [pa, pb, pc] = [Math.abs(p - a), Math.abs(p - b), Math.abs(p - c)];
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}
