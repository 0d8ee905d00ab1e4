import { crc32, inflateSync } from 'node:zlib';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { addPngText, decodeImage, encodePng, pngTextChunk } from '../src/index.js';

interface Chunk {
  type: string;
  data: Buffer;
  crcOk: boolean;
}

/** The chunks of a PNG, read here byte by byte (independently of the encoder), with their CRCs checked. */
function chunks(png: Buffer): Chunk[] {
  const out: Chunk[] = [];
  for (let at = 8; at < png.length; ) {
    const length = png.readUInt32BE(at);
    const body = png.subarray(at + 4, at + 8 + length);
    out.push({ type: body.toString('latin1', 0, 4), data: body.subarray(4), crcOk: crc32(body) === png.readUInt32BE(at + 8 + length) });
    at += 12 + length;
  }
  return out;
}

function image(n: number): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => ((i * 53) % 256) / 255);
}

const PARAMS = 'DiffuseVAE fmnist, kind: generate, seed: 42, image: 1 of 2, sampler: DDIM, steps: 25, eta: 0';

describe('PNG text chunks', () => {
  it.each([1, 3] as const)('writes a tEXt chunk before IDAT (as Pillow does) with a valid CRC; pixels decode as without it (%i channels)', async (channels) => {
    const [w, h] = [6, 4];
    const data = image(w * h * channels);
    const plain = encodePng(data, w, h, channels);
    const png = encodePng(data, w, h, channels, { parameters: PARAMS });
    const cs = chunks(png);
    expect(cs.map((c) => c.type)).toEqual(['IHDR', 'tEXt', 'IDAT', 'IEND']);
    expect(cs.every((c) => c.crcOk)).toBe(true);
    expect(cs[1]!.data.toString('latin1')).toBe(`parameters\0${PARAMS}`);
    // only the chunk is added (after the 8 + 25 bytes of signature and IHDR): the other bytes are those of the plain PNG
    expect(Buffer.concat([png.subarray(0, 33), png.subarray(33 + 12 + cs[1]!.data.length)]).equals(plain)).toBe(true);
    expect(inflateSync(cs[2]!.data).length).toBe(h * (w * channels + 1));
    const [a, b] = [await decodeImage(png, { channels }), await decodeImage(plain, { channels })];
    expect(a.data).toEqual(b.data);
    expect(a.data).toEqual(data);
  });

  it('is read back by an independent reader (sharp/libvips: metadata().comments)', async () => {
    const png = encodePng(image(3 * 5 * 5), 5, 5, 3, [
      ['parameters', PARAMS],
      ['Comment', 'plain ASCII'],
    ]);
    const meta = await sharp(png).metadata();
    expect(meta.format).toBe('png');
    expect(meta.comments).toEqual([
      { keyword: 'parameters', text: PARAMS },
      { keyword: 'Comment', text: 'plain ASCII' },
    ]);
  });

  it.each(['prompt: 猫, σ: 0.1', 'Latin-1 é and °'])('writes iTXt (UTF-8) for text that is not ASCII (%s); readers see it unchanged', async (text) => {
    const c = pngTextChunk('parameters', text);
    expect(c.toString('latin1', 4, 8)).toBe('iTXt');
    expect(c.subarray(8, c.length - 4).equals(Buffer.concat([Buffer.from('parameters\0\0\0\0\0'), Buffer.from(text, 'utf8')]))).toBe(true);
    const png = encodePng(image(9), 3, 3, 1, { parameters: text });
    expect(chunks(png).every((k) => k.crcOk)).toBe(true);
    expect((await sharp(png).metadata()).comments).toEqual([{ keyword: 'parameters', text }]);
  });

  it('adds to any well-formed PNG (one from sharp) and gives identical bytes for identical input', async () => {
    const src = await sharp({ create: { width: 4, height: 3, channels: 3, background: { r: 10, g: 20, b: 30 } } }).png().toBuffer();
    const a = addPngText(src, { parameters: PARAMS });
    expect(a.equals(addPngText(Buffer.from(src), { parameters: PARAMS }))).toBe(true);
    const cs = chunks(a);
    const t = cs.findIndex((c) => c.type === 'tEXt');
    expect(cs[t]).toMatchObject({ crcOk: true });
    expect(cs[t + 1]!.type).toBe('IDAT');
    expect(cs.every((c) => c.crcOk)).toBe(true);
    expect((await sharp(a).metadata()).comments).toEqual([{ keyword: 'parameters', text: PARAMS }]);
    expect(await sharp(a).raw().toBuffer()).toEqual(await sharp(src).raw().toBuffer());
  });

  it('refuses bad keywords, NUL in text, and buffers that are not PNGs with an IDAT', () => {
    for (const k of ['', ' lead', 'trail ', 'dou  ble', 'x'.repeat(80), 'ctl\n', 'uni猫']) expect(() => pngTextChunk(k, 't')).toThrow(RangeError);
    expect(() => pngTextChunk('parameters', 'a\0b')).toThrow(RangeError);
    expect(pngTextChunk('x'.repeat(79), '').length).toBe(12 + 80);
    const png = encodePng(image(4), 2, 2, 1);
    expect(() => addPngText(Buffer.from('not a png at all'), { a: 'b' })).toThrow(/signature/);
    expect(() => addPngText(Buffer.concat([png.subarray(0, 33), png.subarray(png.length - 12)]), { a: 'b' })).toThrow(/no IDAT/);
    expect(() => addPngText(png.subarray(0, 40), { a: 'b' })).toThrow(/truncated/);
  });
});
