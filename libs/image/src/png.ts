import { crc32, deflateSync } from 'node:zlib';

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
/** PNG colour types: 0 gray, 2 RGB (8 bits per sample, no alpha, no palette) */
const COLOUR_TYPE = { 1: 0, 3: 2 } as const;

/**
 * Encodes CHW floats in [0, 1] as an 8-bit PNG (gray for 1 channel, RGB for 3). Values are clamped and
 * rounded (NaN → 0). No metadata but `text` (tEXt / iTXt chunks, see `addPngText`);
 * each row takes the filter with the smallest sum of absolute differences (the libpng heuristic) and zlib level 9, so equal inputs give identical bytes.
 *
 * Synchronous, on zlib: a 28×28 image takes tens of microseconds, where a libvips pipeline per image
 * (sharp) costs about half a millisecond of setup and thread hand-off. Decoding stays on sharp.
 */
export function encodePng(data: Float32Array, width: number, height: number, channels: 1 | 3, text?: PngText): Buffer {
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
  const png = Buffer.concat([SIGNATURE, chunk('IHDR', ihdr), chunk('IDAT', idat), chunk('IEND', Buffer.alloc(0))]);
  return text ? addPngText(png, text) : png;
}

/** Text entries for a PNG, keyword → text, written in this order. */
export type PngText = Record<string, string> | readonly (readonly [keyword: string, text: string])[];

/**
 * A text chunk, as A1111 writes its `parameters`: tEXt when the text is ASCII, else iTXt (UTF-8, uncompressed, no
 * language tag). Pillow would write tEXt for any Latin-1 text, but readers that take tEXt bytes as UTF-8 (libvips, so
 * sharp) garble its upper half; iTXt reads the same in every reader. The keyword is 1–79 printable Latin-1
 * characters, without leading, trailing or consecutive spaces (PNG 11.3.4); the text has no NUL.
 */
export function pngTextChunk(keyword: string, text: string): Buffer {
  if (!/^[\x21-\x7e\xa1-\xff](?:[\x21-\x7e\xa1-\xff]| (?! ))*$/.test(keyword) || keyword.length > 79 || keyword.endsWith(' ')) {
    throw new RangeError(`PNG text keyword must be 1-79 printable Latin-1 characters without leading, trailing or double spaces, got ${JSON.stringify(keyword)}`);
  }
  if (text.includes('\0')) throw new RangeError(`PNG text for ${keyword} contains a NUL character`);
  const key = Buffer.from(keyword, 'latin1');
  if (/^[\x00-\x7f]*$/.test(text)) return chunk('tEXt', Buffer.concat([key, Buffer.from([0]), Buffer.from(text, 'latin1')]));
  // keyword, NUL, compression flag 0, method 0, empty language tag + NUL, empty translated keyword + NUL, UTF-8 text
  return chunk('iTXt', Buffer.concat([key, Buffer.from([0, 0, 0, 0, 0]), Buffer.from(text, 'utf8')]));
}

/**
 * The PNG with text chunks (`pngTextChunk`) inserted just before the first IDAT, where Pillow (and so A1111) writes
 * them: PNG allows them anywhere before IEND, but readers that stop at the image data (libspng's header read, so
 * sharp's `metadata()`) see only those before it. Every other byte is as it was, so the pixels are untouched and
 * equal inputs still give identical bytes. A buffer that is not a well-formed chunk sequence with an IDAT is a
 * RangeError.
 */
export function addPngText(png: Uint8Array, text: PngText): Buffer {
  const buf = Buffer.from(png.buffer, png.byteOffset, png.byteLength);
  if (buf.length < SIGNATURE.length || !buf.subarray(0, SIGNATURE.length).equals(SIGNATURE)) throw new RangeError('not a PNG (bad signature)');
  let at = SIGNATURE.length;
  let idat = -1;
  while (at < buf.length) {
    if (at + 12 > buf.length) throw new RangeError(`truncated PNG chunk at byte ${at}`);
    const length = buf.readUInt32BE(at);
    if (at + 12 + length > buf.length) throw new RangeError(`truncated PNG chunk at byte ${at}`);
    const type = buf.toString('latin1', at + 4, at + 8);
    if (type === 'IDAT') {
      idat = at;
      break;
    }
    if (type === 'IEND') break;
    at += 12 + length;
  }
  if (idat < 0) throw new RangeError('PNG has no IDAT chunk');
  const entries = Array.isArray(text) ? (text as readonly (readonly [string, string])[]) : Object.entries(text);
  return Buffer.concat([buf.subarray(0, idat), ...entries.map(([k, v]) => pngTextChunk(k, v)), buf.subarray(idat)]);
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
