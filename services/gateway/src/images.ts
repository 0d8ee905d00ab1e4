import { createHash } from 'node:crypto';
import { PlatformError } from '@diffusevae/contracts';
import { decodeBase64Image, encodePng, fromModelRange, ImageError, toModelRange } from '@diffusevae/image';
import { Tensor } from '@diffusevae/tensor';
import { PARAMETERS_KEYWORD } from './infotext.js';
import { expectImageSize, type ModelLimits } from './validate.js';

/** An image as the API returns it. */
export interface EncodedImage {
  /** base64 PNG bytes */
  png: string;
  width: number;
  height: number;
}

export interface InputImage {
  /** [count, C, H, W] in the model's [−1, 1]: the image repeated once per requested sample */
  tensor: Tensor;
  /**
   * the pixels as the model took them, as a PNG (base64): the manifest carries it, so that the manifest alone
   * reproduces the job; decoding it gives the same pixels, and encoding those the same bytes
   */
  png: string;
  /** sha256 of those PNG bytes: the same for every file of the same pixels */
  sha256: string;
}

/**
 * base64 PNG/JPEG/WebP → the model's channels and range, size-checked (model size, or model size / scale),
 * repeated `count` times: samples of one input differ only in their noise. Bad input is BAD_USER_INPUT.
 */
export async function decodeInputImage(field: string, b64: string, model: ModelLimits, count: number, scale?: number): Promise<InputImage> {
  let img;
  try {
    // Inputs are tiny (at most the model's size); refuse anything much larger before decoding it.
    img = await decodeBase64Image(b64, { channels: model.channels, field, maxWidth: 1024, maxHeight: 1024, maxBytes: 1024 * 1024 });
  } catch (e) {
    if (e instanceof ImageError) throw new PlatformError('BAD_USER_INPUT', e.message, e.field);
    throw e;
  }
  expectImageSize(field, img, model, scale);
  // 8-bit levels, as the PNG below holds them (a colour input made gray falls between levels): the job runs on
  // exactly the pixels its manifest carries
  for (let i = 0; i < img.data.length; i++) img.data[i] = Math.round(img.data[i]! * 255) / 255;
  const one = toModelRange(img.data);
  const data = new Float32Array(count * one.length);
  for (let i = 0; i < count; i++) data.set(one, i * one.length);
  const png = encodePng(img.data, img.width, img.height, model.channels);
  return { tensor: new Tensor(data, [count, model.channels, img.height, img.width]), png: png.toString('base64'), sha256: createHash('sha256').update(png).digest('hex') };
}

/**
 * [B, C, H, W] in [−1, 1] → one PNG per image (clamped to [0, 1] pixels, 8-bit). `parameters(i)`, when given, is
 * the text of image i's `parameters` chunk (see infotext.ts).
 */
export function encodeImages(x: Tensor, parameters?: (index: number) => string): EncodedImage[] {
  const [b, c, h, w] = x.shape as [number, number, number, number];
  if (c !== 1 && c !== 3) throw new Error(`encodeImages: ${c} channels (expected 1 or 3)`);
  const pixels = fromModelRange(x.data);
  return Array.from({ length: b }, (_, i) => {
    const text = parameters ? { [PARAMETERS_KEYWORD]: parameters(i) } : undefined;
    const png = encodePng(pixels.subarray(i * c * h * w, (i + 1) * c * h * w), w, h, c, text);
    return { png: png.toString('base64'), width: w, height: h };
  });
}
