/**
 * The served model as the form needs it. The gateway reports limits, defaults and the allowed values
 * (models { limits defaults samplers … }); a gateway that predates those fields gets the fallbacks below.
 * Pure (no DOM, no React).
 */
import type { InputSize, JobKind, ModelInfo } from './types';

type MinimalModel = Pick<ModelInfo, 'name' | 'dataset' | 'resolution' | 'channels' | 'latentDim' | 'numTrainTimesteps'> & Partial<ModelInfo>;

/**
 * TODO(lead): temporary, only for a gateway without models { limits defaults … }: the minimum the form needs to
 * render. Delete once every gateway has the fields (tmp/api-contract.md); the page marks the model "provisional".
 */
export function withFallbacks(m: MinimalModel): ModelInfo {
  if (m.limits && m.defaults && m.samplers && m.timestepSpacings && m.varianceTypes && m.scales) return { ...m } as ModelInfo;
  const scales = m.scales ?? [2, 4].filter((s) => m.resolution % s === 0);
  const inputSizes: InputSize[] = [
    { kind: 'RECONSTRUCT', width: m.resolution, height: m.resolution },
    { kind: 'DENOISE', width: m.resolution, height: m.resolution },
    ...scales.map((scale): InputSize => ({ kind: 'SUPER_RESOLVE', scale, width: m.resolution / scale, height: m.resolution / scale })),
    { kind: 'INTERPOLATE', width: m.resolution, height: m.resolution },
  ];
  return {
    ...m,
    limits: m.limits ?? { maxCount: 64, maxPoints: 64, maxSteps: Math.min(1000, m.numTrainTimesteps), maxImageSteps: 16_384, maxSeed: 2 ** 31 - 1, inputSizes },
    samplers: m.samplers ?? ['DDIM', 'DDPM'],
    timestepSpacings: m.timestepSpacings ?? ['LEADING', 'TRAILING', 'LINSPACE', 'QUAD'],
    varianceTypes: m.varianceTypes ?? ['FIXEDLARGE', 'FIXEDSMALL'],
    scales,
    defaults: m.defaults ?? {
      count: 1,
      points: 8,
      latentTemperature: 1,
      scale: scales.includes(4) ? 4 : (scales[0] ?? 4),
      sampler: { kind: 'DDIM', steps: 50, eta: null, temperature: 1, timestepSpacing: 'LEADING', varianceType: 'FIXEDLARGE', clipSample: true },
    },
    provisional: true,
  };
}

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
