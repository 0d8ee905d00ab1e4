/**
 * Images out (grid assembly, file names) and progress text: pure, apart from decodePngs (sharp, via libs/image).
 */
import path from 'node:path';
import { decodeImage, encodePng, grid, type Image } from '@diffusevae/image';

/** Columns of a grid of n images: about square, wider than tall. */
export function gridColumns(n: number): number {
  return Math.max(1, Math.ceil(Math.sqrt(n)));
}

/** True when every pixel of a 3-channel image has R = G = B. */
function isGray(im: Image): boolean {
  if (im.channels !== 3) return im.channels === 1;
  const plane = im.width * im.height;
  for (let i = 0; i < plane; i++) if (im.data[i] !== im.data[plane + i] || im.data[i] !== im.data[2 * plane + i]) return false;
  return true;
}

/** 3-channel images to 1 when all of them are gray (the PNGs stay as small as the API's). */
export function squeezeGray(images: readonly Image[]): Image[] {
  if (!images.every(isGray)) return [...images];
  return images.map((im) => (im.channels === 1 ? im : { ...im, data: im.data.slice(0, im.width * im.height), channels: 1 }));
}

/** One PNG of all the images: the image itself when there is one, else a grid (2 px black padding). */
export function gridPng(images: readonly Image[]): Buffer {
  const all = squeezeGray(images);
  if (!all.length) throw new RangeError('no images');
  const g = all.length === 1 ? all[0]! : grid(all, gridColumns(all.length));
  return encodePng(g.data, g.width, g.height, g.channels as 1 | 3);
}

/** The PNGs of a job's images, decoded (as RGB; squeezeGray makes them gray again). */
export async function decodePngs(pngBase64: readonly string[]): Promise<Image[]> {
  return Promise.all(pngBase64.map((b64, i) => decodeImage(Buffer.from(b64, 'base64'), { channels: 3, field: `images[${i}]` })));
}

/** DIR/image-000.png, … */
export function outDirFiles(dir: string, n: number): string[] {
  return Array.from({ length: n }, (_, i) => path.join(dir, `image-${String(i).padStart(3, '0')}.png`));
}

function seconds(ms: number): string {
  if (ms < 10_000) return `${(ms / 1000).toFixed(1)}s`;
  const s = Math.round(ms / 1000);
  return s < 60 ? `${s}s` : `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
}

export interface ProgressView {
  status: string;
  step?: number;
  steps?: number;
  etaMs?: number | null;
  queuePosition?: number | null;
}

/** A progress bar for a terminal: `[#####·····] 5/10 ETA 1.2s`, or the job's state before it runs. */
export function progressBar(p: ProgressView, width = 30): string {
  if (p.step === undefined || !p.steps) return p.status === 'QUEUED' && p.queuePosition != null ? `queued (${p.queuePosition} ahead)` : p.status.toLowerCase();
  const done = Math.min(width, Math.round((p.step / p.steps) * width));
  const eta = p.etaMs != null ? ` ETA ${seconds(p.etaMs)}` : '';
  return `[${'#'.repeat(done)}${'·'.repeat(width - done)}] ${p.step}/${p.steps}${eta}`;
}

/** A plain line for a log (stderr not a terminal). */
export function progressLine(jobId: string, p: ProgressView): string {
  if (p.step === undefined || !p.steps) return `job ${jobId}: ${p.status}`;
  return `job ${jobId}: step ${p.step}/${p.steps}${p.etaMs != null ? ` (ETA ${seconds(p.etaMs)})` : ''}`;
}
