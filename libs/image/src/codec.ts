import sharp, { type OutputInfo } from 'sharp';

/** A float image in CHW layout (channel planes, each row-major). */
export interface Image {
  data: Float32Array;
  width: number;
  height: number;
  channels: number;
}

/** Rejected user input; `field` names the request field so callers can report it as-is. */
export class ImageError extends Error {
  override name = 'ImageError';
  constructor(
    readonly field: string,
    detail: string,
  ) {
    super(`${field}: ${detail}`);
  }
}

export interface DecodeOptions {
  /** 1: Rec. 601 luma (0.299 R + 0.587 G + 0.114 B, as PIL/torchvision do); 3: sRGB. */
  channels: 1 | 3;
  /** Name used in error messages. Default 'image'. */
  field?: string;
  /** Largest accepted width after EXIF orientation. Default 1024. */
  maxWidth?: number;
  /** Largest accepted height after EXIF orientation. Default 1024. */
  maxHeight?: number;
  /** Largest accepted encoded size in bytes. Default 4 MiB (4194304). */
  maxBytes?: number;
}

export const DEFAULT_MAX_WIDTH = 1024;
export const DEFAULT_MAX_HEIGHT = 1024;
export const DEFAULT_MAX_BYTES = 4 * 1024 * 1024;

const NOT_AN_IMAGE = 'not a PNG, JPEG or WebP image';

function sniff(b: Uint8Array): 'png' | 'jpeg' | 'webp' | undefined {
  const at = (i: number, s: number[]) => s.every((v, k) => b[i + k] === v);
  if (at(0, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return 'png';
  if (at(0, [0xff, 0xd8, 0xff])) return 'jpeg';
  if (at(0, [0x52, 0x49, 0x46, 0x46]) && at(8, [0x57, 0x45, 0x42, 0x50])) return 'webp';
  return undefined;
}

/**
 * Decodes a PNG, JPEG or WebP (first frame) to CHW floats in [0, 1].
 * EXIF orientation is applied; transparency is composited onto black, so a transparent
 * pixel reads as 0, like premultiplied alpha. Anything else, or an image over the limits,
 * is an ImageError naming `opts.field`.
 */
export async function decodeImage(bytes: Uint8Array, opts: DecodeOptions): Promise<Image> {
  const field = opts.field ?? 'image';
  const maxW = opts.maxWidth ?? DEFAULT_MAX_WIDTH;
  const maxH = opts.maxHeight ?? DEFAULT_MAX_HEIGHT;
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_BYTES;
  if (opts.channels !== 1 && opts.channels !== 3) throw new RangeError(`channels must be 1 or 3, got ${String(opts.channels)}`);
  if (bytes.length > maxBytes) throw new ImageError(field, `larger than ${maxBytes} bytes (got ${bytes.length})`);
  // Sniff first so sharp never sees the formats we do not accept (SVG, TIFF, GIF, ...).
  if (!sniff(bytes)) throw new ImageError(field, NOT_AN_IMAGE);

  // limitInputPixels stops a decompression bomb before libvips allocates for it.
  const input = sharp(bytes, { failOn: 'error', limitInputPixels: maxW * maxH, autoOrient: true });
  let raw: { data: Buffer; info: OutputInfo };
  try {
    const meta = await input.metadata();
    const w = meta.autoOrient?.width ?? meta.width;
    const h = meta.autoOrient?.height ?? meta.height;
    if (w > maxW || h > maxH) throw new ImageError(field, `larger than ${maxW}x${maxH} pixels (got ${w}x${h})`);
    raw = await input
      .flatten({ background: { r: 0, g: 0, b: 0 } })
      .toColourspace('srgb')
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
  } catch (err) {
    if (err instanceof ImageError) throw err;
    const why = err instanceof Error ? (err.message.split('\n')[0] ?? '') : String(err);
    if (/pixel limit/i.test(why)) throw new ImageError(field, `larger than ${maxW}x${maxH} pixels`);
    throw new ImageError(field, `${NOT_AN_IMAGE} (corrupt or truncated: ${why})`);
  }

  const { width, height, channels: inC } = raw.info;
  if (inC !== 3) throw new ImageError(field, `${NOT_AN_IMAGE} (decoded to ${inC} channels)`);
  const plane = width * height;
  const src = raw.data;
  const data = new Float32Array(plane * opts.channels);
  if (opts.channels === 3) {
    for (let i = 0; i < plane; i++) {
      data[i] = src[3 * i]! / 255;
      data[plane + i] = src[3 * i + 1]! / 255;
      data[2 * plane + i] = src[3 * i + 2]! / 255;
    }
  } else {
    // Integer weights keep gray inputs (R = G = B) exact: (1000 v) / (1000 * 255) === v / 255.
    for (let i = 0; i < plane; i++) {
      data[i] = (299 * src[3 * i]! + 587 * src[3 * i + 1]! + 114 * src[3 * i + 2]!) / 255000;
    }
  }
  return { data, width, height, channels: opts.channels };
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * `decodeImage` from standard base64. Whitespace and a `data:<mime>;base64,` prefix are
 * ignored; anything else that is not strict, padded base64 is an ImageError.
 */
export async function decodeBase64Image(b64: string, opts: DecodeOptions): Promise<Image> {
  const field = opts.field ?? 'image';
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_BYTES;
  const s = b64.replace(/^data:[^,;]*;base64,/, '').replace(/\s+/g, '');
  // Checked on the text so an oversized payload is refused before it is decoded.
  if ((s.length / 4) * 3 > maxBytes + 2) throw new ImageError(field, `larger than ${maxBytes} bytes`);
  if (s.length === 0 || s.length % 4 !== 0 || !BASE64.test(s)) throw new ImageError(field, 'not valid base64');
  return decodeImage(Buffer.from(s, 'base64'), opts);
}
