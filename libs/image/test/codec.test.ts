import { inflateSync } from 'node:zlib';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { decodeBase64Image, decodeImage, encodePng, ImageError } from '../src/index.js';

/** Values k/255 for pseudo-random bytes k, so every one is exactly representable in a PNG. */
function uint8Image(n: number, seed = 1): Float32Array {
  let s = seed;
  return Float32Array.from({ length: n }, () => {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    return (s >> 8) % 256 / 255;
  });
}

async function rgbPng(pixels: number[][], width: number, height: number, channels: 3 | 4 = 3): Promise<Buffer> {
  return sharp(Buffer.from(pixels.flat()), { raw: { width, height, channels } }).png().toBuffer();
}

async function expectImageError(p: Promise<unknown>, field: string, message: RegExp): Promise<void> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ImageError);
  expect((err as ImageError).field).toBe(field);
  expect((err as ImageError).message).toMatch(new RegExp(`^${field.replace('.', '\\.')}: `));
  expect((err as ImageError).message).toMatch(message);
}

describe('encodePng / decodeImage', () => {
  it.each([1, 3] as const)('round-trips uint8-representable values exactly (%i channels)', async (channels) => {
    const [w, h] = [7, 5];
    const data = uint8Image(w * h * channels, channels);
    const png = encodePng(data, w, h, channels);
    const back = await decodeImage(png, { channels });
    expect([back.width, back.height, back.channels]).toEqual([w, h, channels]);
    expect(back.data).toEqual(data);
  });

  it('writes identical bytes for identical input, clamping out-of-range values', async () => {
    const data = Float32Array.from([-0.5, 0, 0.5, 1, 1.5, Number.NaN]);
    const a = encodePng(data, 3, 2, 1);
    const b = encodePng(Float32Array.from(data), 3, 2, 1);
    expect(a.equals(b)).toBe(true);
    expect(Array.from(a.subarray(0, 4))).toEqual([0x89, 0x50, 0x4e, 0x47]);
    const back = await decodeImage(a, { channels: 1 });
    expect(Array.from(back.data, (v) => Math.round(v * 255))).toEqual([0, 0, 128, 255, 255, 0]);
  });

  it('rejects bad shapes', () => {
    expect(() => encodePng(new Float32Array(5), 2, 2, 1)).toThrow(RangeError);
  });

  it('picks a filter per row (all five on a mixed image), and libspng decodes every one exactly', async () => {
    // rows of: constant, horizontal ramp, copy of the row above, smooth 2-D field, noise
    const [w, h] = [32, 40];
    const data = new Float32Array(3 * w * h);
    const noise = uint8Image(3 * w * h, 5);
    for (let c = 0; c < 3; c++) {
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) {
          const i = c * w * h + y * w + x;
          const kind = y % 5;
          const v = kind === 0 ? 100 : kind === 1 ? 4 * x + c : kind === 2 ? 4 * x + c + 1 : kind === 3 ? (x * y + 7 * c) % 256 : noise[i]! * 255;
          data[i] = Math.round(v) / 255;
        }
      }
    }
    const png = encodePng(data, w, h, 3);
    const back = await decodeImage(png, { channels: 3 });
    expect(back.data).toEqual(data);
    // IHDR says 8-bit RGB; IDAT inflates to one filter byte per row, then the row
    expect([png.readUInt32BE(16), png.readUInt32BE(20), png[24], png[25]]).toEqual([w, h, 8, 2]);
    const idatLength = png.readUInt32BE(33);
    expect(png.toString('latin1', 37, 41)).toBe('IDAT');
    const rows = inflateSync(png.subarray(41, 41 + idatLength));
    expect(rows.length).toBe(h * (3 * w + 1));
    const filters = new Set(Array.from({ length: h }, (_, y) => rows[y * (3 * w + 1)]));
    expect(filters).toEqual(new Set([0, 1, 2, 3, 4]));
  });
});

