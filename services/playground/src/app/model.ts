/**
 * The served model as the form needs it: the gateway reports limits, defaults and the allowed values
 * (models { limits defaults samplers … }); nothing of them is copied into the page. Pure (no DOM, no React).
 */
import type { JobKind, ModelInfo } from './types';

/** The most steps one job may take with this model. */
export function maxSteps(m: ModelInfo): number {
  return Math.min(m.limits.maxSteps, m.numTrainTimesteps);
}

/** The image size a job kind takes (scale: super-resolution's), or null when the kind takes no image. */
export function pickInputSize(m: Pick<ModelInfo, 'limits' | 'resolution'>, kind: JobKind, scale?: number): { width: number; height: number } | null {
  if (kind === 'GENERATE' || kind === 'INTERPOLATE') return null;
  const sizes = m.limits.inputSizes.filter((s) => s.kind === kind);
  const match = kind === 'SUPER_RESOLVE' ? sizes.find((s) => s.scale === scale) : sizes[0];
  if (match) return { width: match.width, height: match.height };
  if (kind === 'SUPER_RESOLVE') {
    if (!scale || m.resolution % scale !== 0) return null;
    return { width: m.resolution / scale, height: m.resolution / scale };
  }
  return { width: m.resolution, height: m.resolution };
}

/** "Resized from 300×200 to 7×7 for super-resolution ×4"; null when the image is already the size. */
export function resizeNote(
  from: { width: number; height: number },
  to: { width: number; height: number },
  kind: JobKind,
  scale?: number,
): string | null {
  if (from.width === to.width && from.height === to.height) return null;
  const purpose =
    kind === 'SUPER_RESOLVE' ? `super-resolution ×${scale ?? ''}` : kind === 'RECONSTRUCT' ? 'reconstruction' : kind === 'DENOISE' ? 'denoising' : 'this job';
  return `Resized from ${from.width}×${from.height} to ${to.width}×${to.height} for ${purpose}`;
}
