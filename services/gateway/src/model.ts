import { MODEL_ROLES, type ModelManifest } from '@diffusevae/models';
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

export function servedModel(manifest: ModelManifest): ServedModel {
  const { image, schedule } = manifest;
  return {
    manifest,
    limits: {
      resolution: image.resolution,
      channels: image.channels as 1 | 3,
      numTrainTimesteps: schedule.numTrainTimesteps,
      formulation: schedule.formulation,
    },
    latentDim: manifest.latent.dim,
    schedule: { numTrainTimesteps: schedule.numTrainTimesteps, betaStart: schedule.betaStart, betaEnd: schedule.betaEnd },
    identity: {
      name: manifest.name,
      dataset: manifest.dataset,
      formulation: schedule.formulation,
      createdAt: manifest.createdAt,
      files: Object.fromEntries(MODEL_ROLES.map((r) => [r, { path: manifest.files[r].path, sha256: manifest.files[r].sha256 }])),
    },
  };
}