describe('decodeImage', () => {
  const base = () => sharp({ create: { width: 8, height: 6, channels: 3, background: { r: 200, g: 100, b: 50 } } });

  it('decodes JPEG', async () => {
    const img = await decodeImage(await base().jpeg({ quality: 95 }).toBuffer(), { channels: 3 });
    expect([img.width, img.height, img.channels]).toEqual([8, 6, 3]);
    const mean = (c: number) => img.data.subarray(c * 48, (c + 1) * 48).reduce((a, b) => a + b, 0) / 48;
    expect(Math.abs(mean(0) - 200 / 255)).toBeLessThan(4 / 255);
    expect(Math.abs(mean(1) - 100 / 255)).toBeLessThan(4 / 255);
    expect(Math.abs(mean(2) - 50 / 255)).toBeLessThan(4 / 255);
  });

  it('decodes lossless WebP exactly', async () => {
    const img = await decodeImage(await base().webp({ lossless: true }).toBuffer(), { channels: 3 });
    expect([img.width, img.height]).toEqual([8, 6]);
    expect(img.data[0]).toBe(Math.fround(200 / 255));
    expect(img.data[48]).toBe(Math.fround(100 / 255));
    expect(img.data[96]).toBe(Math.fround(50 / 255));
  });

  it('converts RGB to gray with Rec. 601 luma', async () => {
    const png = await rgbPng([[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 255]], 4, 1);
    const img = await decodeImage(png, { channels: 1 });
    expect(img.channels).toBe(1);
    expect(Array.from(img.data)).toEqual([0.299, 0.587, 0.114, 1].map(Math.fround));
  });

  it('replicates gray into 3 channels', async () => {
    const gray = encodePng(Float32Array.from([0, 0.2, 1].map((v) => Math.round(v * 255) / 255)), 3, 1, 1);
    const img = await decodeImage(gray, { channels: 3 });
    expect(Array.from(img.data)).toEqual([0, 51, 255, 0, 51, 255, 0, 51, 255].map((v) => Math.fround(v / 255)));
  });

  it('composites transparency onto black', async () => {
    const png = await rgbPng([[255, 255, 255, 0], [255, 255, 255, 255], [255, 255, 255, 128]], 3, 1, 4);
    const img = await decodeImage(png, { channels: 1 });
    expect(img.data[0]).toBe(0);
    expect(img.data[1]).toBe(1);
    expect(img.data[2]).toBeCloseTo(128 / 255, 2);
  });

  it('rejects bytes that are not an image, naming the field', async () => {
    await expectImageError(decodeImage(new TextEncoder().encode('hello world'), { channels: 3 }), 'image', /not a PNG, JPEG or WebP image/);
    await expectImageError(decodeImage(new Uint8Array(0), { channels: 1, field: 'input.x' }), 'input.x', /not a PNG, JPEG or WebP image/);
    const gif = await base().gif().toBuffer();
    await expectImageError(decodeImage(gif, { channels: 3 }), 'image', /not a PNG, JPEG or WebP image/);
  });

  it('rejects a truncated PNG', async () => {
    const png = encodePng(uint8Image(64 * 64 * 3), 64, 64, 3);
    const cut = png.subarray(0, Math.floor(png.length / 2));
    await expectImageError(decodeImage(cut, { channels: 3, field: 'sample.image' }), 'sample.image', /not a PNG, JPEG or WebP image/);
  });

  it('rejects images over the size limits', async () => {
    const png = encodePng(new Float32Array(20 * 10), 20, 10, 1);
    await expectImageError(decodeImage(png, { channels: 1, maxWidth: 16 }), 'image', /larger than 16x1024 pixels \(got 20x10\)/);
    await expectImageError(decodeImage(png, { channels: 1, maxHeight: 8 }), 'image', /larger than 1024x8 pixels/);
    await expectImageError(decodeImage(png, { channels: 1, maxBytes: 10 }), 'image', /larger than 10 bytes/);
    await expect(decodeImage(png, { channels: 1, maxWidth: 20, maxHeight: 10 })).resolves.toMatchObject({ width: 20, height: 10 });
  });
});

describe('decodeBase64Image', () => {
  it('decodes base64, with or without a data URL prefix', async () => {
    const data = uint8Image(12);
    const b64 = encodePng(data, 4, 3, 1).toString('base64');
    expect((await decodeBase64Image(b64, { channels: 1 })).data).toEqual(data);
    const wrapped = `data:image/png;base64,${b64.slice(0, 10)}\n${b64.slice(10)}`;
    expect((await decodeBase64Image(wrapped, { channels: 1 })).data).toEqual(data);
  });

  it('rejects invalid base64 and non-images, naming the field', async () => {
    await expectImageError(decodeBase64Image('not base64!', { channels: 1, field: 'image' }), 'image', /not valid base64/);
    await expectImageError(decodeBase64Image('abc', { channels: 1, field: 'img' }), 'img', /not valid base64/);
    await expectImageError(decodeBase64Image('', { channels: 1 }), 'image', /not valid base64/);
    await expectImageError(decodeBase64Image('aGVsbG8gd29ybGQ=', { channels: 1 }), 'image', /not a PNG, JPEG or WebP image/);
    await expectImageError(decodeBase64Image('A'.repeat(400), { channels: 1, maxBytes: 100 }), 'image', /larger than 100 bytes/);
  });
});
