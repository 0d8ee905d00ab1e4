import type { Image } from './codec.js';

/** [0, 1] -> [-1, 1], the range the models take and produce. Returns a new array. */
export function toModelRange(data: Float32Array): Float32Array {
  return data.map((v) => v * 2 - 1);
}

/** [-1, 1] -> [0, 1]. Not clamped: model outputs may overshoot, and `encodePng` clamps. */
export function fromModelRange(data: Float32Array): Float32Array {
  return data.map((v) => (v + 1) / 2);
}

export type ResizeKernel = 'nearest' | 'bilinear' | 'bicubic';

/** Keys' cubic convolution kernel with a = -0.5 (as PIL; PyTorch uses -0.75). */
function cubic(x: number): number {
  const a = -0.5;
  const d = Math.abs(x);
  if (d <= 1) return ((a + 2) * d - (a + 3)) * d * d + 1;
  if (d < 2) return ((a * d - 5 * a) * d + 8 * a) * d - 4 * a;
  return 0;
}

/** Source taps and weights for each output index along one axis. */
function taps(inSize: number, outSize: number, kernel: ResizeKernel): { n: number; index: Int32Array; weight: Float64Array } {
  const n = kernel === 'nearest' ? 1 : kernel === 'bilinear' ? 2 : 4;
  const index = new Int32Array(outSize * n);
  const weight = new Float64Array(outSize * n);
  const scale = inSize / outSize;
  const clamp = (i: number) => (i < 0 ? 0 : i >= inSize ? inSize - 1 : i);
  for (let o = 0; o < outSize; o++) {
    if (kernel === 'nearest') {
      index[o] = clamp(Math.floor((o + 0.5) * scale));
      weight[o] = 1;
      continue;
    }
    // Pixel centres are aligned (align_corners = false): output centre o + 0.5 maps to input x + 0.5.
    const x = (o + 0.5) * scale - 0.5;
    const i0 = Math.floor(x);
    const first = kernel === 'bilinear' ? i0 : i0 - 1;
    for (let k = 0; k < n; k++) {
      const i = first + k;
      index[o * n + k] = clamp(i);
      weight[o * n + k] = kernel === 'bilinear' ? 1 - Math.abs(i - x) : cubic(i - x);
    }
  }
  return { n, index, weight };
}

/**
 * Resizes a CHW float image. Separable: rows then columns, accumulated in float64.
 * Sampling uses aligned pixel centres (PyTorch's align_corners = false) with edge pixels
 * repeated past the border. 'nearest' picks the pixel whose centre is under the output
 * centre; 'bilinear' is the 2-tap tent; 'bicubic' is Keys' cubic with a = -0.5 (4 taps).
 * No antialiasing when shrinking: the kernel is not widened, so an exact 2x bilinear
 * shrink averages 2x2 blocks but larger factors skip pixels. Bicubic can overshoot
 * [0, 1] near edges; results are not clamped.
 */
export function resize(
  data: Float32Array,
  width: number,
  height: number,
  channels: number,
  newW: number,
  newH: number,
  kernel: ResizeKernel = 'bicubic',
): Float32Array {
  for (const [k, v] of Object.entries({ width, height, channels, newW, newH })) {
    if (!Number.isInteger(v) || v < 1) throw new RangeError(`${k} must be a positive integer, got ${v}`);
  }
  if (data.length !== width * height * channels) {
    throw new RangeError(`expected ${width * height * channels} values for ${channels}x${height}x${width}, got ${data.length}`);
  }
  const tx = taps(width, newW, kernel);
  const ty = taps(height, newH, kernel);
  const rows = new Float64Array(channels * height * newW);
  for (let c = 0; c < channels; c++) {
    for (let y = 0; y < height; y++) {
      const src = (c * height + y) * width;
      const dst = (c * height + y) * newW;
      for (let x = 0; x < newW; x++) {
        let s = 0;
        for (let k = 0; k < tx.n; k++) s += tx.weight[x * tx.n + k]! * data[src + tx.index[x * tx.n + k]!]!;
        rows[dst + x] = s;
      }
    }
  }
  const out = new Float32Array(channels * newH * newW);
  for (let c = 0; c < channels; c++) {
    for (let y = 0; y < newH; y++) {
      const dst = (c * newH + y) * newW;
      for (let k = 0; k < ty.n; k++) {
        const w = ty.weight[y * ty.n + k]!;
        const src = (c * height + ty.index[y * ty.n + k]!) * newW;
        for (let x = 0; x < newW; x++) out[dst + x]! += w * rows[src + x]!;
      }
    }
  }
  return out;
}

/**
 * Tiles equally sized images row by row into one CHW image, `cols` per row (fewer if there
 * are fewer images), with `pad` pixels of `padValue` around and between tiles, like
 * torchvision's make_grid.
 */
export function grid(images: readonly Image[], cols: number, pad = 2, padValue = 0): Image {
  const first = images[0];
  if (!first) throw new RangeError('grid needs at least one image');
  if (!Number.isInteger(cols) || cols < 1) throw new RangeError(`cols must be a positive integer, got ${cols}`);
  if (!Number.isInteger(pad) || pad < 0) throw new RangeError(`pad must be a non-negative integer, got ${pad}`);
  const { width: w, height: h, channels } = first;
  for (const [i, im] of images.entries()) {
    if (im.width !== w || im.height !== h || im.channels !== channels || im.data.length !== w * h * channels) {
      throw new RangeError(`image ${i} is ${im.channels}x${im.height}x${im.width}, expected ${channels}x${h}x${w}`);
    }
  }
  const nc = Math.min(cols, images.length);
  const nr = Math.ceil(images.length / nc);
  const width = nc * (w + pad) + pad;
  const height = nr * (h + pad) + pad;
  const data = new Float32Array(channels * width * height).fill(padValue);
  images.forEach((im, i) => {
    const x0 = pad + (i % nc) * (w + pad);
    const y0 = pad + Math.floor(i / nc) * (h + pad);
    for (let c = 0; c < channels; c++) {
      for (let y = 0; y < h; y++) {
        const src = (c * h + y) * w;
        data.set(im.data.subarray(src, src + w), (c * height + y0 + y) * width + x0);
      }
    }
  });
  return { data, width, height, channels };
}
