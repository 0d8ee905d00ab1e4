import { MODEL_ROLES, modelFileEntry, noiseConditioning, type ModelManifest, type Precision } from '@diffusevae/models';
import type { NoiseScheduleConfig } from '@diffusevae/schedulers';
import type { ModelLimits } from './validate.js';

/** What the gateway knows of the served model: its manifest.json (it loads no network itself). */
export interface ServedModel {
  manifest: ModelManifest;
  limits: ModelLimits;
  latentDim: number;
  schedule: NoiseScheduleConfig;
  /** for job manifests: name and sha256 of each file */
  identity: { name: string; dataset: string; formulation: 1 | 2; createdAt: string; files: Record<string, { path: string; sha256: string }> };
}

/** `refinerPrecision`: which refiner file the deployment's replicas run (REFINER_PRECISION); its sha256 is quoted. */
export function servedModel(manifest: ModelManifest, refinerPrecision: Precision = 'fp32'): ServedModel {
  const file = (r: (typeof MODEL_ROLES)[number]) => modelFileEntry(manifest, r, r === 'refiner' ? refinerPrecision : 'fp32');
  const { image, schedule } = manifest;
  return {
    manifest,
    limits: {
      resolution: image.resolution,
      channels: image.channels as 1 | 3,
      numTrainTimesteps: schedule.numTrainTimesteps,
      schedule: { numTrainTimesteps: schedule.numTrainTimesteps, betaStart: schedule.betaStart, betaEnd: schedule.betaEnd },
      formulation: schedule.formulation,
      noiseConditioning: noiseConditioning(manifest),
    },
    latentDim: manifest.latent.dim,
    schedule: { numTrainTimesteps: schedule.numTrainTimesteps, betaStart: schedule.betaStart, betaEnd: schedule.betaEnd },
    identity: {
      name: manifest.name,
      dataset: manifest.dataset,
      formulation: schedule.formulation,
      createdAt: manifest.createdAt,
      files: Object.fromEntries(MODEL_ROLES.map((r) => [r, { path: file(r).path, sha256: file(r).sha256 }])),
    },
  };
}
