/** Browser-side image handling: decode a file, convert to grayscale, resize to the size a job takes, encode PNG. */

export interface SourceImage {
  name: string;
  width: number;
  height: number;
  /** the decoded image, drawn again for each target size */
  bitmap: ImageBitmap;
  /** the original as a data URL, for the thumbnail */
  thumbUrl: string;
}

export interface PreparedImage {
  /** data:image/png;base64,… */
  dataUrl: string;
  /** the base64 part the API takes */
  base64: string;
  width: number;
  height: number;
  grayscale: boolean;
}

const ACCEPTED = ['image/png', 'image/jpeg', 'image/webp', 'image/gif', 'image/bmp'];

export async function decodeImage(file: File): Promise<SourceImage> {
  if (file.type && !ACCEPTED.includes(file.type)) throw new Error(`“${file.name}” is not a PNG, JPEG or WebP image`);
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(file);
  } catch {
    throw new Error(`Cannot decode “${file.name}” as an image`);
  }
  const thumbUrl = await new Promise<string>((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result));
    reader.onerror = () => reject(new Error(`Cannot read “${file.name}”`));
    reader.readAsDataURL(file);
  });
  return { name: file.name, width: bitmap.width, height: bitmap.height, bitmap, thumbUrl };
}

function canvas(width: number, height: number): [HTMLCanvasElement, CanvasRenderingContext2D] {
  const c = document.createElement('canvas');
  c.width = width;
  c.height = height;
  const ctx = c.getContext('2d', { willReadFrequently: true });
  if (!ctx) throw new Error('This browser has no 2D canvas');
  return [c, ctx];
}

/**
 * Draws the source at width×height (halving in steps first, so a large photo does not alias down to 7×7), on black
 * (Fashion-MNIST is light on black: transparent pixels become background), grayscale when channels is 1.
 */
export function prepareImage(src: SourceImage, width: number, height: number, channels: number): PreparedImage {
  let current: CanvasImageSource = src.bitmap;
  let w = src.width;
  let h = src.height;
  while (w / 2 >= width && h / 2 >= height) {
    const nw = Math.max(width, Math.floor(w / 2));
    const nh = Math.max(height, Math.floor(h / 2));
    const [c, ctx] = canvas(nw, nh);
    ctx.imageSmoothingEnabled = true;
    ctx.imageSmoothingQuality = 'high';
    ctx.drawImage(current, 0, 0, w, h, 0, 0, nw, nh);
    current = c;
    w = nw;
    h = nh;
  }
  const [out, ctx] = canvas(width, height);
  ctx.fillStyle = '#000';
  ctx.fillRect(0, 0, width, height);
  ctx.imageSmoothingEnabled = true;
  ctx.imageSmoothingQuality = 'high';
  ctx.drawImage(current, 0, 0, w, h, 0, 0, width, height);
  const grayscale = channels === 1;
  if (grayscale) {
    const data = ctx.getImageData(0, 0, width, height);
    const px = data.data;
    for (let i = 0; i < px.length; i += 4) {
      const y = Math.round(0.299 * px[i]! + 0.587 * px[i + 1]! + 0.114 * px[i + 2]!);
      px[i] = px[i + 1] = px[i + 2] = y;
      px[i + 3] = 255;
    }
    ctx.putImageData(data, 0, 0);
  }
  const dataUrl = out.toDataURL('image/png');
  return { dataUrl, base64: dataUrl.slice(dataUrl.indexOf(',') + 1), width, height, grayscale };
}
